"""What a valid value of a settings field is: converting TOML, environment text and editor values to the field's
type (`coerce`), and saying what the field accepts (`describe`) in the message of an invalid setting. Imports nothing
of the project, so the config loader may use it."""

from __future__ import annotations

import dataclasses
import json
import math
import types
import typing
from typing import Any


def describe(f: dataclasses.Field, tp: Any) -> str:
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


def coerce(value: Any, tp: Any, from_text: bool) -> Any:
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
            out = float(value)
        elif from_text:
            out = float(str(value).strip())
        else:
            raise ValueError
        if not math.isfinite(out):  # nan slips past every min/max comparison; inf is no useful setting either
            raise ValueError
        return out
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
        items = [coerce(v, item_tp, from_text) for v in value]
        return tuple(items) if typing.get_origin(tp) is tuple else items
    raise ValueError
