"""Regenerate the generated tables in README.md and docs/ (`python -m codeward.cli.docs`; `--check` only checks).

A block between `<!-- NAME:start -->` and `<!-- NAME:end -->` is replaced by the output of NAME's generator:
`settings-table` (every setting), `settings-table-SECTION` (one section), `settings-table-TIER` and
`settings-table-SECTION-TIER` (only the `user` or `advanced` tier), `rules-table` (every codeward rule id: libcst
rules and the catalogue), `taint-table` (sources, sanitisers and sinks), `demoted-table` (bandit tests reported at
low severity), `token-table` (the token scan's patterns). Every Markdown page of the docs site and the README is
checked: a page that holds a block is covered wherever it lives under docs/.
"""

from __future__ import annotations

import dataclasses
import importlib
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
README = ROOT / "README.md"
DOCS = ROOT / "docs"
BLOCK = re.compile(r"(<!-- ([a-z0-9-]+):start -->\n).*?(<!-- \2:end -->)", re.DOTALL)
MARKER = re.compile(r"<!-- ([a-z0-9-]+):(start|end) -->")
TIERS = ("user", "advanced")
TABLES = {
    "taint-table": ("codeward.safety.taint.specs", "taint_table"),
    "demoted-table": ("codeward.safety.checkers.bandit_adapter", "demoted_table"),
    "rules-table": ("codeward.safety.catalogue", "rules_table"),
    "token-table": ("codeward.safety.tokens", "patterns_table"),
}


def tier(f: dataclasses.Field) -> str:
    """A settings field's tier: `user` (in the editor's settings UI) or `advanced`; undeclared counts as user."""
    return str(f.metadata.get("tier", "user"))


def project_scope(f: dataclasses.Field) -> str:
    """May a project's own config file set the field: yes, no, add-only (a list a project may only extend)."""
    if "project" not in f.metadata:
        return ""
    if f.metadata["project"] and f.metadata.get("project_add_only"):
        return "add-only"
    return "yes" if f.metadata["project"] else "no"


def settings_table(section: str | None = None, only_tier: str | None = None) -> str:
    """A Markdown table of the settings of `section` (default: all) in tier `only_tier` (default: both)."""
    from codeward.cli.vscode import field_default
    from codeward.config import SECTIONS

    rows = ["| key | default | environment | project file | meaning |", "|---|---|---|---|---|"]
    for name, cls in SECTIONS.items():
        if section is not None and name != section:
            continue
        for f in dataclasses.fields(cls):
            if only_tier is not None and tier(f) != only_tier:
                continue
            default = field_default(f)
            help_text = f.metadata.get("help", "")
            if "choices" in f.metadata:
                help_text += " (" + " / ".join(str(c) for c in f.metadata["choices"]) + ")"
            rows.append(f"| `{name}.{f.name}` | `{default!r}` | `CODEWARD_{name.upper()}_{f.name.upper()}` "
                        f"| {project_scope(f)} | {help_text} |")
    if len(rows) == 2:
        rows.append("| (none) | | | | |")
    return "\n".join(rows)


def _settings_block(rest: str) -> str | None:
    """The settings table a block name after `settings-table` asks for, or None when it names no table."""
    from codeward.config import SECTIONS

    parts = rest.split("-") if rest else []
    only_tier = parts.pop() if parts and parts[-1] in TIERS else None
    section = "-".join(parts) or None
    if section is not None and section not in SECTIONS:
        return None
    return settings_table(section, only_tier)


def generate(name: str) -> str:
    """The Markdown for one generated block; ValueError names an unknown block."""
    if name == "settings-table" or name.startswith("settings-table-"):
        table = _settings_block(name[len("settings-table-"):] if name != "settings-table" else "")
        if table is not None:
            return table
    elif name in TABLES:
        module, function = TABLES[name]
        return getattr(importlib.import_module(module), function)()
    raise ValueError(f"unknown generated block {name!r}")


def render(text: str) -> str:
    """`text` with every generated block replaced by its current content."""
    return BLOCK.sub(lambda m: m.group(1) + generate(m.group(2)) + "\n" + m.group(3), text)


def documents() -> list[Path]:
    """The Markdown files that may hold generated blocks: the README and every page under docs/."""
    return [README, *sorted(DOCS.rglob("*.md"))]


def unpaired_markers(text: str) -> list[str]:
    """Block markers that do not form a start/end pair (a typo there would leave a table unchecked)."""
    paired = {pos for b in BLOCK.finditer(text) for pos in (b.start(), b.start(3))}
    return [m.group(0) for m in MARKER.finditer(text) if m.start() not in paired]


def main() -> int:
    check = "--check" in sys.argv
    stale = []
    for path in documents():
        old = path.read_text(encoding="utf-8")
        new = render(old)
        if new != old:
            stale.append(path)
            if not check:
                path.write_text(new, encoding="utf-8")
    if stale and check:
        print("out of date: " + ", ".join(str(p.relative_to(ROOT)) for p in stale)
              + "; run `python -m codeward.cli.docs`", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
