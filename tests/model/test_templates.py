"""Golden tests for the prompt templates, their stop strings and family detection."""

from __future__ import annotations

import pytest

from codeward.model.base import EngineInfo
from codeward.model.templates import CURSOR_MARK, get_template, select_template, template_names

PREFIX = "def add(a, b):\n    "
SUFFIX = "\n\nprint(add(1, 2))\n"

GOLDEN = {
    "starcoder": "<fim_prefix>def add(a, b):\n    <fim_suffix>\n\nprint(add(1, 2))\n<fim_middle>",
    "codellama": "<PRE> def add(a, b):\n     <SUF>\n\nprint(add(1, 2))\n <MID>",
    "deepseek": "<｜fim▁begin｜>def add(a, b):\n    <｜fim▁hole｜>\n\nprint(add(1, 2))\n<｜fim▁end｜>",
    "qwen": "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|>\n\nprint(add(1, 2))\n<|fim_middle|>",
    "codestral": "[SUFFIX]\n\nprint(add(1, 2))\n[PREFIX]def add(a, b):\n    ",
    "prefix": "def add(a, b):\n    ",
}

STOPS = {
    "starcoder": "<|endoftext|>", "codellama": "<EOT>", "deepseek": "<|EOT|>", "qwen": "<|endoftext|>",
    "codestral": "</s>", "chat": "<|im_end|>",
}


@pytest.mark.parametrize("name", sorted(GOLDEN))
def test_render_matches_golden(name: str) -> None:
    assert get_template(name).render(PREFIX, SUFFIX) == GOLDEN[name]


@pytest.mark.parametrize("name", sorted(STOPS))
def test_family_stop_strings(name: str) -> None:
    assert STOPS[name] in get_template(name).stop


def test_prefix_template_ignores_suffix_and_has_no_stops() -> None:
    template = get_template("prefix")
    assert template.kind == "prefix"
    assert template.render(PREFIX) == template.render(PREFIX, SUFFIX) == PREFIX
    assert template.stop == ()


def test_fim_without_suffix_keeps_sentinels() -> None:
    assert get_template("qwen").render(PREFIX) == "<|fim_prefix|>def add(a, b):\n    <|fim_suffix|><|fim_middle|>"


def test_codestral_is_suffix_first_so_the_prefix_comes_last() -> None:
    template = get_template("codestral")
    assert template.suffix_first
    # While typing only the prefix grows: consecutive prompts share everything but the tail.
    first, second = template.render("x = ", SUFFIX), template.render("x = 1", SUFFIX)
    assert second.startswith(first)


def test_chat_template_asks_for_the_code_at_the_cursor_and_opens_the_answer() -> None:
    template = get_template("chat")
    prompt = template.render(PREFIX, SUFFIX)
    assert template.kind == "chat"
    assert prompt.startswith("<|im_start|>system\n")
    assert f"{PREFIX}{CURSOR_MARK}{SUFFIX}" in prompt
    assert prompt.endswith("<|im_start|>assistant\n```python\n")
    assert "```" in template.stop  # the closing fence ends the answer


def test_names_are_case_insensitive_and_aliases_resolve() -> None:
    assert get_template("StarCoder2").name == "starcoder"
    assert get_template("deepseek-coder").name == "deepseek"
    assert get_template("Qwen2.5-Coder").name == "qwen"


def test_unknown_name_lists_known_templates() -> None:
    with pytest.raises(ValueError) as info:
        get_template("gpt5")
    message = str(info.value)
    assert "'gpt5'" in message
    for name in template_names():
        assert name in message


@pytest.mark.parametrize(("tokens", "expected"), [
    ({"<fim_prefix>", "<fim_suffix>", "<fim_middle>", "<|endoftext|>"}, "starcoder"),
    ({"▁<PRE>", "▁<SUF>", "▁<MID>", "▁<EOT>"}, "codellama"),
    ({"<PRE>", "<SUF>", "<MID>", "<EOT>"}, "codellama"),
    ({"<｜fim▁begin｜>", "<｜fim▁hole｜>", "<｜fim▁end｜>"}, "deepseek"),
    ({"<|fim_prefix|>", "<|fim_suffix|>", "<|fim_middle|>", "<|im_start|>"}, "qwen"),
    ({"[SUFFIX]", "[PREFIX]", "[INST]"}, "codestral"),
    ({"<|im_start|>", "<|im_end|>", "<|endoftext|>"}, "prefix"),
    ({"<fim_prefix>"}, "prefix"),  # an incomplete FIM set is not enough
])
def test_auto_detects_from_special_tokens(tokens: set[str], expected: str) -> None:
    info = EngineInfo(engine="x", model="some-model", special_tokens=frozenset(tokens))
    assert select_template("auto", info).name == expected


@pytest.mark.parametrize(("model", "expected"), [
    ("bigcode/starcoder2-3b", "starcoder"),
    ("/models/codellama-7b.Q4_K_M.gguf", "codellama"),
    ("deepseek-ai/deepseek-coder-1.3b-base", "deepseek"),
    ("Qwen/Qwen2.5-Coder-1.5B", "qwen"),
    ("mistralai/Codestral-22B-v0.1", "codestral"),
    ("Qwen/Qwen2.5-7B-Instruct", "prefix"),
    ("embedded:SmolLM2-135M-Instruct.Q4_1", "prefix"),
])
def test_auto_detects_from_model_name(model: str, expected: str) -> None:
    assert select_template("auto", EngineInfo(engine="x", model=model)).name == expected


def test_explicit_name_overrides_detection() -> None:
    info = EngineInfo(engine="x", model="Qwen/Qwen2.5-Coder-1.5B")
    assert select_template("prefix", info).name == "prefix"
    assert select_template("chat", info).name == "chat"
