"""Completion and context settings: the `[completion]` and `[context]` sections.

Default budgets come from DESIGN.md's prefill figures for the embedded model on 2 cores (~330 tokens/s at 256
prompt tokens, ~275 at 1,024; ~0.2 s when the prompt extends the previous one): at most ~1,024 prompt tokens, so a
document's first suggestion costs under ~4 s cold and the ones that follow while typing ~0.2 s.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from codeward.model.settings import EngineSettings
from codeward.safety.settings import SafetySettings

# The paper's instruction line (DESIGN.md), inserted by the `instruct` context policy.
INSTRUCTION_LINE = "#instruction: write correct code even if the previous code contains bugs"


@dataclass
class CompletionSettings:
    """How the editor asks for and shows suggestions."""

    enabled: bool = field(default=True, metadata={"help": "Offer inline completions",
                          "tier": "user", "project": True})
    debounce_ms: int = field(default=150, metadata={"help": "Wait this long after the last keystroke", "min": 0,
                             "tier": "advanced", "project": True})
    stop_preset: str = field(default="auto", metadata={"help": "Stop sequences: auto (by mode), codex "
                             "(the Codex paper's function stops), none", "choices": ("auto", "codex", "none"),
                             "tier": "advanced", "project": True})
    mode: str = field(default="auto", metadata={"help": "Suggestion shape: auto (multi-line in a new block or "
                      "function body, else single-line), single, multi", "choices": ("auto", "single", "multi"),
                      "tier": "user", "project": True})
    max_lines: int = field(default=16, metadata={"help": "Cut multi-line suggestions to this many lines",
                           "min": 1, "tier": "advanced", "project": True})
    min_chars: int = field(default=2, metadata={"help": "Drop suggestions with fewer non-blank characters",
                           "min": 0, "tier": "advanced", "project": True})
    timeout_s: float = field(default=10.0, metadata={"help": "Editor requests give up (empty result) after this "
                             "many seconds of model time", "min": 0.01, "tier": "advanced", "project": True})
    max_document_chars: int = field(default=2_000_000, metadata={"help": "No completions in documents longer "
                                    "than this (characters)", "min": 1, "tier": "advanced", "project": True})
    adaptive_debounce: bool = field(default=True, metadata={"help": "Automatic triggers wait 1.5x the user's "
                                    "median time between keystrokes, between half and twice debounce_ms "
                                    "(explicit invocation never waits)", "tier": "advanced", "project": True})
    cold_tokens: int = field(default=256, metadata={"help": "A request whose prompt has more tokens than this "
                             "not yet in the model's cache is answered from a short context (cold_prefix_tokens) "
                             "while the full one is prefilled in the background; 0 = never", "min": 0,
                             "tier": "advanced", "project": True})
    cold_prefix_tokens: int = field(default=256, metadata={"help": "Prefix budget of that short context (its "
                                    "suffix gets at most 32 tokens, and it has no snippets of other documents)",
                                    "min": 16, "tier": "advanced", "project": True})
    prefill_delay_ms: int = field(default=400, metadata={"help": "After this pause in typing (and on opening a "
                                  "document), evaluate the context at the edit into the model's cache in the "
                                  "background; 0 = no background prefill", "min": 0,
                                  "tier": "advanced", "project": True})
    prefetch: bool = field(default=True, metadata={"help": "At a move (an edit on another line than the last "
                           "one), ask the model at the edit at once, before the editor does: the keystrokes that type "
                           "forward from it are answered from it (single-line places only)",
                           "tier": "advanced", "project": True})
    prefetch_on_miss: bool = field(default=True, metadata={"help": "When typing leaves the shown suggestion "
                                   "(another character than its next one, or past its end), ask the model at "
                                   "once rather than after the debounce, as at a move (single-line places only)",
                                   "tier": "advanced", "project": True})
    token_healing: bool = field(default=True, metadata={"help": "Take the prompt's last token before the cursor "
                                "off (part of a word, an operator, indentation: short, printable, no line break) "
                                "and make the suggestion start with its text, so the model completes it in its own "
                                "tokens (llamacpp engine; the others ignore it)",
                                "tier": "advanced", "project": True})
    stats_log: bool = field(default=True, metadata={"help": "At shutdown, append the session's counts and "
                            "timings (never code) to $XDG_STATE_HOME/codeward/stats.jsonl",
                            "tier": "advanced", "project": True})
    cache_size: int = field(default=64, metadata={"help": "Suggestions kept for typing forward without a new "
                            "model call (per server)", "min": 0, "tier": "advanced", "project": True})


@dataclass
class ContextSettings:
    """What the model reads around the cursor, under token budgets."""

    prefix_tokens: int = field(default=768, metadata={"help": "Token budget for text before the cursor", "min": 16,
                               "tier": "advanced", "project": True})
    suffix_tokens: int = field(default=128, metadata={"help": "Token budget for text after the cursor (FIM and "
                               "chat templates only)", "min": 0, "tier": "advanced", "project": True})
    suffix_scope: str = field(default="line", metadata={"help": "What of the text after the cursor the model "
                              "reads: line (the rest of the cursor's line: typing never re-evaluates lines below), "
                              "file (up to suffix_tokens of what follows), none", "choices": ("line", "file", "none"),
                              "tier": "advanced", "project": True})
    policy: str = field(default="none", metadata={"help": "Context policy for likely-buggy context: none, "
                        "instruct (add the paper's instruction line), exclude (leave out snippets with likely bugs, "
                        "and replace likely-buggy lines before the cursor by a marker comment)",
                        "choices": ("none", "instruct", "exclude"), "tier": "user", "project": True})
    instruct_anchor: str = field(default="function", metadata={"help": "Where the instruct policy puts its line: "
                                 "function (before the function that holds the cursor), task (before the start of "
                                 "the target task, when the request names it; eval misalignment)",
                                 "choices": ("function", "task"), "tier": "advanced", "project": True})
    snippet_tokens: int = field(default=128, metadata={"help": "Token budget for snippets from other open "
                                "documents of the same language", "min": 0,
                                "tier": "advanced", "project": True})
    max_snippets: int = field(default=2, metadata={"help": "Most snippets taken from other open documents",
                              "min": 0, "tier": "advanced", "project": True})
    snippet_lines: int = field(default=10, metadata={"help": "Lines per snippet window from other documents",
                               "min": 1, "tier": "advanced", "project": True})
    diagnostics: bool = field(default=True, metadata={"help": "Editor: publish likely bugs in the code around the "
                              "cursor (what the model reads) as diagnostics: suggestions may imitate them",
                              "tier": "user", "project": True})
    diagnostics_delay_ms: int = field(default=400, metadata={"help": "Editor: the pause in typing after which the "
                                      "code around the cursor is checked for likely bugs", "min": 0,
                                      "tier": "advanced", "project": True})


@dataclass
class PipelineSettings:
    """The settings sections the completion pipeline reads (`Settings.pipeline()` makes one)."""

    engine: EngineSettings = field(default_factory=EngineSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    safety: SafetySettings = field(default_factory=SafetySettings)
