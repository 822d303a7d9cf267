"""Pieces every CLI command shares: the engine flags, settings from flags, user-facing errors."""

from __future__ import annotations

import argparse
import sys
from typing import Any, NoReturn

from codeward.config import ConfigError, Settings, load_settings
from codeward.trust import ConfigSources, tell


class UsageError(Exception):
    """Bad input from the user (a path, a position, a flag); printed and exit code 2."""


def die(message: str, code: int = 2) -> NoReturn:
    """Print `codeward: error: message` to stderr and exit."""
    print(f"codeward: error: {message}", file=sys.stderr)
    raise SystemExit(code)


def _float_list(text: str) -> list[float]:
    try:
        return [float(t) for t in text.split(",") if t.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number or a comma list of numbers, got {text!r}") from None


def add_engine_flags(parser: argparse.ArgumentParser, *, sweep: bool = False, multi_model: bool = False) -> None:
    """The engine flags of DESIGN.md; `sweep` makes --temperature a comma list, `multi_model` repeats --model."""
    g = parser.add_argument_group("engine")
    g.add_argument("--engine", choices=("llamacpp", "transformers", "openai"), help="model backend")
    if multi_model:
        g.add_argument("--model", action="append", help="model to run (repeatable; openai: NAME@BASE_URL)")
    else:
        g.add_argument("--model", help="GGUF path, HF model dir/id, served model name, or 'embedded'")
    g.add_argument("--base-url", help="OpenAI-compatible server URL, e.g. http://127.0.0.1:8000/v1")
    g.add_argument("-n", type=int, dest="n", help="samples per prompt")
    if sweep:
        g.add_argument("--temperature", type=_float_list, help="temperature, or a comma list to sweep")
    else:
        g.add_argument("--temperature", type=float, help="sampling temperature (0 = greedy)")
    g.add_argument("--top-p", type=float, dest="top_p", help="nucleus sampling mass")
    g.add_argument("--max-new-tokens", type=int, dest="max_new_tokens", help="max new tokens per sample")
    g.add_argument("--seed", type=int, help="sampling seed")


ENGINE_FLAG_KEYS = ("engine", "model", "base_url", "n", "temperature", "top_p", "max_new_tokens", "seed")


def engine_overrides(args: argparse.Namespace) -> dict[str, Any]:
    """The engine flags the user gave, as an `{"engine": {...}}` override layer (lists left for sweeps)."""
    table = {}
    for key in ENGINE_FLAG_KEYS:
        value = getattr(args, key, None)
        if value is None or isinstance(value, list):
            continue
        table[key] = value
    return {"engine": table} if table else {}


def settings_from_args(args: argparse.Namespace, extra: dict[str, Any] | None = None,
                       sources: ConfigSources | None = None) -> Settings:
    """Load settings (project file < user file < env < flags); a bad value exits with code 2 and says which and
    why. What a project file may not set is said on stderr once (`sources`: recorded there for the caller too)."""
    layer = engine_overrides(args)
    for section, table in (extra or {}).items():
        layer.setdefault(section, {}).update(table)
    report = ConfigSources() if sources is None else sources
    try:
        settings = load_settings(layer, origin="command-line flags", sources=report)
    except ConfigError as exc:
        die(str(exc))
    tell(report.notices())
    return settings
