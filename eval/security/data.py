"""CyberSecEval autocomplete cases as editor documents: the code before an insecure line, the cursor on the next
line (indented as an editor's auto-indent would after Enter), and the case's CWE for the per-CWE report.

CyberSecEval's `test_case_prompt` starts with an instruction header ("Write the next several lines of the following
code. ..."). A base or FIM model in the editor never sees such a line, so the header is dropped for those templates
and kept for chat templates (a chat model is told what to do); the run records which.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

from codeward.completion.types import CompletionRequest
from codeward.eval.datasets import Problem
from codeward.eval.jsonl import DataError, iter_jsonl

# An instruction header: one or more non-blank lines, the first an imperative about writing or completing code,
# then a blank line. Matched at the start of the prompt only.
HEADER = re.compile(r"\A\s*(?:Write|Complete|Continue|Finish)\b[^\n]*\n(?:[^\n]*\S[^\n]*\n)*?[ \t]*\n",
                    re.IGNORECASE)
REQUIRED = ("test_case_prompt", "cwe_identifier")


@dataclass(frozen=True)
class SecurityCase:
    """One benchmark case: its id, the prompt as given, the code without the header, the CWE it was drawn for."""

    task_id: str
    prompt: str
    code: str
    header: str
    cwe: str
    pattern: str = ""
    line_text: str = ""
    origin_code: str = ""

    def document(self, keep_header: bool) -> str:
        """The buffer before the cursor: the code (after the header when `keep_header`) and a new indented line."""
        body = (self.prompt.lstrip("\n") if keep_header else self.code).rstrip("\n")
        return body + "\n" + next_indent(body)

    def request(self, keep_header: bool) -> CompletionRequest:
        """The editor's request: the document with the cursor at its end."""
        text = self.document(keep_header)
        lines = text.split("\n")
        return CompletionRequest(text=text, line=len(lines) - 1, column=len(lines[-1]), unit="code-point",
                                 path=f"{self.task_id.replace('/', '_')}.py")

    def problem(self) -> Problem:
        """The case as a task of the sampling loop (no tests: security cases are judged, not executed)."""
        return Problem(task_id=self.task_id, prompt=self.code, entry_point="", test="")


def next_indent(code: str) -> str:
    """The indentation an editor gives the line after `code`'s last non-blank line: the same, one level (4
    spaces) deeper after a line that ends in `:`."""
    last = next((ln for ln in reversed(code.split("\n")) if ln.strip()), "")
    indent = last[: len(last) - len(last.lstrip())]
    return indent + ("    " if last.split("#", 1)[0].rstrip().endswith(":") else "")


def split_header(prompt: str) -> tuple[str, str]:
    """(header, code) of a test case prompt; the header is empty when the prompt has none."""
    match = HEADER.match(prompt)
    if match is None:
        return "", prompt
    return match.group(0), prompt[match.end():]


def load_cases(path: str | Path, language: str = "python") -> list[SecurityCase]:
    """The cases of a CyberSecEval JSONL (or a JSON list) in `language`; DataError naming the line otherwise."""
    p = Path(path)
    rows = _read(p)
    cases: list[SecurityCase] = []
    seen: set[str] = set()
    for lineno, row in rows:
        if not isinstance(row, dict):
            raise DataError(f"{p}:{lineno}: expected a JSON object per case, got {type(row).__name__}")
        missing = [k for k in REQUIRED if not isinstance(row.get(k), str)]
        if missing:
            raise DataError(f"{p}:{lineno}: missing or non-string field(s) {', '.join(missing)}; a CyberSecEval "
                            "case needs test_case_prompt and cwe_identifier")
        if row.get("language", language) != language:
            continue
        ident = row.get("prompt_id", lineno)
        task_id = f"{row.get('variant') or 'case'}/{ident}"
        if task_id in seen:
            task_id = f"{task_id}@{lineno}"
        seen.add(task_id)
        header, code = split_header(row["test_case_prompt"])
        cases.append(SecurityCase(task_id, row["test_case_prompt"], code, header, row["cwe_identifier"],
                                  str(row.get("pattern_desc") or ""), str(row.get("line_text") or ""),
                                  str(row.get("origin_code") or "")))
    if not cases:
        raise DataError(f"{p}: no {language} cases (is this a CyberSecEval autocomplete file?)")
    return cases


def _read(p: Path) -> list[tuple[int, object]]:
    """Rows of a JSONL file, or of a JSON list (the upstream `autocomplete.json` is one list)."""
    try:
        head = p.open(encoding="utf-8").read(1).strip() if p.suffix != ".gz" else ""
    except OSError as exc:
        raise DataError(f"{p}: cannot read ({exc}); check the path") from None
    if head == "[":
        import json

        try:
            return list(enumerate(json.loads(p.read_text(encoding="utf-8")), 1))
        except json.JSONDecodeError as exc:
            raise DataError(f"{p}: not valid JSON ({exc.msg} at line {exc.lineno})") from None
    return list(iter_jsonl(p))
