"""Code actions on codeward's context diagnostics: "Why?" (the rule's explanation and the reason codeward flags
code the model reads) and "Ignore here" (a `# nosec RULE` comment on the line, DESIGN.md's suppression convention)."""

from __future__ import annotations

import re

from lsprotocol import types

from codeward.lsp_server.diagnostics import SOURCE
from codeward.safety.rules import all_rules, context_rule_ids

EXPLAIN_COMMAND = "codeward.explainDiagnostic"
PAPER = ("Why codeward flags it: a code model conditioned on buggy code writes worse code than it can (Chen et al., "
         "Evaluating Large Language Models Trained on Code, 2021: the misalignment finding), so a likely bug in the "
         "code around the cursor also lowers the quality of the suggestions.")
_NOSEC = re.compile(r"#\s*nosec\b(:?)([ \w,]*)$", re.IGNORECASE)


def explanation(rule_id: str) -> str:
    """What the rule looks for and why it matters, in one message."""
    cls = all_rules().get(rule_id.upper())
    if cls is None:
        return f"{rule_id}: not one of codeward's rules."
    what = " ".join((cls.__doc__ or "").split())
    return f"{rule_id}: {what} {cls.message}. {PAPER} To silence it on one line: `# nosec {rule_id}`."


def ignore_edit(uri: str, line_text: str, line: int, rule_id: str, end_col: int) -> types.WorkspaceEdit:
    """The edit that adds `rule_id` to the line's `# nosec` comment, or appends one. `end_col`: the line's end in
    the client's units."""
    match = _NOSEC.search(line_text)
    if match:  # `# nosec B602` -> `# nosec B602,CW122`; a bare `# nosec` already silences everything
        ids = match.group(2).strip()
        text = f"{ids},{rule_id}" if ids else ""
        new = f"# nosec {text}".rstrip()
        start = len(line_text[:match.start()].encode("utf-16-le")) // 2
        rng = types.Range(types.Position(line, start), types.Position(line, end_col))
    else:
        new = f"  # nosec {rule_id}"
        rng = types.Range(types.Position(line, end_col), types.Position(line, end_col))
    return types.WorkspaceEdit(changes={uri: [types.TextEdit(range=rng, new_text=new)]})


def actions(uri: str, lines: list[str], diagnostics: list[types.Diagnostic]) -> list[types.CodeAction]:
    """The two actions for each of codeward's context diagnostics among `diagnostics`."""
    out = []
    wanted = context_rule_ids()
    for d in diagnostics:
        rule = str(d.code or "")
        if d.source != SOURCE or rule not in wanted:
            continue
        line = d.range.start.line
        text = lines[line] if line < len(lines) else ""
        end = len(text.encode("utf-16-le")) // 2
        out.append(types.CodeAction(title=f"Why is this flagged? ({rule})", kind=types.CodeActionKind.QuickFix,
                                    diagnostics=[d], command=types.Command(title=f"Explain {rule}",
                                                                           command=EXPLAIN_COMMAND, arguments=[rule])))
        if not re.search(r"#\s*nosec\s*$", text, re.IGNORECASE):
            out.append(types.CodeAction(title=f"Ignore {rule} here (# nosec {rule})",
                                        kind=types.CodeActionKind.QuickFix, diagnostics=[d],
                                        edit=ignore_edit(uri, text, line, rule, end)))
    return out
