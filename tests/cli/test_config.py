"""Config layering (defaults < TOML < env < flags) and the messages for invalid settings."""

from __future__ import annotations

import pytest

from codeward.cli.docs import settings_table
from codeward.config import ConfigError, Settings, apply_layer, coerce_setting, load_settings


def test_defaults(tmp_path):
    s = load_settings(start=tmp_path, environ={})
    assert s.engine.engine == "llamacpp" and s.engine.model == "qwen2.5-coder-0.5b" and s.engine.n == 1


def test_layers_in_order(tmp_path):
    (tmp_path / "codeward.toml").write_text('[engine]\ntemperature = 0.4\nn = 3\nmax_new_tokens = 20\n')
    sub = tmp_path / "a" / "b"
    sub.mkdir(parents=True)
    s = load_settings(start=sub, environ={"CODEWARD_ENGINE_N": "5"})
    assert (s.engine.temperature, s.engine.n, s.engine.max_new_tokens) == (0.4, 5, 20)
    s = load_settings({"engine": {"n": 7}}, start=sub, environ={"CODEWARD_ENGINE_N": "5"})
    assert s.engine.n == 7 and s.engine.temperature == 0.4


def test_pyproject_tool_table(tmp_path):
    (tmp_path / "pyproject.toml").write_text('[project]\nname="x"\n[tool.codeward.engine]\nseed = 11\n')
    assert load_settings(start=tmp_path, environ={}).engine.seed == 11


def test_pyproject_without_table_is_skipped(tmp_path):
    (tmp_path / "codeward.toml").write_text('[engine]\nseed = 3\n')
    inner = tmp_path / "proj"
    inner.mkdir()
    (inner / "pyproject.toml").write_text('[project]\nname="x"\n')
    assert load_settings(start=inner, environ={}).engine.seed == 3


@pytest.mark.parametrize("env,needle", [
    ({"CODEWARD_ENGINE_TEMPERATURE": "hot"}, "engine.temperature = 'hot' (from CODEWARD_ENGINE_TEMPERATURE)"),
    ({"CODEWARD_ENGINE_ENGINE": "gpt"}, "one of 'llamacpp', 'transformers', 'openai'"),
    ({"CODEWARD_ENGINE_TOP_P": "1.5"}, "between 0.0 and 1.0"),
    ({"CODEWARD_ENGINE_N": "0"}, "an integer >= 1"),
    ({"CODEWARD_ENGINE_TEMPERATURE": "nan"}, "a number >= 0.0"),
    ({"CODEWARD_ENGINE_TOP_P": "inf"}, "a number between"),
])
def test_invalid_env_is_named(tmp_path, env, needle):
    with pytest.raises(ConfigError) as err:
        load_settings(start=tmp_path, environ=env)
    assert needle in str(err.value)


def test_invalid_toml_key_and_type(tmp_path):
    (tmp_path / "codeward.toml").write_text('[engine]\ntemprature = 0.2\n')
    with pytest.raises(ConfigError, match=r"unknown setting engine.temprature .*known keys"):
        load_settings(start=tmp_path, environ={})
    (tmp_path / "codeward.toml").write_text('[engine]\nn = "three"\n')
    with pytest.raises(ConfigError, match=r"engine.n = 'three'"):
        load_settings(start=tmp_path, environ={})
    (tmp_path / "codeward.toml").write_text('[engine\n')
    with pytest.raises(ConfigError, match="cannot parse"):
        load_settings(start=tmp_path, environ={})


def test_lenient_mode_keeps_defaults_and_reports(tmp_path):
    problems: list[str] = []
    s = load_settings({"engine": {"n": -2, "seed": 4}, "nosuch": {}}, start=tmp_path, environ={}, strict=False,
                      problems=problems)
    assert s.engine.n == 1 and s.engine.seed == 4
    assert len(problems) == 2 and any("engine.n" in p for p in problems)


def test_lenient_mode_needs_a_list_to_report_into(tmp_path):
    with pytest.raises(TypeError, match="problems"):
        load_settings({"engine": {"n": -2}}, start=tmp_path, environ={}, strict=False)
    with pytest.raises(TypeError, match="problems"):
        apply_layer(Settings(), {"engine": {"n": -2}}, "test", strict=False)


def test_invalid_value_raises_with_its_cause():
    with pytest.raises(ConfigError, match=r"engine.n = 'x'") as info:
        coerce_setting("engine", "n", "x", "test", from_text=True)
    assert isinstance(info.value.__cause__, ValueError)


def test_settings_table_lists_every_section():
    table = settings_table()
    for key in ("engine.temperature", "safety.on_high", "context.prefix_tokens", "eval.timeout_s"):
        assert f"`{key}`" in table


def test_env_typo_under_a_known_section_is_reported(tmp_path):
    with pytest.raises(ConfigError, match=r"unknown setting engine.temprature .*CODEWARD_ENGINE_TEMPRATURE"):
        load_settings(start=tmp_path, environ={"CODEWARD_ENGINE_TEMPRATURE": "1"})
    # other CODEWARD_* names (the API key variable, tools' own variables) are not settings and stay unread
    assert load_settings(start=tmp_path, environ={"CODEWARD_API_KEY": "x", "CODEWARD_NVIM_CMD": "y"}).engine.n == 1


def test_list_settings_from_env_and_their_message(tmp_path):
    for text in ("B311,CW101", '["B311", "CW101"]'):
        s = load_settings(start=tmp_path, environ={"CODEWARD_SAFETY_DISABLED_RULES": text})
        assert s.safety.disabled_rules == ["B311", "CW101"]
    (tmp_path / "codeward.toml").write_text('[safety]\ndisabled_rules = "B311"\n')
    with pytest.raises(ConfigError, match="expected a list of strings"):
        load_settings(start=tmp_path, environ={})
