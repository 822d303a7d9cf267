"""Chat prompts through the model's own chat template (the GGUF's `tokenizer.chat_template`, Jinja).

The template runs in jinja2's ImmutableSandboxedEnvironment (as llama-cpp-python's chat formatter does), once, with
unique placeholder strings as the message contents. The rendered text is split at the placeholders: the user's text
goes in as plain segments per request, and of the template-authored text only pieces equal to one of the model's
control tokens become special segments. A buffer holding `<|im_end|>` therefore stays plain text, and what the
engine reads is exactly what the template renders for the real messages.
"""

from __future__ import annotations

import json
import logging
import re
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any, NoReturn

from codeward.model.base import Prompt, Segment

log = logging.getLogger(__name__)

SYSTEM, USER = "system", "user"  # the message slots a rendered skeleton holds


class ChatTemplateError(ValueError):
    """The model's chat template cannot render our conversation; the message says why and what happens instead."""


def _raise(message: str) -> NoReturn:
    raise ChatTemplateError(f"the chat template raised: {message}")


def _tojson(value: Any, indent: int | None = None, ensure_ascii: bool = False) -> str:
    """transformers' `tojson` filter (Jinja's own escapes HTML, which chat templates do not expect)."""
    return json.dumps(value, indent=indent, ensure_ascii=ensure_ascii)


def _strftime_now(fmt: str = "%Y-%m-%d %H:%M:%S") -> str:
    """The date helper llama-cpp-python gives templates (Llama 3.1 prints today's date in its system turn)."""
    return datetime.now().strftime(fmt)


def render_chat_template(source: str, messages: list[dict[str, str]], *, eos_token: str = "") -> str:
    """`source` rendered in a sandbox for `messages`, with the generation prompt, the way llama-cpp-python and
    transformers render chat templates. `bos_token` is empty: the engine adds BOS itself where the model wants it."""
    import jinja2
    from jinja2.sandbox import ImmutableSandboxedEnvironment

    env = ImmutableSandboxedEnvironment(loader=jinja2.BaseLoader(), trim_blocks=True, lstrip_blocks=True,
                                        extensions=["jinja2.ext.loopcontrols"])
    env.filters["tojson"] = _tojson
    try:
        template = env.from_string(source)
        return template.render(messages=messages, add_generation_prompt=True, bos_token="", eos_token=eos_token,
                               raise_exception=_raise, strftime_now=_strftime_now)
    except ChatTemplateError:
        raise
    except (jinja2.TemplateError, ArithmeticError, LookupError, TypeError, ValueError, RecursionError) as exc:
        # The template is the model file's code: whatever it raises means it cannot render this conversation.
        raise ChatTemplateError(f"the chat template failed: {type(exc).__name__}: {exc}") from exc


def split_specials(text: str, specials: Iterable[str]) -> tuple[Segment, ...]:
    """Template-authored `text` as segments: each occurrence of a control token special, the rest plain."""
    tokens = sorted({s for s in specials if s}, key=len, reverse=True)  # longest first: `<|im_start|>` vs `<|im`
    if not tokens or not text:
        return Prompt.plain(text).segments
    pattern = re.compile("|".join(re.escape(t) for t in tokens))
    parts: list[Segment] = []
    pos = 0
    for match in pattern.finditer(text):
        parts += [Segment(text[pos:match.start()], False), Segment(match.group(), True)]
        pos = match.end()
    parts.append(Segment(text[pos:], False))
    return Prompt.of(parts).segments


_PAD = " \n"  # probes whether a template strips the whitespace around a message (`| trim`, as Llama 3's does)
_STEM = "codeward-slot"


@dataclass(frozen=True)
class Slot:
    """Where a message's text goes, and which ends of it the template strips."""

    name: str  # SYSTEM or USER
    strip_start: bool = False
    strip_end: bool = False

    def fill(self, text: str) -> Segment:
        """`text` as plain user text, stripped as the template would strip it."""
        if self.strip_start:
            text = text.lstrip()
        if self.strip_end:
            text = text.rstrip()
        return Segment(text, False)


@dataclass(frozen=True)
class ChatFormat:
    """A model's chat template rendered once around placeholders: template segments and message slots, in order."""

    pieces: tuple[Segment | Slot, ...]

    def render(self, system: str, user: str, answer_start: str = "") -> Prompt:
        """The conversation with `system` and `user` in their slots as plain text, then the answer's opening."""
        content = {SYSTEM: system, USER: user}
        parts = [p.fill(content[p.name]) if isinstance(p, Slot) else p for p in self.pieces]
        return Prompt.of((*parts, Segment(answer_start, False)))


def _messages(marks: dict[str, str], merge_system: bool) -> list[dict[str, str]]:
    """The conversation with each placeholder padded by `_PAD` on both sides."""
    system, user = (f"{_PAD}{m}{_PAD}" for m in marks)
    if merge_system:
        return [{"role": "user", "content": f"{system}\n\n{user}"}]
    return [{"role": "system", "content": system}, {"role": "user", "content": user}]


def _skeleton(source: str, specials: frozenset[str], eos_token: str, merge_system: bool) -> ChatFormat:
    """Render `source` around placeholders and split it; ChatTemplateError when a placeholder is lost or mangled."""
    stem = f"{_STEM}-{secrets.token_hex(8)}"
    marks = {f"[{stem}-{SYSTEM}]": SYSTEM, f"[{stem}-{USER}]": USER}
    rendered = render_chat_template(source, _messages(marks, merge_system), eos_token=eos_token)
    pad = re.escape(_PAD)
    found = re.compile(f"({pad})?(" + "|".join(re.escape(m) for m in marks) + f")({pad})?")
    pieces: list[Segment | Slot] = []
    pos = 0
    for match in [*found.finditer(rendered), None]:
        authored = rendered[pos:match.start() if match else len(rendered)]
        if _STEM in authored.lower():
            raise ChatTemplateError("the chat template changes the message text (a placeholder came out altered)")
        pieces += split_specials(authored, specials)
        if match:
            pieces.append(Slot(marks[match.group(2)], match.group(1) is None, match.group(3) is None))
            pos = match.end()
    missing = [name for name in (SYSTEM, USER) if not any(isinstance(p, Slot) and p.name == name for p in pieces)]
    if missing:
        raise ChatTemplateError(f"the chat template left out the {missing[0]} message")
    return ChatFormat(tuple(pieces))


def compile_chat_format(source: str, specials: frozenset[str], *, eos_token: str = "") -> ChatFormat:
    """The model's chat template `source` as a ChatFormat; templates without a system role get the system text
    at the head of the user message. ChatTemplateError when neither renders."""
    try:
        return _skeleton(source, specials, eos_token, merge_system=False)
    except ChatTemplateError as first:
        try:
            return _skeleton(source, specials, eos_token, merge_system=True)
        except ChatTemplateError:
            raise first from None


@lru_cache(maxsize=8)
def model_chat_format(source: str, specials: frozenset[str], *, eos_token: str = "",
                      model: str = "the model") -> ChatFormat | None:
    """`compile_chat_format`, or None (with a warning naming `model`) when the template is unusable or jinja2 is
    missing: the caller then falls back to ChatML. Cached, so a server that rebuilds its pipeline warns once."""
    if not source.strip():
        return None
    try:
        return compile_chat_format(source, specials, eos_token=eos_token)
    except ImportError as exc:
        log.warning("jinja2 is not installed (%s), so %s's own chat template cannot be used; chat prompts use "
                    "ChatML. Install jinja2 to use the model's template.", exc, model)
    except ChatTemplateError as exc:
        log.warning("%s's chat template (GGUF tokenizer.chat_template) cannot be used: %s; chat prompts use "
                    "ChatML instead (set [engine] template to a FIM or prefix template if the model does not "
                    "understand ChatML)", model, exc)
    return None
