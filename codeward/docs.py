"""Regenerate the README's generated tables (`python -m codeward.docs`); a test checks they are current."""

from __future__ import annotations

import importlib
import re
import sys
from collections.abc import Callable
from pathlib import Path

README = Path(__file__).resolve().parents[1] / "README.md"


def _settings() -> str:
    from codeward.config import settings_table

    return settings_table()


def _rules() -> str:
    return importlib.import_module("codeward.safety.rules").rules_table()


# marker name -> generator of the Markdown between `<!-- NAME:start -->` and `<!-- NAME:end -->`
GENERATORS: dict[str, Callable[[], str]] = {"settings-table": _settings, "rules-table": _rules}


def render(text: str) -> str:
    """`text` with every generated block that has markers replaced by its current content."""
    for name, make in GENERATORS.items():
        pattern = re.compile(rf"(<!-- {name}:start -->\n).*?(<!-- {name}:end -->)", re.DOTALL)
        if pattern.search(text):
            body = make()
            text = pattern.sub(lambda m, body=body: m.group(1) + body + "\n" + m.group(2), text)
    return text


def main() -> int:
    old = README.read_text(encoding="utf-8")
    new = render(old)
    if "--check" in sys.argv:
        if new != old:
            print("README.md is out of date: run `python -m codeward.docs`", file=sys.stderr)
            return 1
        return 0
    README.write_text(new, encoding="utf-8")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
