"""The README's generated tables match the code they are generated from."""

from __future__ import annotations

from codeward import docs


def test_readme_tables_are_current():
    text = docs.README.read_text(encoding="utf-8")
    assert "<!-- settings-table:start -->" in text
    assert docs.render(text) == text, "README.md is out of date: run `python -m codeward.docs`"
