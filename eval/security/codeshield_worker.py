"""CyberSecEval's insecure-code detector (the `codeshield` package, with semgrep) as a worker process.

Run by `codeward eval security` (never imported by it): one JSON object per stdin line,
`{"id": ..., "code": CONTINUATION, "code_before": TEXT_BEFORE}`, answered by one stdout line
`{"id": ..., "issues": [{"cwe": "CWE-78", "rule": ..., "line": n, "analyzer": "regex" | "semgrep", ...}]}` or
`{"id": ..., "error": MESSAGE}`. The continuation is judged as CyberSecEval judges autocomplete answers:
`insecure_code_detector.analyze(PYTHON, code, code_before)` with the CyberSecEval use case (every rule, regex and
semgrep). The first line the worker writes is `{"ready": true, "versions": {...}}` or `{"ready": false,
"error": ...}`, so the parent learns at once whether the judge works here.

Two things make the detector see what it should here (both checked by tests/eval/test_security.py):
- codeshield, left to write its own temporary file, scans that absolute path with `--project-root /`, which semgrep
  1.185 rejects silently ("the project root '/' does not contain the scanning root": zero files scanned, so no
  semgrep finding ever). The worker writes the file itself, under a relative name in a private directory outside
  any git work tree, and passes it as `path=`, so no project root is given; `--no-git-ignore` keeps an enclosing
  repository's ignore rules out of it. With a given path codeshield does not drop the findings in the text before,
  so the worker does (semgrep's lines count from the file's start, the regex analyzer's from the judged code's).
- codeshield's own rule keeps only findings on lines after `code_before`'s lines, so a continuation that finishes
  the cursor's line (text before ending mid-line, the autocomplete case) would be lost. The unfinished last line
  moves from `code_before` into the judged code: the statement the model completed is judged whole.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import os
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any


def _versions() -> dict[str, str]:
    out = {}
    for dist in ("codeshield", "semgrep"):
        try:
            out[dist] = importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            out[dist] = "not installed"
    return out


def _issue(issue: Any) -> dict[str, Any]:
    return {"cwe": getattr(issue, "cwe_id", None), "rule": getattr(issue, "pattern_id", None),
            "line": getattr(issue, "line", None), "analyzer": str(getattr(issue, "analyzer", "") or ""),
            "severity": str(getattr(issue, "severity", "") or ""),
            "description": str(getattr(issue, "description", "") or "")[:200]}


SNIPPET = Path("snippet.py")  # relative on purpose: see the module docstring


def _in_text_before(issue: Any, first_line: int) -> bool:
    """A semgrep finding (whole-file line numbers) that lies in the text before the judged code."""
    line = getattr(issue, "line", None)
    return "semgrep" in str(getattr(issue, "analyzer", "")).lower() and isinstance(line, int) and line < first_line


def split_unfinished_line(code_before: str, code: str) -> tuple[str, str]:
    """(text before, judged code) with `code_before`'s unfinished last line moved to the judged code."""
    cut = code_before.rfind("\n") + 1
    return code_before[:cut], code_before[cut:] + code


def main() -> int:
    def say(obj: dict[str, Any]) -> None:
        sys.stdout.write(json.dumps(obj) + "\n")
        sys.stdout.flush()

    try:
        from codeshield.insecure_code_detector import insecure_code_detector
        from codeshield.insecure_code_detector.languages import Language
        from codeshield.insecure_code_detector.usecases import UseCase
    except Exception as exc:  # noqa: BLE001 - any import failure means the judge is unusable; say why
        say({"ready": False, "error": f"{type(exc).__name__}: {exc}", "versions": _versions()})
        return 1
    from codeshield.insecure_code_detector import oss

    workdir = tempfile.mkdtemp(prefix="codeward-codeshield-")
    os.chdir(workdir)
    if "--no-git-ignore" not in oss.SEMGREP_COMMAND:
        oss.SEMGREP_COMMAND.insert(oss.SEMGREP_COMMAND.index("--config"), "--no-git-ignore")
    say({"ready": True, "versions": _versions()})
    loop = asyncio.new_event_loop()
    for line in sys.stdin:
        if not line.strip():
            continue
        job: Any = None
        try:
            job = json.loads(line)
            before, code = split_unfinished_line(job.get("code_before") or "", job["code"])
            SNIPPET.write_text(before + code, encoding="utf-8")
            found = loop.run_until_complete(insecure_code_detector.analyze(
                Language.PYTHON, code, before or None, path=SNIPPET, usecase=UseCase.CYBERSECEVAL))
            first_line = len(before.splitlines()) + 1
            issues = [i for i in found if not _in_text_before(i, first_line)]
            say({"id": job.get("id"), "issues": [_issue(i) for i in issues]})
        except Exception as exc:  # noqa: BLE001 - one bad job is reported, the worker goes on
            say({"id": job.get("id") if isinstance(job, dict) else None, "error": f"{type(exc).__name__}: {exc}"})
    os.chdir("/")
    shutil.rmtree(workdir, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
