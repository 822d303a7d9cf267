"""Postprocess filters: each filter's golden cases (cursor marked in the text) and the whole chain."""

from __future__ import annotations

import pytest

from codeward.completion import postprocess as pp
from codeward.completion.modes import choose_mode

from .conftest import unmark
from .golden_postprocess import CASES

CHAT_FILTERS = {"strip_chat"}


def _run(name: str, marked: str, raw: str):
    text, cursor = unmark(marked)
    kind = "chat" if name in CHAT_FILTERS else "prefix"
    ctx = pp.context_for(text, cursor, choose_mode(text, cursor), kind)
    if name == "chain":
        return pp.run_filters(raw, ctx, pp.default_filters())[0]
    f = {"min_length": pp.min_length(2)}.get(name) or getattr(pp, name)
    return f(pp.Candidate(raw), ctx)


@pytest.mark.parametrize("case", CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)])
def test_golden_case(case):
    name, marked, raw, expected, *rest = case
    out = _run(name, marked, raw)
    if expected is None:
        assert out is pp.DROP
        return
    assert out is not None and out.text == expected
    assert out.replace_after == (rest[0] if rest else 0)


def test_every_filter_in_the_chain_has_golden_cases():
    names = {f.__name__.split("_length")[0].split("_lines")[0] for f in pp.default_filters()}
    covered = {c[0] for c in CASES}
    assert {"strip_chat", "single_line", "limit_scope", "drop_repetition", "drop_suffix_duplicates",
            "balance_brackets", "trim_whitespace"} <= covered
    assert {n for n in names if n not in ("limit", "min")} <= covered


def test_prefix_templates_skip_the_chat_filter():
    text, cursor = unmark("x = ║")
    ctx = pp.context_for(text, cursor, choose_mode(text, cursor), "prefix")
    assert pp.strip_chat(pp.Candidate("```python\n5\n```"), ctx).text == "```python\n5\n```"


def test_limit_lines_keeps_the_first_lines():
    text, cursor = unmark("def f():\n    ║")
    ctx = pp.context_for(text, cursor, choose_mode(text, cursor))
    assert pp.limit_lines(2)(pp.Candidate("a\nb\nc"), ctx).text == "a\nb"
