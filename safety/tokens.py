"""Last resort for lines no parser could take: scan the text for dangerous calls (findings at low confidence).

The ids are those of the bandit test (or CW rule) that would have reported the call had the code parsed, so
suppressions and policy work the same way.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from codeward.safety.findings import Finding

KIND = "security"  # the scan looks only for dangerous calls (the bandit tests and CW110 it stands in for)


@dataclass(frozen=True)
class TokenPattern:
    """A dangerous call recognised by a regular expression on one logical line."""

    rule_id: str
    cwe: int
    severity: str
    pattern: re.Pattern[str]
    message: str
    unless: re.Pattern[str] | None = None  # the line is fine when this also matches


def _p(text: str) -> re.Pattern[str]:
    return re.compile(text)


PATTERNS: tuple[TokenPattern, ...] = (
    TokenPattern("B605", 78, "high", _p(r"\bos\s*\.\s*(?:system|popen[234]?|spawnl?p?e?)\s*\(|\bcommands\.getoutput\b"),
                 "Starting a process with a shell (os.system/os.popen): possible command injection"),
    TokenPattern("B602", 78, "high", _p(r"\bsubprocess\s*\.\s*\w+\s*\((?=.*\bshell\s*=\s*True\b)"),
                 "subprocess call with shell=True: possible command injection"),
    TokenPattern("B604", 78, "medium", _p(r"\bshell\s*=\s*True\b"),
                 "Function call with shell=True: possible command injection", _p(r"\bsubprocess\s*\.")),
    TokenPattern("B307", 78, "medium", _p(r"(?<![\w.])eval\s*\("),
                 "Use of eval(): possibly insecure; consider ast.literal_eval"),
    TokenPattern("B102", 78, "medium", _p(r"(?<![\w.])exec(?:\s*\(|\s+(?![=(\[.:,)])[\w'\"])"),
                 "Use of exec(): runs arbitrary code"),
    TokenPattern("B301", 502, "medium",
                 _p(r"\b(?:c?[Pp]ickle|dill|shelve|jsonpickle)\s*\.\s*(?:loads?|Unpickler|open|decode)\s*\(|"
                    r"\bread_pickle\s*\("),
                 "Deserialising with pickle (or a module that wraps it) can run code from untrusted data"),
    TokenPattern("B302", 502, "medium", _p(r"\bmarshal\s*\.\s*loads?\s*\("),
                 "Deserialisation with marshal is possibly dangerous"),
    TokenPattern("B506", 20, "medium", _p(r"\byaml\s*\.\s*(?:load|unsafe_load|load_all)\s*\("),
                 "yaml.load can build arbitrary objects; use yaml.safe_load", _p(r"Safe(?:Loader)?\b")),
    TokenPattern("B324", 327, "high",
                 _p(r"\bhashlib\s*\.\s*(?:md5|sha1|md4|sha)\s*\(|\bhashlib\s*\.\s*new\s*\(\s*['\"](?:md5|sha1|md4)"),
                 "Weak hash (MD5/SHA1) for security; use SHA-256 or pass usedforsecurity=False",
                 _p(r"usedforsecurity\s*=\s*False")),
    TokenPattern("B311", 330, "low",
                 _p(r"\brandom\s*\.\s*(?:random|randint|randrange|choices?|uniform|sample|shuffle|seed|getrandbits|"
                    r"randbytes|triangular)\s*\("),
                 "The random module is not suitable for security purposes; use secrets"),
    TokenPattern("CW110", 89, "medium",
                 _p(r"\.\s*execute(?:many)?\s*\(\s*(?:[rRuUbBfF]{0,2}(?:'[^']*'|\"[^\"]*\")\s*(?:%|\+|\.format\b)|"
                    r"[fF]['\"][^'\"]*\{)"),
                 "SQL built with string formatting is passed to execute(); use query parameters"),
    TokenPattern("B501", 295, "high", _p(r"\bverify\s*=\s*False\b"),
                 "Request with certificate verification disabled (verify=False)"),
)


def strip_comment(line: str) -> str:
    """The line without its trailing comment (a `#` outside quotes)."""
    if "#" not in line:
        return line
    quote: str | None = None
    i = 0
    while i < len(line):
        ch = line[i]
        if quote:
            if ch == "\\":
                i += 2
                continue
            if ch == quote:
                quote = None
        elif ch in "'\"":
            quote = ch
        elif ch == "#":
            return line[:i]
        i += 1
    return line


def scan_lines(lines: list[str], numbers: Iterable[int]) -> list[Finding]:
    """Findings for the dangerous calls on the given 1-based line numbers of `lines` (confidence low).

    A call may continue on the next scanned lines (`Popen(cmd,` / `shell=True)`): each line is matched together
    with up to four following scanned lines, and a match counts for the line it starts on.
    """
    wanted = sorted({n for n in numbers if 1 <= n <= len(lines)})
    present = set(wanted)
    out: list[Finding] = []
    for number in wanted:
        first = strip_comment(lines[number - 1])
        if not first.strip():
            continue
        more = [strip_comment(lines[n - 1]).strip() for n in range(number + 1, number + 5) if n in present]
        text = " ".join([first, *more])
        for tp in PATTERNS:
            match = tp.pattern.search(text)
            if match and match.start() < len(first) and not (tp.unless and tp.unless.search(text)):
                out.append(Finding(tp.rule_id, tp.cwe, tp.severity, "low", number, number, match.start(),
                                   tp.message + " (found by a token scan: the code around it does not parse)",
                                   "tokens", kind=KIND))
    return out


def patterns_table() -> str:
    """Markdown table of the token-scan patterns (for the safety rules page)."""
    rows = ["| id | CWE | severity | what the token scan looks for |", "|---|---|---|---|"]
    for tp in PATTERNS:
        rows.append(f"| {tp.rule_id} | CWE-{tp.cwe} | {tp.severity} | {tp.message} |")
    return "\n".join(rows)
