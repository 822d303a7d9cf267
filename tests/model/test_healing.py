"""Token healing: the prompt's last token before the cursor is taken off, the sample must start with its text, and
the text comes back without it."""

from __future__ import annotations

import numpy as np
import pytest

from codeward.completion.pipeline import CURSOR_MARK
from codeward.model.base import Prompt, SamplingParams, Segment
from codeward.model.healing import HealIndex, healable, split_heal
from codeward.model.llamacpp.batch import Stream, StreamRules
from codeward.model.sampling import pick_token
from codeward.model.templates import get_template

VOCAB = [b"a", b"ab", b"abc", b"b", b" s", b" se", b" self", b"elf", b"\n", b"x", b"<eos>", b"(", b"()"]
EOS = VOCAB.index(b"<eos>")


def _encode(text: str) -> list[int]:
    """A toy tokenizer: longest vocabulary match first."""
    ids, data = [], text.encode()
    while data:
        best = max((i for i, p in enumerate(VOCAB) if i != EOS and data.startswith(p)), key=lambda i: len(VOCAB[i]))
        ids.append(best)
        data = data[len(VOCAB[best]):]
    return ids


def _piece(token: int) -> bytes:
    return VOCAB[token]


def test_only_short_printable_pieces_without_a_line_break_are_healed():
    assert healable(b" s") and healable(b"    ")
    assert not healable(b"") and not healable(b"\n") and not healable(b"x\n    ") and not healable(b"a" * 17)
    assert not healable("é".encode())


def test_the_cursor_segments_last_token_is_taken_off_and_returned():
    prompt = Prompt((Segment("<pre>", True), Segment("x se"), Segment("<suf>", True), Segment("x")), cursor=1)
    ids, healed = split_heal(prompt, _encode, {"<pre>": 100, "<suf>": 101}, _piece)
    assert healed == b" se" and ids == [100, VOCAB.index(b"x"), 101, VOCAB.index(b"x")]


def test_nothing_is_taken_off_without_a_cursor_or_after_a_line_break():
    for prompt in (Prompt((Segment("x se"),)), Prompt((Segment("x\n"),), cursor=0)):
        ids, healed = split_heal(prompt, _encode, {}, _piece)
        assert healed == b"" and ids == _encode(prompt.text)


def test_allowed_tokens_agree_with_what_is_owed():
    index = HealIndex(VOCAB, {EOS})
    assert {VOCAB[i] for i in index.allowed(b" se")} == {b" se", b" self", b" s"}
    assert {VOCAB[i] for i in index.allowed(b"ab")} == {b"ab", b"abc", b"a"}
    assert {VOCAB[i] for i in index.allowed(b"elf")} == {b"elf"}


def _stream(heal: bytes, logits: np.ndarray) -> Stream:
    return Stream((0, 0), 0, 0, np.random.default_rng(0), logits, heal=heal)


def _rules(stop: tuple[str, ...] = ()) -> StreamRules:
    index = HealIndex(VOCAB, {EOS})
    return StreamRules(SamplingParams(max_new_tokens=8, stop=stop), pick_token, frozenset({EOS}),
                       lambda tokens: b"".join(VOCAB[t] for t in tokens), index.allowed)


def test_a_healed_stream_takes_the_best_token_that_agrees_and_returns_the_text_after_the_healed_part():
    rules = _rules()
    logits = np.zeros(len(VOCAB))
    logits[VOCAB.index(b"x")] = 9.0  # the model's favourite disagrees with " s"
    logits[EOS] = 8.0  # so does the end of text
    logits[VOCAB.index(b" self")] = 5.0
    logits[VOCAB.index(b" s")] = 4.0
    stream = _stream(b" s", logits)
    assert rules.advance(stream) == VOCAB.index(b" self")
    stream.logits = logits  # covered: now the model's own choice, unconstrained
    assert rules.advance(stream) == VOCAB.index(b"x")
    assert stream.sample().text == "elfx"
    assert stream.logprob < 0 and np.isclose(stream.logprob, float(
        np.log(np.exp(logits[VOCAB.index(b" self")]) / np.exp(logits).sum())
        + np.log(np.exp(logits[VOCAB.index(b"x")]) / np.exp(logits).sum())))  # the raw, unmasked log-probs


def test_stops_apply_after_the_healed_text_and_an_unhealed_stream_is_untouched():
    rules = _rules(stop=("(",))
    logits = np.zeros(len(VOCAB))
    logits[VOCAB.index(b"()")] = 3.0
    healed = _stream(b"(", logits.copy())
    while rules.advance(healed) is not None:
        healed.logits = logits.copy()
    assert healed.sample().text == ")"  # the healed "(" is not a stop; the next "(" would be
    plain = _stream(b"", logits.copy())
    assert rules.advance(plain) is None and plain.sample().text == ""  # "()" hits the stop at once


def test_a_healed_stream_cut_by_the_token_limit_before_covering_the_healed_text_returns_nothing():
    index = HealIndex(VOCAB, {EOS})
    rules = StreamRules(SamplingParams(max_new_tokens=1), pick_token, frozenset({EOS}),
                        lambda tokens: b"".join(VOCAB[t] for t in tokens), index.allowed)
    logits = np.zeros(len(VOCAB))
    logits[VOCAB.index(b"a")] = 5.0  # "a" agrees with "abx" but does not cover it
    stream = _stream(b"abx", logits)
    assert rules.advance(stream) is None and stream.reason == "length" and stream.sample().text == ""


def test_the_pipeline_marks_the_prefix_end_as_the_cursor_and_not_a_padded_one():
    qwen = get_template("qwen").render_segments("x = fo" + CURSOR_MARK, "").marked(CURSOR_MARK)
    assert qwen.cursor is not None and qwen.segments[qwen.cursor].text == "x = fo" and CURSOR_MARK not in qwen.text
    llama = get_template("codellama").render_segments("x = fo" + CURSOR_MARK, "").marked(CURSOR_MARK)
    assert llama.cursor is None  # the prefix is followed by a space: the cursor ends no segment
    empty = get_template("qwen").render_segments(CURSOR_MARK, "").marked(CURSOR_MARK)
    assert empty.cursor is None and all(s.text for s in empty.segments)
    chat = get_template("chat").render_segments("x = fo" + CURSOR_MARK, "").marked(CURSOR_MARK)
    assert chat.cursor is None and CURSOR_MARK not in chat.text  # the code sits inside the user's message


@pytest.mark.parametrize(("prefix", "continuation"), [("print('hello wor", "ld"), ("for i in ran", "ge(")])
def test_a_real_model_completes_the_cut_word_in_its_own_tokens(llama_engine, prefix, continuation):
    # SmolLM2 greedy, as measured: without healing it writes "f')" after "wor" and "_list:" after "ran"
    [[sample]] = llama_engine.generate([Prompt((Segment(prefix),), cursor=0)],
                                       SamplingParams(max_new_tokens=4, heal=True))
    assert sample.text.startswith(continuation)
