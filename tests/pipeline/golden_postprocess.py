"""Golden cases for the postprocess filters: (filter, document with the cursor marked ║, raw model text, expected
text or None for DROP[, expected replace_after]). Template kind "chat" where the filter is about chat models."""

from __future__ import annotations

CASES: list[tuple[str, str, str, str | None] | tuple[str, str, str, str | None, int]] = [
    # single_line: single-line mode keeps the first line
    ("single_line", "x = ║", "compute(1)\ny = 2", "compute(1)"),
    ("single_line", "x = ║", "\ny = 2", None),
    ("single_line", "def f(x):\n    ║", "a = 1\n    return a", "a = 1\n    return a"),  # multi: untouched
    # limit_scope: stay in the block the cursor opened
    ("limit_scope", "def f(x):\n    ║\n\nprint(f(1))", "return x + 1\n\nprint('done')\n", "return x + 1\n"),
    ("limit_scope", "def f(x):\n║", "    if x:\n        return 1\n    return 2\nx = 3",
     "    if x:\n        return 1\n    return 2"),
    ("limit_scope", "def f():\n║", "def g():\n    pass", None),
    ("limit_scope", "class A:\n    def m(self):\n        ║", "return 1\n    def n(self):", "return 1"),
    # drop_repetition: a line three times in a row, a repeated block, a degenerate last line
    ("drop_repetition", "def f():\n    ║", "a = 1\n    b = 2\n    b = 2\n    b = 2\n    b = 2", "a = 1\n    b = 2"),
    ("drop_repetition", "def f():\n    ║", "x = f(1)\n    y = g(2)\n    x = f(1)\n    y = g(2)\n",
     "x = f(1)\n    y = g(2)"),
    ("drop_repetition", "def f():\n    ║", "ok = 1\n    x = [1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1", "ok = 1"),
    ("drop_repetition", "def f():\n    ║", "x += 1\n    x += 1", "x += 1\n    x += 1"),  # twice is fine
    # drop_suffix_duplicates: the rest of the line, or the next code line, already in the document
    ("drop_suffix_duplicates", "print(║)", "'hi')", "'hi'"),
    ("drop_suffix_duplicates", "def f(x):\n    ║\n    return y\n", "y = x * 2\n    return y\n", "y = x * 2"),
    ("drop_suffix_duplicates", "if ok(║):", "x):", "x"),
    # balance_brackets
    ("balance_brackets", "x = ║", "foo(1))", "foo(1)"),  # a closer nothing opened
    ("balance_brackets", "print(║)", "'hi')", "'hi')", 1),  # replaces the auto-closed bracket
    ("balance_brackets", "x = ║", "foo(bar(1)", "foo(bar(1))"),  # closes what it opened
    ("balance_brackets", "def f():\n    ║", "a = 1\n    b = g(1,\n", "a = 1"),  # cuts to a balanced line
    ("balance_brackets", 'x = "║"', "abc)", "abc)"),  # inside a string: untouched
    ("balance_brackets", "items = [║]", "1, 2]", "1, 2]", 1),
    # trim_whitespace
    ("trim_whitespace", "x = ║", " 42  ", "42"),
    ("trim_whitespace", "def f():\n    ║", "a = 1   \n\n\n", "a = 1"),
    ("trim_whitespace", "def f():\n║", "    a = 1", "    a = 1"),  # indentation at column 0 is kept
    ("trim_whitespace", "def f():\n    ║", "\n    return 1", "return 1"),  # no blank line, no double indent
    ("trim_whitespace", "def f():\n    ║", "\n\n    a = 1\n    return a", "a = 1\n    return a"),
    ("trim_whitespace", "def f():\n    ║x", "\n    a = 1", "\n    a = 1"),  # text after the cursor: kept
    # only the header's indentation typed: the model's deeper indentation is the body's, kept
    ("trim_whitespace", "def f(i):\n    if i:\n    ║", "    return 1", "    return 1"),
    ("trim_whitespace", "def f(i):\n    if i:\n    ║", "\n    return i\n    return 0", "    return i\n    return 0"),
    ("trim_whitespace", "def f(i):\n    if i:\n        ║", "return 1", "return 1"),
    ("chain", "def f(i):\n    if i:\n    ║", "    return 1\n    return 0", "    return 1"),
    # min_length (2 characters by default)
    ("min_length", "x = ║", " ;", None),
    ("min_length", "x = ║", "ab", "ab"),
    # strip_chat: fences, prose, echoes of the line (chat template only)
    ("strip_chat", "def add(a, b):\n    ║", "Here is the code:\n```python\nreturn a + b\n```\nThis adds.",
     "return a + b"),
    ("strip_chat", "def add(a, b):\n    ║", "return a + b\n", "return a + b"),
    ("strip_chat", "x = ║", "x = 5", " 5"),
    # an instruct model writing out the whole function the cursor is in: its body, imports moved into it
    ("strip_chat", 'def add(a, b):\n    """Sum."""\n    ║',
     '```python\nimport math\n\ndef add(a, b):\n    """Sum."""\n    return a + b\n```', "import math\n    return a + b"),
    ("strip_chat", 'def add(a, b):\n    """Sum.\n\n    >>> add(1, 2)\n    3\n    """\n║',
     ('def add(a: int,\n        b: int) -> int:\n    """Sum.\n\n    >>> add(1, 2)\n    3\n    """\n    return a + b\n\n'
      'print(add(1, 2))'), "    return a + b"),
    ("strip_chat", "def add(a, b):\n    ║", "```python\ndef helper():\n    return 1\n```", "def helper():\n    return 1"),
    # the whole chain
    ("chain", "def add(a, b):\n    ║", "return a + b\n\ndef sub(a, b):\n    return a - b", "return a + b"),
    ("chain", "result = compute(║)", "x, y)\nprint(result)", "x, y"),
    ("chain", "names = sorted(║)", "items, key=len)", "items, key=len"),
    ("chain", "def f(x):\n    ║\n    return y", "y = x + 1\n    return y", "y = x + 1"),
    ("chain", "x = ║", "\n", None),
]
