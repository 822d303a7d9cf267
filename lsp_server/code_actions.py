"""Code actions on codeward's diagnostics: "Why?" (the rule's explanation and the reason codeward flags it), on every
rule id codeward knows, and "Ignore here" (a `# nosec RULE` comment on the line, DESIGN.md's suppression convention) on
the context diagnostics (the kinds the context check runs), which are re-checked as the user types."""

from __future__ import annotations

import re

from lsprotocol import types

from codeward.completion.text import ColumnUnit, from_code_points
from codeward.lsp_server.diagnostics import SOURCE
from codeward.lsp_server.documents import Snapshot, line_text
from codeward.safety.api import CONTEXT_KINDS
from codeward.safety.catalogue import RuleInfo, rule_info

EXPLAIN_COMMAND = "codeward.explainDiagnostic"
PAPER = ("Why codeward flags it: a code model conditioned on buggy code writes worse code than it can (Chen et al., "
         "Evaluating Large Language Models Trained on Code, 2021: the misalignment finding), so a likely bug in the "
         "code around the cursor also lowers the quality of the suggestions.")
SECURITY = "Why codeward flags it: code with this weakness can be attacked"
_NOSEC = re.compile(r"#\s*nosec\b(:?)([ \w,]*)$", re.IGNORECASE)


def explanation(rule_id: str) -> str:
    """What the rule looks for and why it matters, in one message (any id the catalogue knows)."""
    info = rule_info(rule_id)
    if info is None:
        return f"{rule_id}: not one of codeward's rules."
    return f"{info.id}: {info.doc} {info.message}. {_why(info)} To silence it on one line: `# nosec {info.id}`."


def _why(info: RuleInfo) -> str:
    """Why a rule of this kind matters: the paper's finding for likely bugs, the weakness for security rules."""
    if info.kind in CONTEXT_KINDS:
        return PAPER
    cwe = f" (CWE-{info.cwe}, https://cwe.mitre.org/data/definitions/{info.cwe}.html)" if info.cwe else ""
    return f"{SECURITY}{cwe}."


def ignore_edit(uri: str, text: str, line: int, rule_id: str, unit: ColumnUnit = "utf-16") -> types.WorkspaceEdit:
    """The edit that adds `rule_id` to the `# nosec` comment of `text` (line `line`'s text, without its line
    ending), or appends one; columns in `unit`, the position encoding the client negotiated."""
    end_col = from_code_points(text, len(text), unit)
    match = _NOSEC.search(text)
    if match:  # `# nosec B602` -> `# nosec B602,CW122`; a bare `# nosec` already silences everything
        ids = match.group(2).strip()
        comment = f"{ids},{rule_id}" if ids else ""
        new = f"# nosec {comment}".rstrip()
        start = from_code_points(text, match.start(), unit)
        rng = types.Range(types.Position(line, start), types.Position(line, end_col))
    else:
        new = f"  # nosec {rule_id}"
        rng = types.Range(types.Position(line, end_col), types.Position(line, end_col))
    return types.WorkspaceEdit(changes={uri: [types.TextEdit(range=rng, new_text=new)]})


def actions(snap: Snapshot, diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    """The "Why?" action on each of codeward's diagnostics with a known rule id; "Ignore here" only on the context kinds
    (an accepted suggestion's findings are not re-checked, so a comment would not clear them). Lines end at LSP's
    line endings; columns are in the document's negotiated unit."""
    out = []
    for d in diagnostics:
        rule = str(d.code or "")
        info = rule_info(rule) if d.source == SOURCE and rule else None
        if info is None:
            continue
        line = d.range.start.line
        text = line_text(snap.text, line)
        out.append(types.CodeAction(title=f"Why is this flagged? ({rule})", kind=types.CodeActionKind.QuickFix,
                                    diagnostics=[d], command=types.Command(title=f"Explain {rule}",
                                                                           command=EXPLAIN_COMMAND, arguments=[rule])))
        if info.kind in CONTEXT_KINDS and not re.search(r"#\s*nosec\s*$", text, re.IGNORECASE):
            out.append(types.CodeAction(title=f"Ignore {rule} here (# nosec {rule})",
                                        kind=types.CodeActionKind.QuickFix, diagnostics=[d],
                                        edit=ignore_edit(snap.uri, text, line, rule, snap.unit)))
    return out
