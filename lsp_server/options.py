"""Settings from the editor: `initializationOptions` and `workspace/configuration`, same nested snake_case keys
as the TOML file. Invalid values fall back (to TOML, environment or defaults) and are reported once. Over TCP the
client may not set the keys a project file may not set (`project = false`): `machine_keys_removed`."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from codeward.config import SECTIONS, ConfigError, Settings, apply_layer, load_settings
from codeward.trust import ConfigSources

SECTION = "codeward"  # the client-side settings section holding codeward's nested sections
TOKEN_KEY = "codeward_token"  # initializationOptions' reserved key: the TCP token, never a settings section


def without_token(options: Any) -> Any:
    """`options` without the reserved token key (at the top or inside `{"codeward": ...}`); anything else as is."""
    if not isinstance(options, Mapping):
        return options
    out = {k: v for k, v in options.items() if k != TOKEN_KEY}
    if isinstance(out.get(SECTION), Mapping):
        out[SECTION] = {k: v for k, v in out[SECTION].items() if k != TOKEN_KEY}
    return out


def unwrap(options: Any) -> Mapping[str, Any]:
    """The codeward part of what a client sent: `{"codeward": {...}}` or the nested sections themselves (the
    reserved token key is never a section)."""
    if not isinstance(options, Mapping):
        return {}
    options = without_token(options)
    inner = options.get(SECTION)
    return inner if isinstance(inner, Mapping) else options


def machine_keys_removed(layer: Mapping[str, Any]) -> tuple[dict[str, Any], list[str]]:
    """`layer` without the keys whose `project` flag is false (where data goes, which secret is sent, which program
    runs), and the `section.key` names taken out; unknown names stay, to be reported as such."""
    kept: dict[str, Any] = {}
    removed: list[str] = []
    for section, table in layer.items():
        if section not in SECTIONS or not isinstance(table, Mapping):
            kept[section] = table
            continue
        meta = {f.name: f.metadata for f in dataclasses.fields(SECTIONS[section])}
        kept[section] = {}
        for key, value in table.items():
            if key in meta and not meta[key].get("project", False):
                removed.append(f"{section}.{key}")
            else:
                kept[section][key] = value
    return kept, removed


def removed_note(removed: list[str]) -> str | None:
    """The one log line saying which settings a TCP client tried to set and where to set them instead."""
    if not removed:
        return None
    return (f"settings ignored over TCP: {', '.join(sorted(set(removed)))} (where data goes, which secret is sent or "
            "which program runs) may not be set by a TCP client; set them in your config file "
            "(~/.config/codeward/config.toml), the environment or on the `codeward serve` command line")


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
