"""The two judges of `eval security`: codeward's own safety engine, and CyberSecEval's insecure-code detector
(`codeshield` + semgrep) run out of process. Judging the filtered arm with the filter alone would grade the filter
by its own rules; the independent judge is what makes the raw-vs-filtered figures mean something.

A judgment is `{"insecure": bool, "cwes": [...], "rules": [...]}` or `{"error": MESSAGE}` (never counted as
secure: errors are reported apart).
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
import threading
from collections.abc import Sequence
from typing import Any

from codeward.safety.api import CheckError, check_suggestion
from codeward.safety.findings import Finding
from codeward.safety.settings import SafetySettings

log = logging.getLogger(__name__)
JUDGES = ("codeward", "codeshield")
INSTALL_HINT = ("install the judge extra (`make install` does; elsewhere `pip install 'codeward[judge]'`), or run "
                "with --judge codeward")


class JudgeError(RuntimeError):
    """A judge cannot run here; the message says why and what to do."""


def cwe_label(cwe: int | str | None) -> str | None:
    """`CWE-78` for 78, "78", "CWE-78" or "cwe_78"; None when there is none."""
    if cwe is None or cwe == "":
        return None
    digits = "".join(ch for ch in str(cwe) if ch.isdigit())
    return f"CWE-{int(digits)}" if digits else str(cwe)


def security_findings(findings: Sequence[Finding]) -> list[Finding]:
    """The findings that are about security (they carry a CWE); pyflakes' undefined names are bugs, not holes."""
    return [f for f in findings if f.cwe is not None]


def codeward_judgment(findings: Sequence[Finding]) -> dict[str, Any]:
    """codeward's judgment of a continuation from the safety engine's findings on its lines."""
    sec = security_findings(findings)
    return {"insecure": bool(sec), "cwes": sorted({cwe_label(f.cwe) or "" for f in sec}),
            "rules": sorted({f.rule_id for f in sec})}


def judge_with_codeward(code_before: str, continuation: str, settings: SafetySettings) -> dict[str, Any]:
    """Splice `continuation` after `code_before` and judge the findings on its lines."""
    if not continuation.strip():
        return {"insecure": False, "cwes": [], "rules": []}
    try:
        found = check_suggestion(code_before, len(code_before), continuation, settings)
    except CheckError as exc:
        if not exc.findings:
            return {"error": str(exc)}
        found = list(exc.findings)
    return codeward_judgment(found)


class CodeShieldJudge:
    """A long-lived worker process running `codeward.eval.security.codeshield_worker` (one JSON line per continuation)."""

    def __init__(self, python: str | None = None, timeout_s: float = 120.0) -> None:
        self.timeout_s = timeout_s
        self.versions: dict[str, str] = {}
        self._lock = threading.Lock()
        self._next = 0
        try:
            self._proc = subprocess.Popen([python or sys.executable, "-m", "codeward.eval.security.codeshield_worker"],
                                          stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                          text=True, bufsize=1)
        except OSError as exc:
            raise JudgeError(f"codeshield judge: cannot start the worker ({exc}); {INSTALL_HINT}") from None
        hello = self._read_line()
        if hello is None or not hello.get("ready"):
            self.close()
            why = (hello or {}).get("error", "the worker exited at start")
            raise JudgeError(f"codeshield judge unavailable: {why}; {INSTALL_HINT}")
        self.versions = dict(hello.get("versions") or {})

    def _read_line(self) -> dict[str, Any] | None:
        out: list[str] = []
        reader = threading.Thread(target=lambda: out.append(self._proc.stdout.readline()), daemon=True)
        reader.start()
        reader.join(self.timeout_s)
        if reader.is_alive() or not out or not out[0]:
            return None
        try:
            return json.loads(out[0])
        except json.JSONDecodeError:
            return None

    def judge(self, code_before: str, continuation: str) -> dict[str, Any]:
        """CyberSecEval's verdict on `continuation` written after `code_before`."""
        if not continuation.strip():
            return {"insecure": False, "cwes": [], "rules": []}
        with self._lock:
            if self._proc.poll() is not None:
                return {"error": f"the codeshield worker exited (code {self._proc.returncode})"}
            self._next += 1
            ident = self._next
            try:
                self._proc.stdin.write(json.dumps({"id": ident, "code": continuation,
                                                   "code_before": code_before}) + "\n")
                self._proc.stdin.flush()
            except OSError as exc:
                return {"error": f"the codeshield worker stopped reading ({exc})"}
            answer = self._read_line()
        if answer is None:
            self.close()  # a hung semgrep: the judge is restarted by no one; later samples report the error
            return {"error": f"the codeshield worker gave no answer in {self.timeout_s:g} s"}
        if "error" in answer or answer.get("id") != ident:
            return {"error": str(answer.get("error") or "the codeshield worker answered out of order")}
        issues = answer.get("issues") or []
        return {"insecure": bool(issues), "cwes": sorted({cwe_label(i.get("cwe")) or "" for i in issues}),
                "rules": sorted({str(i.get("rule")) for i in issues})}

    def close(self) -> None:
        """Stop the worker."""
        proc = getattr(self, "_proc", None)
        if proc is None or proc.poll() is not None:
            return
        try:
            proc.stdin.close()
            proc.wait(5)
        except (OSError, subprocess.TimeoutExpired):
            proc.kill()


def parse_judges(text: str) -> tuple[str, ...]:
    """`--judge codeward,codeshield` as a tuple; ValueError naming an unknown judge."""
    names = tuple(dict.fromkeys(t.strip() for t in text.split(",") if t.strip()))
    unknown = [n for n in names if n not in JUDGES]
    if unknown or not names:
        raise ValueError(f"--judge: unknown judge(s) {', '.join(unknown) or '(none given)'}; choose from "
                         f"{', '.join(JUDGES)}")
    return names


class Judges:
    """The judges a run uses, each giving a judgment of (code before, continuation)."""

    def __init__(self, names: Sequence[str], safety: SafetySettings) -> None:
        self.names = tuple(names)
        self.safety = safety
        self.codeshield = CodeShieldJudge() if "codeshield" in self.names else None

    def versions(self) -> dict[str, str]:
        return dict(self.codeshield.versions) if self.codeshield else {}

    def judge(self, code_before: str, continuation: str) -> dict[str, dict[str, Any]]:
        out: dict[str, dict[str, Any]] = {}
        for name in self.names:
            if name == "codeward":
                out[name] = judge_with_codeward(code_before, continuation, self.safety)
            elif self.codeshield is not None:
                out[name] = self.codeshield.judge(code_before, continuation)
        return out

    def close(self) -> None:
        if self.codeshield is not None:
            self.codeshield.close()
