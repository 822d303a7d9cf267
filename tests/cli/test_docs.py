"""The generated tables in README.md and docs/*.md match the code they are generated from."""

from __future__ import annotations

import pytest

from codeward.cli import docs


@pytest.mark.parametrize("path", docs.documents(), ids=lambda p: p.name)
def test_generated_blocks_are_current(path):
    text = path.read_text(encoding="utf-8")
    assert docs.render(text) == text, f"{path.name} is out of date: run `python -m codeward.cli.docs`"


def test_readme_has_the_generated_tables():
    text = docs.README.read_text(encoding="utf-8")
    assert "<!-- settings-table:start -->" in text and "<!-- rules-table:start -->" in text


def test_unknown_block_is_an_error():
    with pytest.raises(ValueError, match="unknown generated block"):
        docs.render("<!-- nosuch:start -->\nx\n<!-- nosuch:end -->")
