"""Configuration: one set of dataclasses, layered TOML < environment < explicit overrides.

TOML comes from `codeward.toml` or `[tool.codeward]` in `pyproject.toml`, found upward from the working
directory; environment variables are `CODEWARD_<SECTION>_<KEY>`; overrides are CLI flags or LSP options.
"""

from __future__ import annotations

import dataclasses
import json
import os
import tomllib
import types
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from codeward.completion.settings import CompletionSettings, ContextSettings, PipelineSettings
from codeward.eval.settings import EvalSettings
from codeward.model.settings import EngineSettings
from codeward.safety.settings import SafetySettings


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


class ConfigError(ValueError):
    """A setting has an invalid value or an unknown name; the message says which and what is allowed."""


def _field_type(section: type, name: str) -> Any:
    return typing.get_type_hints(section)[name]


def _describe(f: dataclasses.Field, tp: Any) -> str:
    meta = f.metadata
    if "choices" in meta:
        return "one of " + ", ".join(repr(c) for c in meta["choices"])
    base = {bool: "true or false", int: "an integer", float: "a number", str: "a string"}
    plural = {bool: "booleans", int: "integers", float: "numbers", str: "strings"}
    if typing.get_origin(tp) in (list, tuple):
        (item,) = typing.get_args(tp)[:1] or (str,)
        return (f"a list of {plural.get(item, str(item))} (in TOML `[\"a\", \"b\"]`; in the environment "
                "a comma-separated list `a,b`)")
    args = typing.get_args(tp)
    optional = type(None) in args
    inner = next((a for a in args if a is not type(None)), tp)
    text = base.get(inner, str(inner))
    if "min" in meta and "max" in meta:
        text += f" between {meta['min']} and {meta['max']}"
    elif "min" in meta:
        text += f" >= {meta['min']}"
    if optional:
        text += " (or none)"
    return text


def _coerce(value: Any, tp: Any, from_text: bool) -> Any:
    """Convert `value` to type `tp`; raise ValueError when it cannot be done faithfully."""
    args = typing.get_args(tp)
    if type(None) in args:
        if value is None or (from_text and str(value).strip().lower() in ("", "none", "null")):
            return None
        tp = next(a for a in args if a is not type(None))
    if tp is bool:
        if isinstance(value, bool):
            return value
        if from_text and str(value).strip().lower() in ("1", "true", "yes", "on"):
            return True
        if from_text and str(value).strip().lower() in ("0", "false", "no", "off"):
            return False
        raise ValueError
    if tp is int:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, int):
            return value
        if from_text:
            return int(str(value).strip())
        raise ValueError
    if tp is float:
        if isinstance(value, bool):
            raise ValueError
        if isinstance(value, (int, float)):
            return float(value)
        if from_text:
            return float(str(value).strip())
        raise ValueError
    if tp is str:
        if isinstance(value, str):
            return value
        raise ValueError
    if typing.get_origin(tp) in (list, tuple) or isinstance(tp, types.GenericAlias):
        if from_text and isinstance(value, str):
            text = value.strip()
            if text.startswith("["):
                value = json.loads(text)  # a JSON list; a malformed one is reported as invalid
            else:
                value = [v.strip() for v in text.split(",") if v.strip()]
        if not isinstance(value, (list, tuple)):
            raise ValueError
        (item_tp, *_) = typing.get_args(tp) or (str,)
        items = [_coerce(v, item_tp, from_text) for v in value]
        return tuple(items) if typing.get_origin(tp) is tuple else items
    raise ValueError


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
                          f"expected {_describe(f, tp)}")
    try:
        out = _coerce(value, tp, from_text)
    except (ValueError, TypeError, StopIteration) as exc:  # json.JSONDecodeError is a ValueError
        raise invalid from exc
    meta = f.metadata
    if out is not None and not isinstance(out, (list, tuple)) and (
            ("choices" in meta and out not in meta["choices"])
            or ("min" in meta and out < meta["min"]) or ("max" in meta and out > meta["max"])):
        raise invalid
    return out


def find_config_file(start: Path | None = None) -> tuple[Path, dict[str, Any]] | None:
    """Walk upward from `start` to the first codeward.toml, or pyproject.toml with [tool.codeward]."""
    here = (start or Path.cwd()).resolve()
    for folder in (here, *here.parents):
        own = folder / "codeward.toml"
        if own.is_file():
            return own, _read_toml(own)
        py = folder / "pyproject.toml"
        if py.is_file():
            table = _read_toml(py).get("tool", {}).get("codeward")
            if table is not None:
                return py, table
    return None


def _read_toml(path: Path) -> dict[str, Any]:
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
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
            if strict:
                raise
            problems.append(str(exc))  # type: ignore[union-attr]
            continue
        target = getattr(settings, section)
        for key, value in table.items():
            try:
                setattr(target, key, coerce_setting(section, key, value, origin, from_text))
            except ConfigError as exc:
                if strict:
                    raise
                problems.append(str(exc))  # type: ignore[union-attr]
    return settings


def load_settings(overrides: Mapping[str, Mapping[str, Any]] | None = None, *, start: Path | None = None,
                  environ: Mapping[str, str] | None = None, strict: bool = True,
                  problems: list[str] | None = None, origin: str = "options") -> Settings:
    """Defaults < TOML file < environment < `overrides` (already typed: CLI flags, LSP options); lenient mode
    (`strict=False`) needs a `problems` list to report into."""
    if not strict and problems is None:
        raise TypeError("load_settings(strict=False) needs a `problems` list to report invalid settings into")
    settings = Settings()
    found = find_config_file(start)
    if found is not None:
        path, table = found
        apply_layer(settings, table, str(path), strict=strict, problems=problems)
    env = env_overrides(os.environ if environ is None else environ)
    for section, table in env.items():
        for key, value in table.items():
            apply_layer(settings, {section: {key: value}}, f"CODEWARD_{section.upper()}_{key.upper()}",
                        from_text=True, strict=strict, problems=problems)
    if overrides:
        apply_layer(settings, overrides, origin, strict=strict, problems=problems)
    return settings


def settings_table(only: str | None = None) -> str:
    """A Markdown table of every setting, or of section `only` (generated into the README and docs/)."""
    rows = ["| key | default | environment | meaning |", "|---|---|---|---|"]
    for section, cls in SECTIONS.items():
        if only is not None and section != only:
            continue
        for f in dataclasses.fields(cls):
            default = f.default if f.default is not dataclasses.MISSING else f.default_factory()  # type: ignore[misc]
            help_text = f.metadata.get("help", "")
            if "choices" in f.metadata:
                help_text += " (" + " / ".join(str(c) for c in f.metadata["choices"]) + ")"
            rows.append(f"| `{section}.{f.name}` | `{default!r}` | `CODEWARD_{section.upper()}_{f.name.upper()}` "
                        f"| {help_text} |")
    return "\n".join(rows)


def as_dict(settings: Settings) -> dict[str, Any]:
    """Plain nested dict of the settings (for config.json and logs)."""
    return dataclasses.asdict(settings)
