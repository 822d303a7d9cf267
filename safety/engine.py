"""The check pipeline: repair the text, run bandit, the CW rules and pyflakes on it, token-scan what stayed
unparsable, then filter (thresholds, disabled rules, `# nosec`, line range)."""

from __future__ import annotations

import dataclasses
import logging
import re
from collections.abc import Callable

from codeward.safety.errors import CheckError
from codeward.safety.findings import Finding, dedupe, is_suppressed, nosec_lines, rank
from codeward.safety.repair import Repaired, parse, repair
from codeward.safety.scan import split_lines
from codeward.safety.settings import SafetySettings

log = logging.getLogger(__name__)


Failures = list[tuple[str, BaseException]]


def _guarded(name: str, fn: Callable[[], list[Finding]], failures: Failures) -> list[Finding]:
    """Run one checker; a crash costs its findings, is logged and recorded in `failures` (the others still run,
    and `analyse` then raises CheckError: a check that did not complete is never a clean result)."""
    try:
        return fn()
    except Exception as exc:  # a checker bug on odd input: report it, never as "no findings"
        log.warning("the %s check failed on this text; its findings are missing", name, exc_info=True)
        failures.append((name, exc))
        return []


def _undefined_names(rep: Repaired, lines: list[str], region: frozenset[int] | None,
                     wanted: tuple[int, int] | None) -> list[Finding]:
    """pyflakes' undefined names, trusted fully only when the text parsed as it is."""
    from codeward.safety.checkers.pyflakes_adapter import name_of, run_pyflakes

    if rep.tree is None or (region is None and rep.changed and rep.offset > 0):
        return []  # a window that starts inside a block: the names defined above it are unknown
    found = run_pyflakes(rep.tree, rep.offset)
    if wanted is not None:
        found = [f for f in found if wanted[0] <= f.line <= wanted[1]]
    if not found or (not rep.changed and region is None):
        return found
    outside = "\n".join(text for n, text in enumerate(lines, start=1) if region is not None and n not in region)
    keep = []
    for f in found:  # masked or cut-off lines may define a name: report only names used nowhere else
        pattern = re.compile(r"(?<![\w.])" + re.escape(name_of(f)) + r"\b")
        others = outside if region is not None else "\n".join(lines[:f.line - 1] + lines[f.line:])
        if not pattern.search(others):
            keep.append(f)
    return keep


def _raw_findings(rep: Repaired, lines: list[str], settings: SafetySettings, region: frozenset[int] | None,
                  wanted: tuple[int, int] | None, outer: Repaired | None, failures: Failures) -> list[Finding]:
    """Every checker's findings; pyflakes reads `outer` (the enclosing block) when the rest see a narrow part."""
    from codeward.safety.checkers.bandit_adapter import run_bandit
    from codeward.safety.rules import run_rules
    from codeward.safety.tokens import scan_lines

    found: list[Finding] = []
    if rep.text is not None:
        source = rep.text
        found += _guarded("bandit", lambda: run_bandit(source, rep.tree, settings, rep.offset), failures)
        found += _guarded("libcst rules", lambda: run_rules(source, settings.disabled_rules, rep.offset), failures)
        if settings.pyflakes:
            found += _guarded("pyflakes", lambda: _undefined_names(outer or rep, lines, region, wanted), failures)
        if settings.taint:
            found += _guarded("taint flows", lambda: _taint(outer or rep), failures)
    found = [f for f in found if f.line not in rep.masked]
    if settings.token_scan and rep.masked:
        found += _guarded("token scan", lambda: scan_lines(lines, rep.masked), failures)
    return found


def _taint(rep: Repaired) -> list[Finding]:
    """Taint flows in the repaired text (for a suggestion: the whole block around it, where its data comes from)."""
    from codeward.safety.taint.flows import analyse_taint

    if rep.tree is None or rep.text is None:
        return []
    return analyse_taint(rep.tree, rep.offset, split_lines(rep.text))


def _no_tokens(settings: SafetySettings) -> SafetySettings:
    return dataclasses.replace(settings, token_scan=False)


def _keep(f: Finding, settings: SafetySettings, disabled: set[str], n_lines: int,
          lines: tuple[int, int] | None) -> bool:
    if not 1 <= f.line <= n_lines or f.rule_id.upper() in disabled:
        return False
    if rank(f.severity) < rank(settings.min_severity) or rank(f.confidence) < rank(settings.min_confidence):
        return False
    return lines is None or (f.line <= lines[1] and f.end_line >= lines[0])


STRATEGIES = ("repair+tokens", "repair", "parse-only", "tokens-only")


def _prepare(work: list[str], strategy: str) -> Repaired:
    """Repaired text for a strategy (the alternatives exist to measure the default against)."""
    text = "\n".join(work)
    if strategy == "tokens-only":
        return Repaired(None, 0, frozenset(range(1, len(work) + 1)), True, None)
    if strategy == "parse-only":
        tree = parse(text)
        return Repaired(text if tree else None, 0, frozenset(), tree is None, tree)
    return repair(text)


def _focused(src: list[str], region: tuple[int, int], strategy: str
             ) -> tuple[Repaired, Repaired, frozenset[int]]:
    """Repair only the block around `region`, then narrow to the statements covering it (see region.py).

    Returns the narrow text (for bandit and the CW rules), the block (for pyflakes, which needs the enclosing
    function), and the lines whose text the block holds."""
    from codeward.safety.region import focus, statement_span

    work, _ = focus(src, region)
    rep = _prepare(work, strategy)
    seen = frozenset(n for n, line in enumerate(work, start=1) if line.strip())
    if rep.tree is None or rep.text is None:
        return rep, rep, seen
    start, end = statement_span(rep.tree, region[0] + rep.offset, region[1] + rep.offset)
    start, end = start - rep.offset, end - rep.offset
    lines = split_lines(rep.text)[rep.offset:]
    narrow = repair("\n".join(lines[start - 1:end]))  # only these lines: blank ones cost libcst time too
    if narrow.tree is None:
        return rep, rep, seen
    masked = rep.masked | {n + start - 1 for n in narrow.masked}
    shift = dict(rep.col_shift)  # the narrow repair may expand tabs the block's own repair left alone
    for n, extra in narrow.col_shift.items():
        shift[n + start - 1] = shift.get(n + start - 1, 0) + extra
    return Repaired(narrow.text, narrow.offset - (start - 1), frozenset(masked), True, narrow.tree,
                    shift), rep, seen


def _repaired(src: list[str], region: tuple[int, int] | None, strategy: str, failures: Failures
              ) -> tuple[Repaired, Repaired | None, frozenset[int] | None]:
    """The repaired text (and for a region the block and the lines it holds); a crash in the repair is recorded
    in `failures` and leaves every line to the token scan."""
    try:
        if region is not None:
            return _focused(src, region, strategy)
        return _prepare(src, strategy), None, None
    except Exception as exc:  # a repair bug: the AST checkers cannot run, the token scan still can
        log.warning("the repair failed on this text; only the token scan ran", exc_info=True)
        failures.append(("the repair", exc))
        return _prepare(src, "tokens-only"), None, None


def analyse(text: str, settings: SafetySettings, lines: tuple[int, int] | None = None,
            region: tuple[int, int] | None = None, strategy: str = "repair+tokens") -> list[Finding]:
    """Findings in `text` (restricted to `lines` when given); `region` limits the expensive checks.

    `strategy` chooses how unparsable code is handled: repair then token-scan what stays broken (the default),
    repair only, plain parse (bandit's own behaviour), or the token scan alone. Raises CheckError (carrying
    the other checkers' findings) when a checker crashed; bad or partial code as such never raises."""
    src = split_lines(text)
    failures: Failures = []
    rep, outer, seen = _repaired(src, region, strategy, failures)
    checks = settings if strategy != "repair" else _no_tokens(settings)
    found = _raw_findings(rep, src, checks, seen, lines, outer, failures)
    disabled = {r.upper() for r in settings.disabled_rules}
    nosec = nosec_lines("\n".join(src))
    out = []
    for f in found:
        if not _keep(f, settings, disabled, len(src), lines) or is_suppressed(f, nosec):
            continue
        col = char_column(f, src[f.line - 1], rep.col_shift.get(f.line, 0))
        if col != f.col:
            f = dataclasses.replace(f, col=col)
        out.append(f)
    out = dedupe(out)
    if failures:
        raise CheckError.from_failures(failures, out)
    return out


_BYTE_COLUMNS = ("bandit", "pyflakes")  # their columns are ast's: UTF-8 bytes into the line


def char_column(f: Finding, line: str, shift: int) -> int:
    """`f.col` as a code-point column on the original `line`.

    The AST checks saw the repaired line, whose indentation had tabs expanded (`shift` columns more), and
    bandit/pyflakes count UTF-8 bytes; the token scan already reads the original line in code points."""
    if f.source == "tokens":
        return f.col
    col = max(f.col - shift, 0)
    if f.source in _BYTE_COLUMNS:
        col = len(line.encode("utf-8", "surrogatepass")[:col].decode("utf-8", "ignore"))
    return col
