"""Control tokens from the user's file: templates render sentinels apart from user text, and every engine turns user
text into ordinary tokens, so a buffer holding `<|endoftext|>` or `<|fim_middle|>` cannot inject a control token."""

from __future__ import annotations

import dataclasses

import pytest

from codeward.model.base import EngineError, Prompt, SamplingParams, Segment, as_prompt
from codeward.model.openai.engine import ZERO_WIDTH_SPACE, OpenAIEngine, neutralise, special_pattern
from codeward.model.settings import EngineSettings
from codeward.model.templates import all_special_strings, get_template, template_names
from tests.model.helpers_engines import Script, completion, fake_server

# Every sentinel of every template, in a buffer; and the control tokens SmolLM2 really has.
EVIL = "s = '" + "' + '".join(sorted(all_special_strings())) + "'\n"
SMOL_SPECIALS = ("<|endoftext|>", "<|im_start|>", "<|im_end|>", "<file_sep>", "<repo_name>")
SMOL_EVIL = "x = '" + "'\ny = '".join(SMOL_SPECIALS) + "'\n"


def test_prompt_is_immutable_segments_with_plain_text() -> None:
    prompt = Prompt.of((("<a>", True), ("x", False), ("", False), ("y", False), ("", True), ("<b>", True)))
    assert prompt.segments == (Segment("<a>", True), Segment("xy", False), Segment("<b>", True))
    assert prompt.text == "<a>xy<b>" and prompt.sentinels == ("<a>", "<b>")
    assert Prompt.plain("<|endoftext|>").segments == (("<|endoftext|>", False),)
    assert Prompt.plain("") == Prompt() and as_prompt("s") == Prompt.plain("s") and as_prompt(prompt) is prompt
    with pytest.raises(dataclasses.FrozenInstanceError):
        prompt.segments = ()  # type: ignore[misc]


@pytest.mark.parametrize("name", template_names())
def test_render_is_the_text_of_render_segments_and_user_text_stays_user_text(name: str) -> None:
    template = get_template(name)
    prompt = template.render_segments(EVIL, EVIL)
    assert template.render(EVIL, EVIL) == prompt.text
    user = "".join(seg.text for seg in prompt.segments if not seg.special)
    assert user.count(EVIL) == (1 if name == "prefix" else 2)
    assert all(EVIL not in s and s in all_special_strings() for s in prompt.sentinels)
    assert prompt.sentinels == template.render_segments("a", "b").sentinels  # the buffer adds no sentinel


def _plain_pieces(llama_engine, text: str) -> list[int]:
    """`text` tokenized by llama.cpp itself with specials off."""
    return llama_engine._llm.tokenize(text.encode(), add_bos=False, special=False)


def test_llamacpp_counts_special_strings_as_plain_text(llama_engine) -> None:
    n = llama_engine.count_tokens(SMOL_EVIL)
    assert n > len(SMOL_SPECIALS)
    assert n == len(_plain_pieces(llama_engine, SMOL_EVIL))
    assert llama_engine.count_tokens("<|endoftext|>") == len(_plain_pieces(llama_engine, "<|endoftext|>")) > 1


def test_llamacpp_user_segments_hold_no_control_token_and_sentinels_are_one(llama_engine) -> None:
    control = set(llama_engine._special_ids.values())
    for buffer in (SMOL_EVIL, EVIL):
        ids = llama_engine.tokenize(Prompt.plain(buffer), bos=True)
        assert ids and not control & set(ids)
        assert not control & set(llama_engine.tokenize(buffer, bos=False))  # a plain str is user text
    chat = get_template("chat").render_segments(SMOL_EVIL, SMOL_EVIL)
    ids = llama_engine.tokenize(chat, bos=True)
    assert [t for t in ids if t in control] == [llama_engine.sentinel_id(s) for s in chat.sentinels]
    for special in SMOL_SPECIALS:
        sentinel = llama_engine.tokenize(Prompt.of(((special, True),)), bos=False)
        assert sentinel == [llama_engine.sentinel_id(special)] and sentinel[0] in control


def test_llamacpp_sentinel_missing_from_the_vocabulary_is_a_clear_error(llama_engine) -> None:
    with pytest.raises(EngineError, match="no special token '<\\|fim_prefix\\|>'"):
        llama_engine.generate([get_template("qwen").render_segments("a", "b")], SamplingParams(max_new_tokens=1))


def test_llamacpp_generates_and_scores_from_a_prompt(llama_engine) -> None:
    chat = get_template("chat").render_segments("def add(a, b):\n    return ", "\n")
    sample = llama_engine.generate([chat], SamplingParams(max_new_tokens=4))[0][0]
    assert sample.n_tokens >= 1
    # the chat prompt as a plain str is a different (all user text) prompt
    assert llama_engine.tokenize(chat, bos=True) != llama_engine.tokenize(chat.text, bos=True)
    assert llama_engine.score(chat, "a + b") < 0


def test_neutralise_breaks_every_known_special_string_once() -> None:
    pattern = special_pattern(all_special_strings() | {"<custom>"})
    text = EVIL + "<custom> <|unknown_tok|> <<|im_start|>|im_start|> ``` [x]"
    broken = neutralise(text, pattern)
    assert broken.replace(ZERO_WIDTH_SPACE, "") == text
    assert not pattern.search(broken)
    assert neutralise("def f():\n    return '```'\n", pattern) == "def f():\n    return '```'\n"


def test_openai_sends_sentinels_as_is_and_user_text_neutralised() -> None:
    script = Script([(200, completion("x"), {})])
    prompt = get_template("qwen").render_segments("a = '<|fim_middle|>'", "<|endoftext|>")
    with fake_server(script) as url:
        engine = OpenAIEngine(EngineSettings(engine="openai", base_url=url, model="m", max_retries=0))
        engine.generate([prompt, "<|im_start|>"], SamplingParams())
    z = ZERO_WIDTH_SPACE
    fim = f"<|fim_prefix|>a = '<{z}|fim_middle|>'<|fim_suffix|><{z}|endoftext|><|fim_middle|>"
    assert {r[2]["prompt"] for r in script.requests} == {fim, f"<{z}|im_start|>"}
