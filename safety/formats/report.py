"""Review reports: one entry per input file, rendered as text or as DESIGN.md's review JSON."""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from codeward.safety.findings import Finding, rank


@dataclass
class FileReport:
    """The outcome for one input: its findings, or the error that kept it from being checked."""

    path: str
    error: str | None = None
    findings: list[Finding] = field(default_factory=list)


def summary(reports: Sequence[FileReport]) -> dict[str, int]:
    """Counts for the review JSON's `summary`."""
    return {"files": len(reports), "findings": sum(len(r.findings) for r in reports),
            "errors": sum(1 for r in reports if r.error is not None)}


def to_json(reports: Sequence[FileReport], disabled_by_project: Mapping[str, Any] | None = None) -> dict[str, Any]:
    """The review JSON: {"files": [{"path", "error", "findings": [...]}], "summary": {...}}; the summary's
    `disabled_by_project` holds the checks the project's config file weakened ({key: value}, {} when none)."""
    return {"files": [{"path": r.path, "error": r.error, "findings": [f.as_dict() for f in r.findings]}
                      for r in reports],
            "summary": {**summary(reports), "disabled_by_project": dict(disabled_by_project or {})}}


def render_json(reports: Sequence[FileReport], disabled_by_project: Mapping[str, Any] | None = None) -> str:
    """The review JSON as indented text."""
    return json.dumps(to_json(reports, disabled_by_project), indent=2) + "\n"


def weakened_header(disabled_by_project: Mapping[str, Any], project_file: str | None = None) -> str:
    """The text report's first line when the project's config file weakened checks ('' when it did not)."""
    if not disabled_by_project:
        return ""
    where = f" ({project_file})" if project_file else ""
    return (f"note: the project's config file{where} weakens these checks: "
            + ", ".join(f"{k} = {v!r}" for k, v in disabled_by_project.items()))


def render_text(reports: Sequence[FileReport], disabled_by_project: Mapping[str, Any] | None = None,
                project_file: str | None = None) -> str:
    """One `path:line:col: RULE [severity/confidence] message (CWE-n) [source, kind]` line per finding, errors, a
    summary; first a note of the checks the project's config file weakened, if any."""
    header = weakened_header(disabled_by_project or {}, project_file)
    out = [header] if header else []
    for r in reports:
        if r.error is not None:
            out.append(f"{r.path}: error: {r.error}")
        for f in r.findings:
            cwe = f" (CWE-{f.cwe})" if f.cwe else ""
            out.append(f"{r.path}:{f.line}:{f.col + 1}: {f.rule_id} [{f.severity}/{f.confidence}] "
                       f"{f.message}{cwe} [{f.source}, {f.kind}]")
            if f.flow:
                out.append("    flow: " + " -> ".join(f"{s.note} ({s.line}:{s.col + 1})" for s in f.flow))
    s = summary(reports)
    checked = s["files"] - s["errors"]
    out.append(f"{checked} file(s) checked, {s['findings']} finding(s), {s['errors']} file(s) not checked (errors)")
    return "\n".join(out) + "\n"


def exit_code(reports: Sequence[FileReport], fail_on: str) -> int:
    """2 if any input error, else 1 if a finding is at or above `fail_on`, else 0 (DESIGN.md's contract)."""
    if any(r.error is not None for r in reports):
        return 2
    if any(rank(f.severity) >= rank(fail_on) for r in reports for f in r.findings):
        return 1
    return 0
