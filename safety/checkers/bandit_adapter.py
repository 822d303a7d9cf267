"""bandit in-process on strings: its node visitor and test set, without files, subprocesses or its manager.

bandit keeps state in module globals (the blacklist plugin's `_config` is set when a test set is built), so all
use goes through one lock, and test sets are built once per profile and reused.
"""

from __future__ import annotations

import ast
import io
import logging
import threading
import warnings
from collections.abc import Iterable
from typing import Any

from codeward.safety.findings import Finding
from codeward.safety.settings import CURATED_BANDIT_TESTS, DEMOTED_BANDIT_TESTS, SafetySettings

log = logging.getLogger(__name__)

KIND = "security"  # every bandit test looks for a security weakness (findings.KINDS)
_LOCK = threading.Lock()
_CACHE: dict[frozenset[str] | None, tuple[Any, Any]] = {}  # include ids (None = all) -> (test set, blacklist cfg)
_FNAME = "./suggestion.py"


def _load_bandit() -> None:
    """Import bandit's plugin manager once, quietly (stevedore warns about an argument bandit still passes)."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", message=".*verify_requirements.*")
        from bandit.core import extension_loader  # noqa: F401


def selected_tests(settings: SafetySettings) -> frozenset[str] | None:
    """The bandit test ids the settings ask for (None = every test bandit has), minus disabled rules."""
    if settings.bandit_profile == "all" and not settings.disabled_rules:
        return None
    if settings.bandit_profile == "all":
        return frozenset(all_test_ids()) - {r.upper() for r in settings.disabled_rules}
    ids = set(CURATED_BANDIT_TESTS) | {t.upper() for t in settings.bandit_include}
    return frozenset(ids - {r.upper() for r in settings.disabled_rules})


def all_test_ids() -> list[str]:
    """Every plugin and blacklist test id the installed bandit offers."""
    _load_bandit()
    from bandit.core import extension_loader

    manager = extension_loader.MANAGER
    ids = set(manager.plugins_by_id)
    for tests in manager.blacklist.values():
        ids.update(t["id"] for t in tests)
    return sorted(ids)


def _test_set(include: frozenset[str] | None) -> tuple[Any, Any]:
    """A cached BanditTestSet for `include` and the blacklist config it installed (call with the lock held)."""
    from bandit.core import blacklisting, config, test_set

    if include not in _CACHE:
        profile = {"include": sorted(include)} if include is not None else {}
        tests = test_set.BanditTestSet(config.BanditConfig(), profile)
        _CACHE[include] = (tests, getattr(blacklisting.blacklist, "_config", None))
    return _CACHE[include]


def _finding(issue: Any, offset: int) -> Finding:
    cwe = getattr(getattr(issue, "cwe", None), "id", 0) or None
    reported = int(issue.lineno or 1) - offset
    lines = [int(n) - offset for n in (issue.linerange or [issue.lineno])]
    line = min([reported, *lines])  # B602 reports the `shell=True` line; the range starts at the call
    test_id = str(issue.test_id)
    severity = "low" if test_id in DEMOTED_BANDIT_TESTS else str(issue.severity).lower()
    return Finding(
        rule_id=test_id, cwe=cwe, severity=severity,
        confidence=str(issue.confidence).lower(), line=line, end_line=max([reported, *lines]),
        col=max(int(issue.col_offset), 0) if issue.col_offset is not None else 0,
        message=str(issue.text), source="bandit", kind=KIND)


def run_bandit(source: str, tree: ast.Module | None, settings: SafetySettings, offset: int = 0) -> list[Finding]:
    """bandit's findings on `source` (which must parse); lines shifted up by `offset` synthetic header lines."""
    _load_bandit()
    from bandit.core import blacklisting, metrics, node_visitor

    if tree is None:
        tree = ast.parse(source)
    data = source.encode("utf-8", "surrogatepass")
    with _LOCK:
        tests, blacklist_cfg = _test_set(selected_tests(settings))
        if blacklist_cfg is not None:
            blacklisting.blacklist._config = blacklist_cfg
            blacklisting.blacklist._checks = blacklist_cfg.keys()
        stats = metrics.Metrics()
        stats.begin(_FNAME)
        visitor = node_visitor.BanditNodeVisitor(_FNAME, io.BytesIO(data), None, tests, False, {}, stats)
        visitor.generic_visit(tree)
        visitor.context = {"file_data": visitor.fdata, "filename": _FNAME, "lineno": 0, "linerange": [0, 1],
                           "col_offset": 0}
        visitor.tester.run_tests(visitor.context, "File")
        issues: Iterable[Any] = list(visitor.tester.results)
    return [_finding(issue, offset) for issue in issues]



def demoted_table() -> str:
    """docs/safety.md's list of the bandit tests reported at low severity, and why (generated)."""
    rows = ["| bandit test | why it is reported at low severity |", "|---|---|"]
    rows += [f"| {tid} | {why} |" for tid, why in DEMOTED_BANDIT_TESTS.items()]
    return "\n".join(rows)
