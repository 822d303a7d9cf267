"""Prompt templates per model family: fill-in-the-middle (FIM), prefix-only and chat.

A template turns the text before and after the cursor into the exact prompt a family was trained on, and names the
stop strings that family emits when the middle is done. Suffix-first ordering is used where the family documents it
(Codestral): while the user types, the prefix then changes last, so consecutive prompts share a longer cached prefix.
A prompt is rendered as segments: sentinels (special tokens) apart from user text, which engines always tokenize as
plain text, so a buffer that holds `<|endoftext|>` cannot inject a control token. Snippets of other files reach
Qwen2.5-Coder in its repository-level format (`<|repo_name|>`, `<|file_sep|>`), other families as comment text at
the head of the prefix; the chat template renders through the model's own chat template when it has one.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import NamedTuple

from codeward.model.base import EngineInfo, Prompt, Segment
from codeward.model.chat_format import ChatFormat, model_chat_format

AUTO = "auto"
CURSOR_MARK = "<CURSOR>"
CHAT_SYSTEM = "You are a code completion engine. You fill in code at a cursor and reply with code only."
CHAT_INSTRUCTION = (f"Fill in the code at the cursor, marked {CURSOR_MARK} below. Reply with only the code that goes "
                    f"at {CURSOR_MARK}, in one fenced code block; do not repeat the code around it.")
ANSWER_START = "```python\n"  # the chat answer is primed with the opening fence, so code comes first
NEUTRAL_REPO = "repo"  # the repository name when the workspace's is unknown
UNNAMED_FILE = "untitled"  # the current file's path when the request has none
_SPECIAL_LOOKING = re.compile(r"<[^<>\s]+>|\[[A-Z_]+\]")  # stop strings that name tokens (not "```")


class FileSnippet(NamedTuple):
    """Text from another file of the workspace, with that file's path (relative to the workspace if known)."""

    path: str
    text: str


@dataclass(frozen=True)
class RepoFiles:
    """Snippets of other files and the current file's path: what a repository-level prompt names."""

    snippets: tuple[FileSnippet, ...]
    path: str = ""  # the current file's path
    repo: str = ""  # the workspace (repository) name; "" for a neutral one


def comment_snippets(snippets: Sequence[FileSnippet]) -> str:
    """Snippets as comment blocks headed by their file path, one blank line after each (the prefix's head for
    families without a repository-level format)."""
    out = []
    for s in snippets:
        body = "\n".join("# " + line if line else "#" for line in s.text.splitlines())
        out.append(f"# Path: {s.path}\n{body}\n\n")
    return "".join(out)


def _sp(text: str) -> Segment:
    return Segment(text, True)


def _user(text: str) -> Segment:
    return Segment(text, False)


def _fim(pre: str, suf: str, mid: str) -> Callable[[str, str], Prompt]:
    """Prefix-suffix-middle sentinels around the user's prefix and suffix."""
    return lambda p, s: Prompt.of((_sp(pre), _user(p), _sp(suf), _user(s), _sp(mid)))


@dataclass(frozen=True)
class PromptTemplate:
    """How one model family wants a prefix (and suffix) rendered, and the stop strings it needs."""

    name: str
    kind: str  # "fim" | "prefix" | "chat"
    stop: tuple[str, ...]
    fmt: Callable[[str, str], Prompt] = lambda prefix, suffix: Prompt.plain(prefix)
    suffix_first: bool = False
    fim_tokens: tuple[str, ...] = ()  # special tokens whose presence in a tokenizer identifies the family
    repo_fmt: Callable[[str, str, RepoFiles], Prompt] | None = None  # the family's repository-level format

    def render_segments(self, prefix: str, suffix: str = "", files: RepoFiles | None = None) -> Prompt:
        """The prompt as sentinels and user text; prefix ignores the suffix, chat ends where the answer starts.
        Snippets in `files` go into the family's repository-level format, else as comments before the prefix."""
        if files is not None and files.snippets:
            if self.repo_fmt is not None:
                return self.repo_fmt(prefix, suffix, files)
            prefix = comment_snippets(files.snippets) + prefix
        if self.kind == "prefix":
            return Prompt.plain(prefix)
        return self.fmt(prefix, suffix)

    def render(self, prefix: str, suffix: str = "", files: RepoFiles | None = None) -> str:
        """The full prompt as plain text (for display); engines should get `render_segments`."""
        return self.render_segments(prefix, suffix, files).text

    @property
    def special_strings(self) -> frozenset[str]:
        """The family's sentinels, FIM tokens and token-like stop strings (to neutralise in user text)."""
        files = RepoFiles((FileSnippet("a.py", "a"),), "b.py", "r")
        rendered = (*self.render_segments("p", "s").sentinels, *self.render_segments("p", "s", files).sentinels)
        stops = (s for s in self.stop if _SPECIAL_LOOKING.fullmatch(s))
        return frozenset((*rendered, *self.fim_tokens, *stops))


def _qwen_repo(prefix: str, suffix: str, files: RepoFiles, suffix_first: bool = False) -> Prompt:
    """Qwen2.5-Coder's repository-level FIM: the repo's name, each snippet under its path, then the current file.
    Everything but the last file's prefix end and suffix stays put while the user types (the KV cache holds)."""
    sep = _sp("<|file_sep|>")
    parts = [_sp("<|repo_name|>"), _user(f"{files.repo or NEUTRAL_REPO}\n")]
    for snippet in files.snippets:
        text = snippet.text.rstrip("\n")
        parts += [sep, _user(f"{snippet.path}\n{text}\n")]
    parts += [sep, _user(f"{files.path or UNNAMED_FILE}\n")]
    if suffix_first:
        parts += [_sp("<|fim_suffix|>"), _user(suffix), _sp("<|fim_prefix|>"), _user(prefix), _sp("<|fim_middle|>")]
    else:
        parts += [_sp("<|fim_prefix|>"), _user(prefix), _sp("<|fim_suffix|>"), _user(suffix), _sp("<|fim_middle|>")]
    return Prompt.of(parts)


def chat_user_message(prefix: str, suffix: str) -> str:
    """The user's turn of a chat prompt: the instruction and the code around the cursor, marked."""
    return f"{CHAT_INSTRUCTION}\n\n```python\n{prefix}{CURSOR_MARK}{suffix}\n```"


def _chatml(system: str, user: str) -> Prompt:
    """A ChatML conversation primed with the opening fence of the answer (the fallback for models without a chat
    template of their own)."""
    start, end = _sp("<|im_start|>"), _sp("<|im_end|>")
    return Prompt.of((start, _user(f"system\n{system}"), end, _user("\n"),
                      start, _user(f"user\n{user}"), end, _user("\n"),
                      start, _user(f"assistant\n{ANSWER_START}")))


def _chat(prefix: str, suffix: str) -> Prompt:
    """A ChatML conversation asking for the code at the cursor."""
    return _chatml(CHAT_SYSTEM, chat_user_message(prefix, suffix))


def _model_chat(chat: ChatFormat) -> Callable[[str, str], Prompt]:
    """The chat prompt through the model's own chat template, primed with the opening fence of the answer."""
    return lambda prefix, suffix: chat.render(CHAT_SYSTEM, chat_user_message(prefix, suffix), ANSWER_START)


def _own_chat(info: EngineInfo) -> ChatFormat | None:
    """`info`'s own chat template, compiled; None for a model without a usable one."""
    if not info.chat_template:
        return None
    return model_chat_format(info.chat_template, info.special_tokens, eos_token=info.extra.get("eos_token", ""),
                             model=info.model)


def instruction_prompt(info: EngineInfo, system: str, user: str) -> tuple[Prompt, str]:
    """(prompt, how it was rendered) for a request written as an instruction rather than code at a cursor: the
    model's own chat template when it has a usable one ("model"), else ChatML ("chatml"); primed with the
    opening fence of the answer, so the chat template's stops end it."""
    chat = _own_chat(info)
    if chat is None:
        return _chatml(system, user), "chatml"
    return chat.render(system, user, ANSWER_START), "model"


def bind_chat(template: PromptTemplate, info: EngineInfo) -> PromptTemplate:
    """A chat template that renders through `info`'s own chat template when the model has a usable one; any
    other template (or a model without one) unchanged: ChatML is the fallback."""
    if template.kind != "chat":
        return template
    chat = _own_chat(info)
    return template if chat is None else replace(template, fmt=_model_chat(chat))


_TEMPLATES: dict[str, PromptTemplate] = {t.name: t for t in (
    # StarCoder / StarCoder2 (also SantaCoder-style tokenizers): prefix-suffix-middle.
    PromptTemplate("starcoder", "fim", ("<|endoftext|>", "<file_sep>", "<fim_prefix>", "<fim_suffix>",
                                        "<fim_middle>"),
                   _fim("<fim_prefix>", "<fim_suffix>", "<fim_middle>"),
                   fim_tokens=("<fim_prefix>", "<fim_suffix>", "<fim_middle>")),
    # CodeLlama: sentencepiece sentinels with the spacing of Meta's reference infilling prompt.
    PromptTemplate("codellama", "fim", ("<EOT>", "</s>"),
                   lambda p, s: Prompt.of((_sp("<PRE>"), _user(f" {p} "), _sp("<SUF>"), _user(f"{s} "),
                                           _sp("<MID>"))),
                   fim_tokens=("<PRE>", "<SUF>", "<MID>")),
    # DeepSeek-Coder: full-width bars and U+2581 in the sentinel names.
    PromptTemplate("deepseek", "fim", ("<|EOT|>", "<｜end▁of▁sentence｜>", "<｜fim▁begin｜>"),
                   _fim("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"),
                   fim_tokens=("<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>")),
    # Qwen2.5-Coder.
    PromptTemplate("qwen", "fim", ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>", "<|im_end|>",
                                   "<|fim_prefix|>"),
                   _fim("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"),
                   fim_tokens=("<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>"), repo_fmt=_qwen_repo),
    # Qwen2.5-Coder with the suffix first (suffix-prefix-middle): measured for the editor's KV reuse, chosen by
    # name only (Qwen documents prefix-suffix-middle; docs/benchmarks.md#suffix-handling).
    PromptTemplate("qwen-spm", "fim", ("<|endoftext|>", "<|fim_pad|>", "<|file_sep|>", "<|repo_name|>",
                                       "<|im_end|>", "<|fim_prefix|>"),
                   lambda p, s: Prompt.of((_sp("<|fim_suffix|>"), _user(s), _sp("<|fim_prefix|>"), _user(p),
                                           _sp("<|fim_middle|>"))), suffix_first=True,
                   repo_fmt=lambda p, s, files: _qwen_repo(p, s, files, suffix_first=True)),
    # Codestral: suffix first, then prefix; the middle follows the prefix directly.
    PromptTemplate("codestral", "fim", ("</s>", "[SUFFIX]", "[PREFIX]"),
                   lambda p, s: Prompt.of((_sp("[SUFFIX]"), _user(s), _sp("[PREFIX]"), _user(p))), suffix_first=True,
                   fim_tokens=("[SUFFIX]", "[PREFIX]")),
    PromptTemplate("prefix", "prefix", ()),
    PromptTemplate("chat", "chat", ("```", "<|im_end|>", "<|endoftext|>"), _chat),
)}

_ALIASES = {"starcoder2": "starcoder", "santacoder": "starcoder", "code-llama": "codellama",
            "deepseek-coder": "deepseek", "qwen2.5-coder": "qwen", "qwen-coder": "qwen", "mistral-fim": "codestral",
            "none": "prefix", "plain": "prefix"}

# Model-name patterns (lower-cased name or path), most specific first.
_NAME_PATTERNS: tuple[tuple[str, str], ...] = (
    (r"codestral", "codestral"),
    (r"starcoder|santacoder", "starcoder"),
    (r"code[-_]?llama", "codellama"),
    (r"deepseek[-_]?coder", "deepseek"),
    (r"qwen[\w.\-]*coder", "qwen"),
)


def template_names() -> tuple[str, ...]:
    """Names `get_template` accepts (aliases aside), plus 'auto' for `select_template`."""
    return tuple(_TEMPLATES)


def get_template(name: str) -> PromptTemplate:
    """The template called `name` (case-insensitive, aliases allowed); ValueError lists the known names."""
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    try:
        return _TEMPLATES[key]
    except KeyError:
        known = ", ".join((*_TEMPLATES, AUTO))
        raise ValueError(f"unknown prompt template {name!r}; known templates: {known} "
                         "(set [engine] template or --template)") from None


def detect_template(info: EngineInfo) -> PromptTemplate:
    """Detect the family from the tokenizer's FIM special tokens, then the model name; else prefix-only."""
    tokens = info.special_tokens
    for template in _TEMPLATES.values():
        if template.fim_tokens and all(t in tokens or f"▁{t}" in tokens for t in template.fim_tokens):
            return template
    name = info.model.lower()
    for pattern, family in _NAME_PATTERNS:
        if re.search(pattern, name):
            return _TEMPLATES[family]
    return _TEMPLATES["prefix"]


def all_special_strings() -> frozenset[str]:
    """Every template's special strings: what a remote engine must keep from reaching the server as tokens."""
    return frozenset().union(*(t.special_strings for t in _TEMPLATES.values()))


def select_template(name: str, info: EngineInfo) -> PromptTemplate:
    """`name` from config, or for 'auto' the family detected from `info`; 'chat' uses the model's own chat
    template when it has one."""
    if name.strip().lower() in (AUTO, ""):
        return detect_template(info)
    return bind_chat(get_template(name), info)
