"""Token healing: a prompt cut mid-word is backed up over its last token and the sample must start with that text.

A cursor inside a word leaves the prompt's last token a fragment the model rarely saw before its continuation:
`            s` ends in the token ` s`, after which `elf` is unlikely, because training text spells ` self` as one
token. Taking the fragment off the prompt and allowing as first tokens only those that agree with it lets the
model complete the word in its own tokens (`self`). The engine asks `HealIndex.allowed` for the tokens that agree
with what is still owed, step by step, until the sample has covered the fragment, and returns the sample without it.
"""

from __future__ import annotations

import bisect
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from codeward.model.base import Prompt, PromptLike, as_prompt, encode_segments

MAX_HEAL_BYTES = 16  # a longer last token is a whole word or run of spaces: nothing to heal


def healable(piece: bytes) -> bool:
    """Whether a token of this text may be taken off the end of a prompt: printable ASCII, no line break (a line
    break ends what the user typed; a stop may be a line break), and short."""
    return 0 < len(piece) <= MAX_HEAL_BYTES and all(32 <= b < 127 for b in piece)


def split_heal(prompt: PromptLike, encode_text: Callable[[str], list[int]], specials: Mapping[str, int],
               piece: Callable[[int], bytes]) -> tuple[list[int], bytes]:
    """The prompt's token ids (no BOS) with the last token of its cursor segment taken off when `healable`, and
    that token's text (b"" when nothing was taken off). Segments are tokenized one by one (`encode_segments`), so
    the ids up to the cursor segment end with that segment's last token."""
    prompt = as_prompt(prompt)
    if prompt.cursor is None:
        return encode_segments(prompt, encode_text, specials), b""
    head = encode_segments(Prompt(prompt.segments[: prompt.cursor + 1]), encode_text, specials)
    tail = encode_segments(Prompt(prompt.segments[prompt.cursor + 1:]), encode_text, specials)
    if head and healable(piece(head[-1])):
        return head[:-1] + tail, piece(head[-1])
    return head + tail, b""


class HealIndex:
    """The vocabulary's plain tokens by their text, to find those that agree with the text a sample still owes."""

    def __init__(self, pieces: Sequence[bytes], special: set[int]) -> None:
        """`pieces[i]`: token i's text; `special`: ids never allowed (control tokens, end of text)."""
        pairs = sorted((p, i) for i, p in enumerate(pieces) if p and i not in special)
        self._texts = [p for p, _ in pairs]
        self._ids = np.array([i for _, i in pairs], dtype=np.int64)
        self._by_text: dict[bytes, list[int]] = {}
        for p, i in pairs:
            self._by_text.setdefault(p, []).append(i)

    def allowed(self, owed: bytes) -> np.ndarray:
        """Ids of the tokens a sample that still owes `owed` may take next: those whose text starts with all of
        it, and those whose text is a shorter start of it."""
        start = bisect.bisect_left(self._texts, owed)  # the texts that start with `owed` sort together from here
        if owed[-1] < 255:
            end = bisect.bisect_left(self._texts, owed[:-1] + bytes([owed[-1] + 1]), start)
        else:
            end = start
            while end < len(self._texts) and self._texts[end].startswith(owed):
                end += 1
        shorter = [i for k in range(1, len(owed)) for i in self._by_text.get(owed[:k], ())]
        return np.concatenate([self._ids[start:end], np.array(shorter, dtype=np.int64)])


def owed(healed: bytes, generated: bytes) -> bytes:
    """What of the healed text a sample that generated `generated` still owes (b"" once covered)."""
    return healed[len(generated):] if len(generated) < len(healed) else b""


def mask(logits: np.ndarray, allowed: np.ndarray) -> np.ndarray:
    """`logits` with every token outside `allowed` impossible."""
    out = np.full_like(logits, -np.inf)
    out[allowed] = logits[allowed]
    return out
