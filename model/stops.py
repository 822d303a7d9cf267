"""Named stop-sequence presets, and cutting sample text at a stop or at a split character."""

from __future__ import annotations

import codecs

# The Codex paper's stops for completing one function body (Chen et al. 2021, section 3.3).
CODEX_STOPS: tuple[str, ...] = ("\nclass", "\ndef", "\n#", "\nif", "\nprint")

PRESETS: dict[str, tuple[str, ...]] = {"codex": CODEX_STOPS, "none": ()}


def stop_preset(name: str) -> tuple[str, ...]:
    """Stop sequences of a named preset; a clear error names the known presets."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown stop preset {name!r}; known presets: {', '.join(PRESETS)}") from None


def find_stop(text: str, stops: tuple[str, ...]) -> int:
    """Index of the earliest stop sequence in `text`, or -1."""
    hits = [i for i in (text.find(s) for s in stops if s) if i >= 0]
    return min(hits) if hits else -1


def decode_complete(data: bytes) -> str:
    """UTF-8 text of `data` without a trailing incomplete character (a multi-byte character split across tokens)."""
    return codecs.getincrementaldecoder("utf-8")("replace").decode(data, final=False)


def strip_partial_char(text: str) -> str:
    """`text` without the U+FFFD run a decoder leaves at the end when a character's last bytes were not generated."""
    return text.rstrip("\ufffd")
