"""Mode choice: multi-line in a new block or function body, single-line when the line is under way."""

from __future__ import annotations

import pytest

from codeward.completion.modes import MULTI_LINE_STOPS, SINGLE_LINE_STOPS, choose_mode
from codeward.model.stops import CODEX_STOPS

from .conftest import unmark

MULTI = [
    "def f(x):\n    ║",
    "def f(x):\n║",
    "def f(x):║",
    "class A:\n    def m(self):\n        ║\n",
    'def f(x):\n    """Doc."""\n    ║',
    'def f(x):\n    """Return x.\n\n    >>> f(1)\n    1\n    """\n║',
    "for i in range(3):  # loop\n    ║",
]
SINGLE = [
    "x = foo(║)",
    "    y = ║",
    "x = 1\n║",
    "def f(x):\n    return x\n║",
    "if x:║  # trailing text",
    'def f(x):\n    """Doc."""\n    y = 1\n    ║',
]


@pytest.mark.parametrize("marked", MULTI)
def test_multi_line_in_a_new_block_or_function_body(marked):
    text, cursor = unmark(marked)
    mode = choose_mode(text, cursor)
    assert mode.kind == "multi"
    assert mode.stops == MULTI_LINE_STOPS


@pytest.mark.parametrize("marked", SINGLE)
def test_single_line_elsewhere(marked):
    text, cursor = unmark(marked)
    mode = choose_mode(text, cursor)
    assert mode.kind == "single"
    assert mode.stops == SINGLE_LINE_STOPS


def test_the_block_indentation_is_deeper_than_the_header():
    text, cursor = unmark("class A:\n    def m(self):\n        ║")
    assert choose_mode(text, cursor).min_indent == 5


def test_settings_force_a_mode_and_pick_the_stop_preset():
    text, cursor = unmark("x = 1\n║")
    forced = choose_mode(text, cursor, "multi", "codex")
    assert forced.kind == "multi" and forced.stops == CODEX_STOPS
    text, cursor = unmark("def f(x):\n    ║")
    assert choose_mode(text, cursor, "single").kind == "single"
    assert choose_mode(text, cursor, "auto", "none").stops == ()
