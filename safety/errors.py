"""The error a safety check raises when one of its checkers crashed: the check did not complete."""

from __future__ import annotations

from collections.abc import Sequence

from codeward.safety.findings import Finding


class CheckError(RuntimeError):
    """A checker (the repair, bandit, the libcst rules, pyflakes) failed, so the text was not fully checked.

    `findings` holds what the checkers that did run found (already filtered), `checkers` the names of those
    that failed; the message says which failed and why."""

    def __init__(self, message: str, findings: Sequence[Finding] = (), checkers: Sequence[str] = ()) -> None:
        super().__init__(message)
        self.findings: tuple[Finding, ...] = tuple(findings)
        self.checkers: tuple[str, ...] = tuple(checkers)

    @classmethod
    def from_failures(cls, failures: Sequence[tuple[str, BaseException]],
                      findings: Sequence[Finding] = ()) -> CheckError:
        """One error for every checker that failed, e.g. "bandit failed (RuntimeError: boom)"."""
        parts = [f"{name} failed ({type(exc).__name__}: {exc})" for name, exc in failures]
        message = "safety check incomplete: " + "; ".join(parts) + " (see the log for the traceback)"
        return cls(message, findings, [name for name, _ in failures])
