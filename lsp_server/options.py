"""Settings from the editor: `initializationOptions` and `workspace/configuration`, same nested snake_case keys
as the TOML file. Invalid values fall back (to TOML, environment or defaults) and are reported once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeward.config import ConfigError, Settings, apply_layer, load_settings
from codeward.trust import ConfigSources

SECTION = "codeward"  # the client-side settings section holding codeward's nested sections


def unwrap(options: Any) -> Mapping[str, Any]:
    """The codeward part of what a client sent: `{"codeward": {...}}` or the nested sections themselves."""
    if not isinstance(options, Mapping):
        return {}
    inner = options.get(SECTION)
    return inner if isinstance(inner, Mapping) else options


def merge(low: Mapping[str, Any], high: Mapping[str, Any]) -> dict[str, Any]:
    """`high`'s sections laid over `low`'s, key by key."""
    out: dict[str, Any] = {k: dict(v) if isinstance(v, Mapping) else v for k, v in low.items()}
    for section, table in high.items():
        if isinstance(table, Mapping) and isinstance(out.get(section), dict):
            out[section].update(table)
        else:
            out[section] = dict(table) if isinstance(table, Mapping) else table
    return out


def resolve(client_options: Any, cli_overrides: Mapping[str, Any], root: Path | None,
            sources: ConfigSources | None = None) -> tuple[Settings, list[str]]:
    """Settings from project file < user file < environment < client options < command-line flags, and the
    problems found; what the project file may not set goes into `sources` (a throwaway one when not given)."""
    problems: list[str] = []
    sources = ConfigSources() if sources is None else sources
    layer = merge(unwrap(client_options), cli_overrides)
    try:  # lenient: an unreadable TOML file is one of the problems, and is skipped
        settings = load_settings(layer, start=root, strict=False, problems=problems, sources=sources)
    except ConfigError as exc:  # not expected in lenient mode; fall back to defaults plus the editor's options
        problems.append(str(exc))
        settings = apply_layer(Settings(), layer, "options", strict=False, problems=problems)
    return settings, [p.replace("(from options)", "(from the editor's settings)") for p in problems]
