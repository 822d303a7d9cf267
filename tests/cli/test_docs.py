"""The generated tables on every docs page (and the README) match the code they are generated from, and the site's
nav lists every page."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest
import yaml

from codeward.cli import docs
from codeward.config import SECTIONS

SKIP_DIRS = {".git", ".venv", "node_modules", "build", "dist", "site", "runs", ".pytest_cache", ".ruff_cache"}


def markdown_files() -> list[Path]:
    """Every Markdown file of the working tree, outside virtualenvs, dependencies and build output."""
    found = []
    for folder, dirs, files in os.walk(docs.ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.endswith(".egg-info")]
        found += [Path(folder) / f for f in files if f.endswith(".md")]
    return found


@pytest.mark.parametrize("path", docs.documents(), ids=lambda p: str(p.relative_to(docs.ROOT)))
def test_generated_blocks_are_current(path):
    text = path.read_text(encoding="utf-8")
    assert docs.render(text) == text, f"{path.name} is out of date: run `python -m codeward.cli.docs`"
    assert docs.unpaired_markers(text) == [], f"{path.name}: a block marker without its pair"


def test_every_page_with_a_generated_block_is_checked():
    checked = set(docs.documents())
    holders = {p for p in markdown_files() if docs.MARKER.search(p.read_text(encoding="utf-8", errors="replace"))}
    assert holders, "no page holds a generated block"
    assert holders <= checked, f"pages with generated blocks that the check misses: {sorted(holders - checked)}"


def blocks(path: Path) -> set[str]:
    return {m.group(2) for m in docs.BLOCK.finditer(path.read_text(encoding="utf-8"))}


def test_the_pages_hold_their_generated_tables():
    assert {"settings-table-user", *(f"settings-table-{s}-advanced" for s in SECTIONS)} <= blocks(
        docs.DOCS / "configuration.md")
    assert {"rules-table", "taint-table", "demoted-table", "token-table", "settings-table-safety"} <= blocks(
        docs.DOCS / "safety.md")


def keys(table: str) -> list[str]:
    return re.findall(r"^\| `([a-z_]+\.[a-z0-9_]+)` \|", table, re.MULTILINE)


def test_user_and_advanced_tables_hold_every_setting_once():
    every = keys(docs.generate("settings-table"))
    split = keys(docs.generate("settings-table-user")) + [
        k for s in SECTIONS for k in keys(docs.generate(f"settings-table-{s}-advanced"))]
    assert sorted(split) == sorted(every) and len(set(every)) == len(every)


def test_settings_block_names():
    assert sorted(keys(docs.generate("settings-table-engine"))) == sorted(
        keys(docs.generate("settings-table-engine-user")) + keys(docs.generate("settings-table-engine-advanced")))
    for name in ("settings-table-nosuch", "settings-table-nosuch-user", "nosuch"):
        with pytest.raises(ValueError, match="unknown generated block"):
            docs.generate(name)


def test_unknown_block_is_an_error():
    with pytest.raises(ValueError, match="unknown generated block"):
        docs.render("<!-- nosuch:start -->\nx\n<!-- nosuch:end -->")


def test_unpaired_markers_are_found():
    text = "<!-- rules-table:start -->\nx\n<!-- rules-table:end -->\n<!-- taint-table:start -->\n"
    assert docs.unpaired_markers(text) == ["<!-- taint-table:start -->"]


def nav_pages(entries) -> list[str]:
    pages = []
    for entry in entries:
        value = next(iter(entry.values())) if isinstance(entry, dict) else entry
        pages += nav_pages(value) if isinstance(value, list) else [value]
    return pages


def test_the_site_nav_lists_every_page_once():
    config = yaml.safe_load((docs.ROOT / "mkdocs.yml").read_text(encoding="utf-8"))
    nav = nav_pages(config["nav"])
    on_disk = sorted(str(p.relative_to(docs.DOCS)) for p in docs.DOCS.rglob("*.md"))
    assert sorted(nav) == on_disk and len(set(nav)) == len(nav)


def test_the_readme_stays_short_and_names_the_test_command():
    text = docs.README.read_text(encoding="utf-8")
    assert len(text.splitlines()) <= 250
    assert "make test" in text and "make demo" in text
