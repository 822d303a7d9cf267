"""Configuration: one set of dataclasses, layered from the sources below (strongest first).

1. command-line flags; 2. the editor's settings (LSP `initializationOptions`, `workspace/configuration`), which
arrive with the flags as `overrides` (flags win); 3. the environment, `CODEWARD_<SECTION>_<KEY>`; 4. the user's file
`$XDG_CONFIG_HOME/codeward/config.toml` (default `~/.config/codeward/config.toml`); 5. the project file: the nearest
`codeward.toml` or `pyproject.toml` with `[tool.codeward]`, found upward from the workspace or working directory to
the repository root or home (`codeward.trust` says which folders are searched and which files are never read);
6. the defaults. A project file sets only `project = true` keys, unless the user trusts its folder (`codeward trust`,
by path and SHA-256); its `project_add_only` lists are joined to the user's. Its other keys are ignored with one
message; keys of `WEAKENING` it sets are listed by `review`, `doctor` and the server (`ConfigSources`).

Every field of every section declares in its dataclass metadata (checked by `metadata_problems`):

- `tier`: `"user"` (what a person sets: shown in the VS Code settings UI as `codeward.<section>.<camelKey>`) or
  `"advanced"` (tuning; documented on the configuration page, set in VS Code through the object setting
  `codeward.advanced` as `"section.key"`; valid everywhere else under its name as before).
- `project`: `True` when a project's own config file may set it; `False` for anything that chooses where data
  goes, which secret is sent, which program or interpreter runs, whether user code is executed, or weakens the
  sandbox. Keys that only weaken checks (`trust.WEAKENING`) stay `True` and are listed where a project sets them.
  VS Code contributes `project = False` keys with `"scope": "machine"`.
- `project_add_only` (optional, list-valued fields with `project: True` only): a project file may only add items;
  its list is joined to the one from the user's own sources instead of replacing it or being replaced, so a project
  can never remove an item the user set (e.g. `safety.bandit_include`: extra tests only strengthen the checks).
A trusted folder's file applies whole (its add-only lists still joined).
"""

from __future__ import annotations

import dataclasses
import os
import tomllib
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeward import trust
from codeward.completion.settings import CompletionSettings, ContextSettings, PipelineSettings
from codeward.eval.settings import EvalSettings
from codeward.model.settings import EngineSettings
from codeward.safety.settings import SafetySettings
from codeward.values import coerce, describe


@dataclass
class Settings:
    """All of codeward's settings, one dataclass per TOML section."""

    engine: EngineSettings = field(default_factory=EngineSettings)
    completion: CompletionSettings = field(default_factory=CompletionSettings)
    context: ContextSettings = field(default_factory=ContextSettings)
    safety: SafetySettings = field(default_factory=SafetySettings)
    eval: EvalSettings = field(default_factory=EvalSettings)

    def pipeline(self) -> PipelineSettings:
        """The sections the completion pipeline reads (shared, not copied: later edits show through)."""
        return PipelineSettings(self.engine, self.completion, self.context, self.safety)


SECTIONS: dict[str, type] = typing.get_type_hints(Settings)
TIERS = ("user", "advanced")


def metadata_problems(sections: Mapping[str, type] | None = None) -> list[str]:
    """What is wrong with the `tier` / `project` / `project_add_only` metadata of every field of `sections` (default:
    every section), one message per problem; an empty list when every field declares both."""
    problems = []
    for section, cls in (SECTIONS if sections is None else sections).items():
        hints = typing.get_type_hints(cls)
        for f in dataclasses.fields(cls):
            meta, key = f.metadata, f"{section}.{f.name}"
            if meta.get("tier") not in TIERS:
                problems.append(f"{key}: tier is {meta.get('tier')!r}, expected one of {', '.join(TIERS)}")
            if not isinstance(meta.get("project"), bool):
                problems.append(f"{key}: project is {meta.get('project')!r}, expected true or false")
            if "project_add_only" in meta and not (
                    meta["project_add_only"] is True and meta.get("project") is True
                    and typing.get_origin(hints[f.name]) in (list, tuple)):
                problems.append(f"{key}: project_add_only must be true, on a list setting with project true")
    return problems


class ConfigError(ValueError):
    """A setting has an invalid value or an unknown name; the message says which and what is allowed."""


def _lenient(exc: ConfigError, strict: bool, problems: list[str] | None) -> None:
    """Raise `exc` in strict mode; in lenient mode report it into `problems` (a problem is never lost)."""
    if strict:
        raise exc
    problems.append(str(exc))  # type: ignore[union-attr]


def _field_type(section: type, name: str) -> Any:
    return typing.get_type_hints(section)[name]


def coerce_setting(section: str, key: str, value: Any, origin: str, from_text: bool = False) -> Any:
    """Validate one setting; raise ConfigError naming the key, the value, its origin and what is allowed."""
    if section not in SECTIONS:
        raise ConfigError(f"unknown settings section [{section}] in {origin}; known sections: "
                          + ", ".join(SECTIONS))
    cls = SECTIONS[section]
    fields = {f.name: f for f in dataclasses.fields(cls)}
    if key not in fields:
        raise ConfigError(f"unknown setting {section}.{key} in {origin}; known keys of [{section}]: "
                          + ", ".join(fields))
    f = fields[key]
    tp = _field_type(cls, key)
    invalid = ConfigError(f"invalid setting {section}.{key} = {value!r} (from {origin}): "
                          f"expected {describe(f, tp)}")
    try:
        out = coerce(value, tp, from_text)
    except (ValueError, TypeError, StopIteration) as exc:  # json.JSONDecodeError is a ValueError
        raise invalid from exc
    meta = f.metadata
    if out is not None and not isinstance(out, (list, tuple)) and (
            ("choices" in meta and out not in meta["choices"])
            or ("min" in meta and out < meta["min"]) or ("max" in meta and out > meta["max"])):
        raise invalid
    return out


@dataclass
class ProjectFile:
    """The nearest project config file: its codeward table and bytes, or (`refused`) why it was not read."""

    path: Path
    table: dict[str, Any] | None
    data: bytes = b""
    refused: str | None = None


def find_project_file(start: Path | None = None, *, uid: int | None = None,
                      home: Path | None = None) -> ProjectFile | None:
    """The first codeward.toml, or pyproject.toml with [tool.codeward], upward from `start` to the repository root
    or `home`; one that `trust.unsafe` refuses (for `uid`, default yours) ends the walk unread."""
    for folder in trust.walk(start or Path.cwd(), home):
        for name in trust.PROJECT_FILE_NAMES:
            candidate = folder / name
            if not candidate.is_file():
                continue
            why = trust.unsafe(candidate, uid)
            if why is not None:
                return ProjectFile(candidate, None, refused=why)
            table, data = _read_toml(candidate)
            if name == "pyproject.toml":
                table = table.get("tool", {}).get("codeward")
                if table is None:
                    continue
            if not isinstance(table, dict):
                raise ConfigError(f"[tool.codeward] in {candidate} must be a table of sections; fix or remove it")
            return ProjectFile(candidate, table, data)
    return None


def find_config_file(start: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """The project file that applies from `start` and its table (None when there is none or it is refused)."""
    found = find_project_file(start)
    return (found.path, found.table) if found is not None and found.table is not None else None


def _read_toml(path: Path) -> tuple[dict[str, Any], bytes]:
    """A TOML file's table and the bytes it was parsed from (what the trust store hashes)."""
    try:
        data = path.read_bytes()
        return tomllib.loads(data.decode("utf-8")), data
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror or exc}; fix its permissions or remove it") from exc
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"cannot parse {path}: {exc}; fix the TOML syntax or remove the file") from exc


def env_overrides(environ: Mapping[str, str]) -> dict[str, dict[str, str]]:
    """Collect CODEWARD_<SECTION>_<KEY> variables; names without a known section prefix are left alone.

    An unknown key under a known section (a typo such as CODEWARD_ENGINE_TEMPRATURE) is kept, so that the
    loader reports it like an unknown key in the TOML file."""
    out: dict[str, dict[str, str]] = {}
    for name, value in environ.items():
        if not name.startswith("CODEWARD_"):
            continue
        rest = name[len("CODEWARD_"):].lower()
        for section in SECTIONS:
            if rest.startswith(section + "_"):
                out.setdefault(section, {})[rest[len(section) + 1:]] = value
    return out


def apply_layer(settings: Settings, layer: Mapping[str, Any], origin: str, from_text: bool = False,
                strict: bool = True, problems: list[str] | None = None) -> Settings:
    """Apply a nested {section: {key: value}} mapping; in lenient mode (`strict=False`) bad values are skipped
    and reported into `problems`, which lenient mode requires (a problem must never be lost)."""
    if not strict and problems is None:
        raise TypeError("apply_layer(strict=False) needs a `problems` list to report invalid settings into")
    for section, table in layer.items():
        try:
            if section not in SECTIONS:
                coerce_setting(section, "", None, origin)
            if not isinstance(table, Mapping):
                raise ConfigError(f"settings section [{section}] in {origin} must be a table of keys")
        except ConfigError as exc:
            _lenient(exc, strict, problems)
            continue
        target = getattr(settings, section)
        for key, value in table.items():
            try:
                setattr(target, key, coerce_setting(section, key, value, origin, from_text))
            except ConfigError as exc:
                _lenient(exc, strict, problems)
    return settings


Layer = tuple[Mapping[str, Any], str, bool]  # (nested {section: {key: value}}, its origin, values are text)


def _user_layers(overrides: Mapping[str, Mapping[str, Any]] | None, environ: Mapping[str, str], origin: str,
                 strict: bool, problems: list[str] | None, sources: trust.ConfigSources) -> list[Layer]:
    """The user's own sources, weakest first: the user file, each CODEWARD_* variable, the overrides."""
    layers: list[Layer] = []
    user = trust.user_config_file()
    if user.is_file():
        sources.user_file = user
        try:
            layers.append((_read_toml(user)[0], str(user), False))
        except ConfigError as exc:
            _lenient(exc, strict, problems)
    for section, table in env_overrides(environ).items():
        for key, value in table.items():
            layers.append(({section: {key: value}}, f"CODEWARD_{section.upper()}_{key.upper()}", True))
    if overrides:
        layers.append((overrides, origin, False))
    return layers


def split_project(table: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any], dict[str, Any]]:
    """A project table as (keys a project may set, its add-only lists, its `project = false` keys); unknown
    sections and keys stay in the first, so that they are reported like any unknown key."""
    parts: tuple[dict[str, Any], dict[str, Any], dict[str, Any]] = ({}, {}, {})
    for section, keys in table.items():
        if section not in SECTIONS or not isinstance(keys, Mapping):
            parts[0][section] = keys
            continue
        fields = {f.name: f.metadata for f in dataclasses.fields(SECTIONS[section])}
        for key, value in keys.items():
            meta = fields.get(key, {"project": True})
            part = parts[2] if not meta.get("project") else parts[1] if meta.get("project_add_only") else parts[0]
            part.setdefault(section, {})[key] = value
    return parts


def _project_layers(start: Path | None, strict: bool, problems: list[str] | None,
                    sources: trust.ConfigSources) -> tuple[dict[str, Any], dict[str, Any]]:
    """(what the project file sets, its add-only lists), after the trust rules; `sources` records the rest."""
    try:
        found = find_project_file(start)
    except ConfigError as exc:
        _lenient(exc, strict, problems)
        return {}, {}
    if found is None:
        return {}, {}
    sources.project_file, sources.refused = found.path, found.refused
    if found.table is None:
        return {}, {}
    allowed, add_only, restricted = split_project(found.table)
    if restricted:
        try:
            sources.trust = trust.entry_state(found.path, found.data)
        except trust.TrustError as exc:  # an unreadable store trusts nothing; the notice says why
            sources.trust_error = str(exc)
        if sources.trust == "trusted":
            for section, keys in restricted.items():
                allowed.setdefault(section, {}).update(keys)
        else:
            sources.ignored = [f"{s}.{k}" for s, keys in restricted.items() for k in keys]
    return allowed, add_only


def _join(settings: Settings, add_only: Mapping[str, Mapping[str, Any]], origin: str, strict: bool,
          problems: list[str] | None) -> None:
    """Add a project's items to its `project_add_only` lists, after every other source (none is removed)."""
    for section, keys in add_only.items():
        target = getattr(settings, section)
        for key, value in keys.items():
            try:
                items = coerce_setting(section, key, value, origin)
            except ConfigError as exc:
                _lenient(exc, strict, problems)
                continue
            have = getattr(target, key)
            setattr(target, key, type(have)([*have, *(i for i in items if i not in have)]))


def load_settings(overrides: Mapping[str, Mapping[str, Any]] | None = None, *, start: Path | None = None,
                  environ: Mapping[str, str] | None = None, strict: bool = True,
                  problems: list[str] | None = None, origin: str = "options",
                  sources: trust.ConfigSources | None = None) -> Settings:
    """Defaults < project file (trust rules applied) < user file < environment < `overrides` (already typed: CLI
    flags over LSP options). Lenient mode (`strict=False`) needs a `problems` list to report into. What the user
    must be told about the project file goes into `sources` when given, else to the log (once per process)."""
    if not strict and problems is None:
        raise TypeError("load_settings(strict=False) needs a `problems` list to report invalid settings into")
    report = trust.ConfigSources() if sources is None else sources
    project, add_only = _project_layers(start, strict, problems, report)
    users = _user_layers(overrides, os.environ if environ is None else environ, origin, strict, problems, report)
    settings = Settings()
    where = str(report.project_file)
    for layer, layer_origin, text in [(project, where, False), *users]:
        apply_layer(settings, layer, layer_origin, from_text=text, strict=strict, problems=problems)
    _join(settings, add_only, where, strict, problems)
    keys = [f"{s}.{k}" for s, table in project.items() if isinstance(table, Mapping) for k in table]
    if any(k in trust.WEAKENING for k in keys):
        base = Settings()  # the same sources without the project file: what the project changed
        for layer, layer_origin, text in users:
            apply_layer(base, layer, layer_origin, from_text=text, strict=False, problems=[])
        report.weakened = trust.weakened(base, settings, keys)
    if sources is None:
        trust.tell(report.notices())
    return settings


def as_dict(settings: Settings) -> dict[str, Any]:
    """Plain nested dict of the settings (for config.json and logs)."""
    return dataclasses.asdict(settings)
