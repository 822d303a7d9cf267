"""Eval sampling through the completion pipeline, with a scripted engine: what is recorded per sample, which
filters ran, seeds, resume, and the infilling document and middle."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from codeward.completion.settings import PipelineSettings
from codeward.eval.datasets import Problem
from codeward.eval.generate import SamplingPlan, done_indices, eval_pipeline_settings, sample_run, task_seed
from codeward.eval.passk.infilling import infill_request, middle_of, task_kind, whole_lines
from codeward.model.stops import CODEX_STOPS
from tests.pipeline.conftest import ScriptedEngine

TASK = Problem(task_id="t/add", prompt='def add(a, b):\n    """Sum."""\n', entry_point="add",
               test="def check(candidate):\n    assert candidate(2, 3) == 5\n")
# One body, then a second function the model went on to write: the scope filter cuts it off.
TEXTS = ["    return a + b\n\ndef other():\n    pass", "    return a - b", "def other():\n    pass"]


def _run(tmp_path: Path, plan: SamplingPlan, engine: ScriptedEngine | None = None,
         tasks: tuple[str, ...] = ("t/add",)) -> list[dict]:
    engine = engine or ScriptedEngine(TEXTS)
    out = tmp_path / "samples.jsonl"
    sample_run(engine, PipelineSettings(), plan, {"t/add": TASK}, list(tasks), out, progress=False)
    return [json.loads(line) for line in out.read_text().splitlines()]


def test_rows_record_each_sample_through_the_pipeline(tmp_path):
    engine = ScriptedEngine(TEXTS)
    rows = _run(tmp_path, SamplingPlan(temperatures=(0.8,), n=3, template="prefix"), engine)
    assert [r["sample_idx"] for r in rows] == [0, 1, 2]
    first = rows[0]
    assert first["completion"] == "    return a + b"  # the pipeline's scope filter cut the second function
    assert first["raw"] == TEXTS[0]
    assert {"task_id", "completion", "model", "temperature", "arm", "sample_idx", "logprob_sum", "n_tokens",
            "finish_reason", "verdict", "dropped_by", "findings", "template"} <= set(first)
    assert first["temperature"] == 0.8 and first["arm"] == "all" and first["template"] == "prefix"
    assert first["verdict"] in ("allow", "warn", "block", "error")  # safety ran and recorded its verdict
    # Every sample is kept: a sample the pipeline rejects is an empty completion with the filter named.
    assert len(rows) == 3
    broken = rows[2]
    assert broken["completion"] == "" and broken["dropped_by"] and broken["verdict"] == "dropped"
    prompts, params = engine.calls[0]
    assert prompts[0].text.endswith(TASK.prompt)  # the prompt is the task, the cursor at its end
    assert set(CODEX_STOPS) <= set(params.stop) and params.n == 3 and params.temperature == 0.8
    assert params.top_p == 0.95 and params.max_new_tokens == 512
    assert params.seed == task_seed(0, "t/add", 0.8)


def test_raw_skips_postprocess_and_safety(tmp_path):
    rows = _run(tmp_path, SamplingPlan(temperatures=(0.2,), n=1, template="prefix", raw=True))
    assert rows[0]["completion"] == TEXTS[0] == rows[0]["raw"]
    assert rows[0]["verdict"] == "unchecked"


def test_a_sweep_samples_each_temperature_and_resume_adds_only_what_is_missing(tmp_path):
    plan = SamplingPlan(temperatures=(0.2, 0.8), n=2, template="prefix")
    rows = _run(tmp_path, plan)
    assert sorted({r["temperature"] for r in rows}) == [0.2, 0.8] and len(rows) == 4
    # A run killed after writing one row of a task: the resumed run adds the missing index only.
    out = tmp_path / "samples.jsonl"
    lines = out.read_text().splitlines()
    out.write_text("\n".join(lines[:3]) + "\n" + lines[3][:20])  # the last row torn mid-write
    engine = ScriptedEngine(TEXTS)
    sample_run(engine, PipelineSettings(), plan, {"t/add": TASK}, ["t/add"], out, progress=False)
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    keys = [(r["temperature"], r["sample_idx"]) for r in rows]
    assert sorted(keys) == [(0.2, 0), (0.2, 1), (0.8, 0), (0.8, 1)]
    assert len(engine.calls) == 1  # only T=0.8 was sampled again
    assert done_indices(out)[("scripted", 0.8, "all", "t/add")] == {0, 1}


def test_task_seeds_differ_by_task_and_temperature_and_repeat():
    seeds = {task_seed(0, t, temp) for t in ("a", "b") for temp in (0.2, 0.8)}
    assert len(seeds) == 4
    assert task_seed(0, "a", 0.2) == task_seed(0, "a", 0.2) != task_seed(1, "a", 0.2)


def test_function_completion_settings_have_no_line_limit():
    settings = eval_pipeline_settings(PipelineSettings(), SamplingPlan(temperatures=(0.2,)), 0.2)
    assert settings.completion.mode == "multi" and settings.completion.max_lines >= 1000
    assert settings.context.suffix_tokens == 0 and settings.engine.temperature == 0.2


INFILL = Problem(task_id="SingleLineInfilling/HumanEval/0/L2", prompt="def f(x):\n    y = x + 1\n",
                 entry_point="f", test="def check(c):\n    assert c(1) == 4\n",
                 canonical_solution="    y = y * 2\n", suffix="    return y\n")
SPAN = Problem(task_id="RandomSpanInfilling/HumanEval/0/0", prompt="def f(x):\n    return max(x", entry_point="f",
               test="def check(c):\n    assert c(1) == 1\n", canonical_solution=", 0", suffix=")\n")


def test_a_whole_line_hole_is_an_empty_line_with_the_cursor_at_its_start():
    request = infill_request(INFILL)
    assert whole_lines(INFILL) and not whole_lines(SPAN)
    assert request.text == INFILL.prompt + "\n" + INFILL.suffix
    assert (request.line, request.column) == (2, 0)
    lines = request.text.split("\n")
    assert lines[2] == "" and lines[3] == "    return y"


def test_a_span_hole_has_the_cursor_mid_line():
    request = infill_request(SPAN)
    assert request.text == SPAN.prompt + SPAN.suffix
    assert (request.line, request.column) == (1, len("    return max(x"))


@pytest.mark.parametrize("kind", ["SingleLineInfilling", "MultiLineInfilling", "RandomSpanInfillingLight"])
def test_task_kinds(kind):
    assert task_kind(f"{kind}/HumanEval/3/L1") == {"SingleLineInfilling": "single-line",
                                                   "MultiLineInfilling": "multi-line",
                                                   "RandomSpanInfillingLight": "random-span"}[kind]


def test_the_middle_goes_between_prefix_and_suffix():
    from codeward.completion.types import Suggestion, TextRange

    def suggestion(text: str, replace_after: int = 0) -> Suggestion:
        return Suggestion(id="s", text=text, insert_text=text, range=TextRange(0, 0, 0), offset=0,
                          replace_after=replace_after)

    assert INFILL.program(middle_of(suggestion("    y = y * 2"), INFILL)).startswith(
        "def f(x):\n    y = x + 1\n    y = y * 2\n    return y\n")
    # A span suggestion that closes the bracket itself replaces the suffix's `)`: it is not doubled.
    assert SPAN.program(middle_of(suggestion(", 0)", replace_after=1), SPAN)).startswith(
        "def f(x):\n    return max(x, 0)\n")
    assert middle_of(None, INFILL) == ""


def test_engine_flags_with_samples_are_refused(tmp_path):
    import subprocess
    import sys

    samples = tmp_path / "s.jsonl"
    samples.write_text(json.dumps({"task_id": "HumanEval/0", "completion": "    return True\n"}) + "\n")
    proc = subprocess.run([sys.executable, "-m", "codeward", "eval", "passk", "--samples", str(samples),
                           "--temperature", "0.2", "--limit", "3", "--out", str(tmp_path / "r")],
                          capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 2 and "--temperature, --limit would be ignored" in proc.stderr
    proc = subprocess.run([sys.executable, "-m", "codeward", "eval", "passk", "--tasks", "HumanEval/9999",
                           "--out", str(tmp_path / "q")], capture_output=True, text=True, check=False, timeout=120)
    assert proc.returncode == 2 and "HumanEval/9999 not in the data set" in proc.stderr


def _plan(tmp_path: Path, argv: list[str], environ: dict[str, str], toml: str = "", editor: bool = False):
    """The sampling plan `eval passk`-style flags give, with `toml` as the project's codeward.toml."""
    import argparse

    from codeward.config import load_settings
    from codeward.eval.commands.sampling import add_sampling_flags, plan_from_args
    from codeward.flags import engine_overrides

    (tmp_path / "codeward.toml").write_text(toml, encoding="utf-8")
    parser = argparse.ArgumentParser()
    add_sampling_flags(parser)
    args = parser.parse_args(argv)
    settings = load_settings(engine_overrides(args), start=tmp_path, environ=environ)
    return plan_from_args(args, settings, editor=editor)


def test_eval_sampling_takes_every_value_from_flags_then_environment_then_eval_section(tmp_path):
    toml = "[eval]\nn = 3\ntemperature = 0.6\ntop_p = 0.7\nmax_new_tokens = 40\ntemplate = 'prefix'\n" \
           "[engine]\nn = 9\ntemperature = 0.9\n"
    plan = _plan(tmp_path, [], {}, toml)
    assert (plan.n, plan.temperatures, plan.top_p, plan.max_new_tokens, plan.template) == (3, (0.6,), 0.7, 40,
                                                                                           "prefix")
    env = {"CODEWARD_EVAL_N": "2", "CODEWARD_EVAL_TEMPERATURE": "0.4", "CODEWARD_EVAL_TOP_P": "0.8",
           "CODEWARD_EVAL_MAX_NEW_TOKENS": "30", "CODEWARD_EVAL_TEMPLATE": "qwen", "CODEWARD_ENGINE_N": "7"}
    plan = _plan(tmp_path, [], env, toml)
    assert (plan.n, plan.temperatures, plan.top_p, plan.max_new_tokens, plan.template) == (2, (0.4,), 0.8, 30, "qwen")
    plan = _plan(tmp_path, ["-n", "5", "--temperature", "0.2,0.8", "--top-p", "0.9", "--max-new-tokens", "20",
                            "--template", "chat"], env, toml)
    assert (plan.n, plan.temperatures, plan.top_p, plan.max_new_tokens, plan.template) == (5, (0.2, 0.8), 0.9, 20,
                                                                                           "chat")
    assert _plan(tmp_path, [], {}).n == 1  # the default, whatever [engine] says elsewhere


def test_editor_measuring_commands_sample_with_the_editors_settings(tmp_path):
    toml = "[eval]\nn = 3\ntemperature = 0.6\n[engine]\nn = 2\ntemperature = 0.1\nmax_new_tokens = 12\n"
    plan = _plan(tmp_path, [], {}, toml, editor=True)
    assert (plan.n, plan.temperatures, plan.max_new_tokens) == (2, (0.1,), 12)
    assert _plan(tmp_path, ["-n", "4"], {}, toml, editor=True).n == 4
