"""Diagnostics for accepted suggestions: their findings, published with `source: "codeward"`."""

from __future__ import annotations

from collections.abc import Iterable

from lsprotocol import types

from codeward.lsp_server.documents import Snapshot, line_text, to_client_column
from codeward.safety.findings import Finding

SOURCE = "codeward"
_SEVERITY = {"high": types.DiagnosticSeverity.Error, "medium": types.DiagnosticSeverity.Warning,
             "low": types.DiagnosticSeverity.Information}


def to_diagnostic(snap: Snapshot, finding: Finding) -> types.Diagnostic:
    """One finding (1-based lines, code-point column) as an LSP diagnostic in the client's units."""
    line = max(0, finding.line - 1)
    end_line = max(line, finding.end_line - 1)
    start_col = to_client_column(snap, line, finding.col)
    end_col = to_client_column(snap, end_line, len(line_text(snap.text, end_line)))
    if end_line == line and end_col <= start_col:
        end_col = start_col + 1
    href = f"https://cwe.mitre.org/data/definitions/{finding.cwe}.html" if finding.cwe else None
    return types.Diagnostic(
        range=types.Range(types.Position(line, start_col), types.Position(end_line, end_col)),
        message=finding.message + (f" (CWE-{finding.cwe})" if finding.cwe else ""),
        severity=_SEVERITY.get(finding.severity, types.DiagnosticSeverity.Warning),
        code=finding.rule_id, code_description=types.CodeDescription(href=href) if href else None,
        source=SOURCE, related_information=_flow(snap, finding))


def _flow(snap: Snapshot, finding: Finding) -> list[types.DiagnosticRelatedInformation] | None:
    """A taint finding's path, source first, as the diagnostic's related locations."""
    if not finding.flow:
        return None
    out = []
    for step in finding.flow:
        line = max(0, step.line - 1)
        col = to_client_column(snap, line, step.col)
        where = types.Range(types.Position(line, col), types.Position(line, col + 1))
        out.append(types.DiagnosticRelatedInformation(types.Location(snap.uri, where), step.note))
    return out


class AcceptedFindings:
    """Findings of the suggestions accepted in each document (until the document closes)."""

    def __init__(self) -> None:
        self._by_uri: dict[str, dict[str, tuple[Finding, ...]]] = {}

    def add(self, uri: str, suggestion_id: str, findings: Iterable[Finding]) -> None:
        """Remember the findings of an accepted suggestion."""
        self._by_uri.setdefault(uri, {})[suggestion_id] = tuple(findings)

    def forget(self, uri: str) -> None:
        """Drop a closed document's findings."""
        self._by_uri.pop(uri, None)

    def diagnostics(self, snap: Snapshot) -> list[types.Diagnostic]:
        """Every remembered finding of `snap`'s document, as diagnostics."""
        found = self._by_uri.get(snap.uri, {})
        return [to_diagnostic(snap, f) for findings in found.values() for f in findings]
