"""Safety settings: the `[safety]` section of codeward's configuration."""

from __future__ import annotations

from dataclasses import dataclass, field

ACTIONS = ("allow", "warn", "block")
LEVELS = ("low", "medium", "high")

# bandit tests that matter for generated code; the noisy ones (B101 assert, B404 import subprocess, ...) are
# left out unless named in `bandit_include`.
CURATED_BANDIT_TESTS = (
    "B102", "B103", "B104", "B105", "B106", "B107", "B108", "B110",
    "B201", "B202",
    "B301", "B302", "B303", "B304", "B305", "B306", "B307", "B308", "B310", "B311", "B312", "B313", "B314",
    "B315", "B316", "B317", "B318", "B319", "B321", "B323", "B324",
    "B401", "B402", "B403", "B411", "B413", "B415",
    "B501", "B502", "B503", "B504", "B505", "B506", "B507", "B508", "B509",
    "B601", "B602", "B604", "B605", "B608", "B609", "B610", "B611", "B612", "B613", "B614",
    "B615", "B701", "B702", "B703", "B704",
)

# bandit tests whose generic call check fires on the safe form of an API too, where a codeward check sees the
# harmful form (a flow of untrusted data, an argument that turns the danger on): their findings are reported at low
# severity (shown, never a warning or a block under the default policy); the covering check keeps its own.
DEMOTED_BANDIT_TESTS = {
    "B301": "untrusted data into pickle, marshal or dill is CW208 (a flow); loading your own files is fine",
    "B302": "untrusted data into marshal is CW208 (a flow)",
    "B704": "untrusted data into markupsafe.Markup is CW205 (a flow); Markup of the program's own text is safe",
    "B310": "an untrusted URL into urlopen is CW207 (a flow); a URL written in the code is not a risk",
    **{f"B31{n}": "the standard library's XML parsers do not resolve external entities (Python 3.7.1+, and "
       "expat 2.4.1+ limits entity expansion); an lxml or SAX parser told to resolve them is CW120"
       for n in range(3, 10)},
}


@dataclass
class SafetySettings:
    """How suggestions are checked and what happens to those with findings."""

    enabled: bool = field(default=True, metadata={"help": "Check suggestions before they are shown",
                          "tier": "user", "project": True})
    on_high: str = field(default="block", metadata={"help": "Policy for high-severity findings",
                         "choices": ACTIONS, "tier": "user", "project": True})
    on_medium: str = field(default="warn", metadata={"help": "Policy for medium-severity findings",
                           "choices": ACTIONS, "tier": "user", "project": True})
    on_low: str = field(default="allow", metadata={"help": "Policy for low-severity findings",
                        "choices": ACTIONS, "tier": "user", "project": True})
    on_error: str = field(default="warn", metadata={"help": "What to do with a suggestion whose safety check "
                          "failed part-way (verdict error, unless the findings it did make call for a stricter action): warn shows it "
                          "with a warning, block hides it, allow shows it",
                          "choices": ("warn", "block", "allow"), "tier": "advanced", "project": True})
    on_bug_copy: str = field(default="warn", metadata={"help": "A suggestion that repeats a likely bug of the code "
                             "around the cursor (the same rule, of kind bug or subtle): warn shows it with a warning, block "
                             "hides it, allow leaves it to the severity policy", "choices": ACTIONS,
                             "tier": "advanced", "project": True})
    min_severity: str = field(default="low", metadata={"help": "Report findings at or above this severity",
                              "choices": LEVELS, "tier": "advanced", "project": True})
    min_confidence: str = field(default="low", metadata={"help": "Report findings at or above this confidence "
                                "(token-scan findings on unparsable code are 'low')", "choices": LEVELS,
                                "tier": "advanced", "project": True})
    bandit_profile: str = field(default="curated", metadata={"help": "bandit tests to run: curated (what matters "
                                "for generated code, without noisy ones like B101 assert) or all",
                                "choices": ("curated", "all"), "tier": "advanced", "project": True})
    bandit_include: list[str] = field(default_factory=list, metadata={
        "help": "Extra bandit test ids on top of the profile, e.g. B101",
        "tier": "advanced", "project": True, "project_add_only": True})
    disabled_rules: list[str] = field(default_factory=list, metadata={
        "help": "Rule ids never reported (bandit B..., codeward CW..., pyflakes F...)",
        "tier": "advanced", "project": True})
    pyflakes: bool = field(default=True, metadata={"help": "Report names a suggestion uses that are defined "
                           "nowhere (pyflakes F821)", "tier": "advanced", "project": True})
    taint: bool = field(default=True, metadata={"help": "Follow untrusted data (web requests, sockets; command "
                        "line at low confidence) into sinks such as shell commands, SQL, file paths (CW2xx)",
                        "tier": "advanced", "project": True})
    token_scan: bool = field(default=True, metadata={"help": "Scan lines that cannot be parsed even after repair "
                             "for dangerous calls (low confidence)", "tier": "advanced", "project": True})
    max_file_bytes: int = field(default=1_000_000, metadata={"help": "codeward review: larger files are reported "
                                "as errors, not checked", "min": 1, "tier": "advanced", "project": True})
