"""Diagnostics for accepted suggestions: their findings, published with `source: "codeward"`, following the
document's edits until the text they flag is gone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from lsprotocol import types

from codeward.completion.text import EOL, split_lines
from codeward.completion.types import Suggestion
from codeward.lsp_server.documents import Snapshot, line_text, to_client_column
from codeward.safety.findings import Finding

SOURCE = "codeward"
_SEVERITY = {"high": types.DiagnosticSeverity.Error, "medium": types.DiagnosticSeverity.Warning,
             "low": types.DiagnosticSeverity.Information}
UNSEEN_EDITS = 4  # edits after an accept within which the suggestion's text must show up in the document


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


def follow(line: int, change: Any, col: int | None = None) -> tuple[int, ...]:
    """Where 0-based `line` may be after one LSP content change, likeliest first: () when the change deleted it;
    for a line the change cuts, where its head (before the change) or tail (after it) went. With `col` (the
    flagged column, code points ~ the client's units) the part holding it decides; without, every candidate comes
    and the caller checks the text. A whole-document change leaves `line` as it is (the caller checks the text)."""
    rng = getattr(change, "range", None)
    if rng is None:
        return (line,)
    start, end = rng.start.line, rng.end.line
    added = len(EOL.findall(change.text))
    head, tail = (start,), (start + added,)
    if line < start:
        return (line,)
    if line > end:
        return (line + added - (end - start),)
    if start < line < end:
        return ()
    if line == start == end:
        if not added:
            return head
        if col is None:
            return tail + head if rng.start.character == 0 else head + tail
        return tail if col >= rng.end.character else head
    if line == start:
        return head if col is None or col < rng.start.character else ()
    return tail if col is None or col >= rng.end.character else ()


def _moved(finding: Finding, line: int) -> Finding:
    return finding.shifted(line - (finding.line - 1))


def _anchor(suggestion: Suggestion, finding: Finding) -> str:
    """The flagged line's text as the accepted suggestion wrote it (stripped; "" when it is not one of its lines)."""
    lines = split_lines(suggestion.insert_text)
    index = finding.line - 1 - suggestion.range.line
    return lines[index].strip() if 0 <= index < len(lines) else ""


@dataclass
class _Accepted:
    """An accepted suggestion's finding (lines of the document as it is now) and the text it flags."""

    finding: Finding
    anchor: str
    seen: bool = False  # the document showed the flagged text at its line: edits move it from then on
    edits_left: int = UNSEEN_EDITS  # edits an unseen finding waits for its text (the accept may come first)

    def present(self, lines: list[str]) -> bool:
        line = self.finding.line - 1
        return 0 <= line < len(lines) and self.anchor in lines[line]

    def track(self, changes: Sequence[Any], lines: list[str]) -> bool:
        """Move along `changes` (already applied: `lines` is the new text); False when the flagged text is gone."""
        if not self.seen:  # its lines are those of the document with the suggestion in, which may not be yet
            self.seen = self.present(lines)
            self.edits_left -= 1
            return self.seen or self.edits_left > 0
        line = self.finding.line - 1
        for change in changes:
            candidates = follow(line, change)
            if not candidates:
                return False
            line = candidates[0] if len(changes) > 1 else next(
                (c for c in candidates if 0 <= c < len(lines) and self.anchor in lines[c]), candidates[0])
        self.finding = _moved(self.finding, line)
        return self.present(lines)


class AcceptedFindings:
    """Findings of the suggestions accepted in each document: they follow the document's edits (lines inserted or
    deleted above them move them) and go away when the text they flag is gone, or the document closes."""

    def __init__(self) -> None:
        self._by_uri: dict[str, dict[str, list[_Accepted]]] = {}

    def add(self, uri: str, suggestion: Suggestion) -> None:
        """Remember the findings of an accepted suggestion (lines of the document with the suggestion in)."""
        self._by_uri.setdefault(uri, {})[suggestion.id] = [_Accepted(f, _anchor(suggestion, f))
                                                            for f in suggestion.findings]

    def forget(self, uri: str) -> None:
        """Drop a closed document's findings."""
        self._by_uri.pop(uri, None)

    def edited(self, uri: str, changes: Sequence[Any], text: str | None) -> bool:
        """Follow a `didChange` (its changes already applied: `text` is the document now); True when what
        `diagnostics` shows for the document changed (a finding moved, appeared or went away)."""
        found = self._by_uri.get(uri)
        if not found or text is None:
            return False
        lines, changed = split_lines(text), False
        for suggestion_id, tracked in list(found.items()):
            before = [(t.seen, t.finding.line) for t in tracked]
            kept = [t for t in tracked if t.track(changes, lines)]
            changed |= len(kept) != len(tracked) or before != [(t.seen, t.finding.line) for t in kept]
            if kept:
                found[suggestion_id] = kept
            else:
                del found[suggestion_id]
        return changed

    def diagnostics(self, snap: Snapshot) -> list[types.Diagnostic]:
        """The remembered findings of `snap`'s document whose flagged text is there, as diagnostics."""
        lines = split_lines(snap.text)
        out = []
        for tracked in self._by_uri.get(snap.uri, {}).values():
            for t in tracked:
                t.seen = t.seen or t.present(lines)
                if t.seen and t.present(lines):
                    out.append(to_diagnostic(snap, t.finding))
        return out
