"""Findings: what every check reports, and the small helpers to rank, filter and suppress them."""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import asdict, dataclass, field, replace
from typing import Any

LEVEL_RANK = {"low": 1, "medium": 2, "high": 3}
SOURCES = ("bandit", "libcst", "pyflakes", "tokens", "taint")
# what a finding is about, declared by every rule and checker: a likely bug (the code does not do what it means),
# a subtle bug (a pattern correct code almost never has), or a security weakness
KINDS = ("bug", "subtle", "security")


@dataclass(frozen=True)
class FlowStep:
    """One step of a taint finding's path: where (1-based line, 0-based column) and what happens there."""

    line: int
    col: int
    note: str


@dataclass(frozen=True)
class Finding:
    """One problem in a checked text; lines are 1-based and inclusive, `col` is 0-based on `line`."""

    rule_id: str
    cwe: int | None
    severity: str
    confidence: str
    line: int
    end_line: int
    col: int
    message: str
    source: str
    kind: str = field(kw_only=True)  # one of KINDS, from the rule or checker that reported it
    flow: tuple[FlowStep, ...] | None = None  # a taint finding's path, source first

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"finding {self.rule_id} has kind {self.kind!r}; a rule or checker declares one of "
                             f"{', '.join(KINDS)}")

    def as_dict(self) -> dict[str, Any]:
        """The review JSON shape of a finding (DESIGN.md's contract, with `kind`); `flow` only for a taint
        finding."""
        out = asdict(self)
        if self.flow is None:
            del out["flow"]
        else:
            out["flow"] = [asdict(s) for s in self.flow]
        return out

    def shifted(self, delta: int) -> Finding:
        """The same finding `delta` lines further down (for text checked with a prefix or as a fragment)."""
        flow = None if self.flow is None else tuple(FlowStep(s.line + delta, s.col, s.note) for s in self.flow)
        return replace(self, line=self.line + delta, end_line=self.end_line + delta, flow=flow)


def rank(level: str) -> int:
    """Numeric rank of "low" | "medium" | "high" (0 for anything else)."""
    return LEVEL_RANK.get(level, 0)


_NOSEC = re.compile(r"#\s*nosec\b(?::?\s*([A-Za-z0-9_, ]+))?", re.IGNORECASE)
_RULE_ID = re.compile(r"^[A-Z]+\d+$")


def nosec_lines(text: str) -> dict[int, frozenset[str] | None]:
    """Map 1-based line -> suppressed rule ids (None = all) for each `# nosec` / `# nosec B602,CW101` comment."""
    out: dict[int, frozenset[str] | None] = {}
    if "nosec" not in text.lower():
        return out
    # Python's line endings only: str.splitlines also breaks at form feeds and other characters, which would
    # put every later comment on the wrong line
    for number, line in enumerate(text.replace("\r\n", "\n").replace("\r", "\n").split("\n"), start=1):
        match = _NOSEC.search(line)
        if not match:
            continue
        ids = frozenset(t.strip().upper() for t in re.split(r"[,\s]+", match.group(1) or "")
                        if _RULE_ID.match(t.strip().upper()))
        out[number] = ids or None
    return out


def is_suppressed(finding: Finding, nosec: dict[int, frozenset[str] | None]) -> bool:
    """True when a `# nosec` comment on any of the finding's lines covers its rule id."""
    for line in range(finding.line, finding.end_line + 1):
        if line in nosec:
            ids = nosec[line]
            if ids is None or finding.rule_id.upper() in ids:
                return True
    return False


# codeward rules that report what a bandit test reports in other circumstances: one finding per line is enough
SAME_ISSUE = {"CW110": "B608", "CW111": "B311", "CW112": "B506", "CW117": "B323", "CW118": "B502", "CW119": "B505"}


def dedupe(findings: Iterable[Finding]) -> list[Finding]:
    """Drop repeats of (rule, line) -- keeping the most confident -- and CW findings that a bandit test with
    the same meaning reports on the same line; sort by position."""
    best: dict[tuple[str, int], Finding] = {}
    for f in findings:
        key = (f.rule_id, f.line)
        old = best.get(key)
        if old is None or rank(f.confidence) > rank(old.confidence):
            best[key] = f
    kept = [f for f in best.values() if (SAME_ISSUE.get(f.rule_id, ""), f.line) not in best]
    # a flow covers the generic check of its sink: bandit's finding of the same CWE on the line goes
    flows = {(f.line, f.cwe): rank(f.confidence) for f in kept if f.flow is not None}
    kept = [f for f in kept if not (f.source == "bandit" and flows.get((f.line, f.cwe), 0) >= rank(f.confidence))]
    return sorted(kept, key=lambda f: (f.line, f.col, f.rule_id))
