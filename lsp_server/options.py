"""Settings from the editor: `initializationOptions` and `workspace/configuration`, same nested snake_case keys
as the TOML file. Invalid values fall back (to TOML, environment or defaults) and are reported once."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeward.config import ConfigError, Settings, load_settings

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


def resolve(client_options: Any, cli_overrides: Mapping[str, Any], root: Path | None) -> tuple[Settings, list[str]]:
    """Settings from TOML < environment < client options < command-line flags, and the problems found."""
    problems: list[str] = []
    layer = merge(unwrap(client_options), cli_overrides)
    try:
        settings = load_settings(layer, start=root, strict=False, problems=problems)
    except ConfigError as exc:  # an unreadable TOML file: fall back to defaults plus the editor's options
        problems.append(str(exc))
        settings = load_settings(layer, start=Path("/"), environ={}, strict=False, problems=problems)
    return settings, [p.replace("(from options)", "(from the editor's settings)") for p in problems]
