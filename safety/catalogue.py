"""Every codeward rule id in one place: the libcst rule classes and the rules that are not classes (taint CW2xx,
built from the sinks; the diagnostics' CW13x), so "Why?", SARIF, `disabled_rules` and the docs know each id."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from codeward.safety.rules import Rule


@dataclass(frozen=True)
class RuleInfo:
    """What codeward says about one of its rule ids: its message, kind, CWE and levels, and the checker behind it."""

    id: str
    name: str  # a readable identifier (SARIF's rule name)
    message: str
    kind: str  # one of findings.KINDS
    cwe: int | None
    severity: str
    confidence: str  # a level, or a short text where it depends on the finding (taint: the source)
    source: str  # libcst | taint | diagnostics
    doc: str = ""  # what the rule looks for, for "Why?"


# the taint rules' readable names (SARIF), by id; the rest of each entry comes from its first sink
TAINT_NAMES = {
    "CW201": "PathTraversal", "CW202": "CommandInjection", "CW203": "CodeInjection", "CW204": "SqlInjection",
    "CW205": "CrossSiteScripting", "CW206": "OpenRedirect", "CW207": "ServerSideRequestForgery",
    "CW208": "UnsafeDeserialisation", "CW209": "LogInjection", "CW210": "RegexInjection", "CW211": "LdapInjection",
    "CW212": "XPathInjection", "CW213": "HeaderInjection", "CW214": "UnrestrictedUpload",
    "CW215": "ErrorTextExposure",
}

# the diagnostics' rules (codeward.diagnostics): bugs shown by running or comparing the code, not by a pattern
DIAGNOSTICS = (
    RuleInfo("CW131", "FailingDocstringExample", "A docstring example fails: the function does not give the result "
             "its own documentation shows", "bug", None, "medium", "high", "diagnostics",
             "Runs the examples in the function's docstring and compares their results with the ones shown."),
    RuleInfo("CW132", "ConsensusDisagrees", "Independent versions of this function disagree with it (consensus): "
             "on some inputs most of them give another result", "bug", None, "medium", "medium", "diagnostics",
             "Runs independently written versions of the function on the same inputs as the function and "
             "reports where the function disagrees with most of them."),
    RuleInfo("CW133", "LikelihoodSuspect", "A likelihood suspect: the model finds this line unusually unlikely "
             "for the function around it", "subtle", None, "low", "low", "diagnostics",
             "Scores the function's lines with the model: a line it finds much less likely than the alternatives "
             "it prefers there is a place to look for a bug (low severity, a hint)."),
)


def _taint_entries() -> list[RuleInfo]:
    """One entry per taint rule, from the first sink of each (its CWE, severity and message)."""
    from codeward.safety.taint.specs import ERROR_CWE, KIND, rule_ids

    out = []
    for rid, sink in rule_ids().items():
        confidence = "high (web, socket) / low (command line)" if sink.cli else "high (web, socket)"
        data = "exception text inside a route handler" if sink.cwe == ERROR_CWE else \
            f"untrusted data (a web request, a socket{', the command line' if sink.cli else ''})"
        doc = (f"Follows {data} through the file and reports where it reaches {sink.what} with nothing in "
               "between that makes it harmless.")
        out.append(RuleInfo(rid, TAINT_NAMES.get(rid, rid), sink.message, KIND, sink.cwe, sink.severity,
                            confidence, "taint", doc))
    return out


@functools.cache
def _entries() -> tuple[tuple[str, RuleInfo], ...]:
    """The catalogue's entries, built once (from constant specs): "Why?" and SARIF ask per diagnostic."""
    return tuple(sorted((e.id, e) for e in (*_taint_entries(), *DIAGNOSTICS)))


def catalogue() -> dict[str, RuleInfo]:
    """The rules that are not libcst classes (taint, diagnostics), by id in id order."""
    return dict(_entries())


def _from_class(cls: type[Rule]) -> RuleInfo:
    """A libcst rule class as an entry (read on each call, so the class stays the one source)."""
    doc = " ".join((cls.__doc__ or "").split())
    return RuleInfo(cls.id, cls.__name__, cls.message, cls.kind, cls.cwe, cls.severity, cls.confidence, "libcst",
                    doc)


def known_rules() -> dict[str, RuleInfo]:
    """Every codeward rule id (libcst rules and the catalogue), in id order."""
    from codeward.safety.rules import all_rules

    out = {rid: _from_class(cls) for rid, cls in all_rules().items()}
    out.update(catalogue())
    return dict(sorted(out.items()))


def rule_info(rule_id: str) -> RuleInfo | None:
    """What codeward knows about `rule_id` (any case), or None for an id that is not codeward's own."""
    from codeward.safety.rules import all_rules

    rid = rule_id.strip().upper()
    cls = all_rules().get(rid)
    return _from_class(cls) if cls is not None else catalogue().get(rid)


def rules_table() -> str:
    """The Markdown table of codeward's own rules (libcst rules and the catalogue), for the safety rules page."""
    rows = ["| id | CWE | severity | confidence | kind | message |", "|---|---|---|---|---|---|"]
    for rid, info in known_rules().items():
        cwe = f"CWE-{info.cwe}" if info.cwe else ""
        rows.append(f"| {rid} | {cwe} | {info.severity} | {info.confidence} | {info.kind} | {info.message} |")
    return "\n".join(rows)
