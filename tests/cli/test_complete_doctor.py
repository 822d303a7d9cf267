"""`codeward complete` on files and stdin, its errors, and `codeward doctor`."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

SOURCE = 'def greet(name):\n    """Say hello."""\n    return "Hello, " + name\n\n\ndef add(a, b):\n    return \n'


def cw(*args: str, stdin: str | None = None, cwd=None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codeward", *args], input=stdin, capture_output=True, text=True,
                          cwd=cwd, timeout=300, check=False)


@pytest.fixture()
def src(tmp_path):
    path = tmp_path / "m.py"
    path.write_text(SOURCE)
    return path


def test_complete_file_json(src, tmp_path):
    out = cw("complete", str(src), "--line", "7", "--col", "12", "--max-new-tokens", "4", "--json", cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["engine"] == "llamacpp" and len(data["suggestions"]) == 1
    assert 1 <= data["suggestions"][0]["n_tokens"] <= 4
    row = data["suggestions"][0]  # one row per sample: kept text with its verdict, or the filter that dropped it
    assert (row["verdict"] == "dropped") == (row["dropped_by"] is not None)
    assert row["verdict"] in ("allow", "warn", "block", "error", "dropped")


def test_complete_stdin_text_and_n(tmp_path):
    out = cw("complete", "-", "--line", "7", "--col", "12", "-n", "2", "--temperature", "0.8", "--seed", "3",
             "--max-new-tokens", "3", stdin=SOURCE, cwd=tmp_path)
    assert out.returncode == 0, out.stderr
    assert out.stdout.count("--- suggestion") == 2
    assert "generation" in out.stderr and " s" in out.stderr


@pytest.mark.parametrize("line,col,needle", [(99, 1, "line 99 is outside"), (7, 40, "column 40 is outside"),
                                             (0, 1, "line 0 is outside")])
def test_complete_bad_position(src, tmp_path, line, col, needle):
    out = cw("complete", str(src), "--line", str(line), "--col", str(col), cwd=tmp_path)
    assert out.returncode == 2 and needle in out.stderr


def test_complete_unreadable_and_binary(tmp_path):
    out = cw("complete", str(tmp_path / "missing.py"), "--line", "1", "--col", "1", cwd=tmp_path)
    assert out.returncode == 2 and "cannot read" in out.stderr
    bad = tmp_path / "bin.py"
    bad.write_bytes(b"\xff\xfe\x00bad")
    out = cw("complete", str(bad), "--line", "1", "--col", "1", cwd=tmp_path)
    assert out.returncode == 2 and "not UTF-8" in out.stderr


def test_complete_bad_setting_from_env(src, tmp_path):
    proc = subprocess.run([sys.executable, "-m", "codeward", "complete", str(src), "--line", "1", "--col", "1"],
                          capture_output=True, text=True, cwd=tmp_path, check=False,
                          env={**__import__("os").environ, "CODEWARD_ENGINE_TEMPERATURE": "warm"})
    assert proc.returncode == 2 and "CODEWARD_ENGINE_TEMPERATURE" in proc.stderr


def test_complete_missing_model_file(src, tmp_path):
    out = cw("complete", str(src), "--line", "1", "--col", "1", "--model", str(tmp_path / "nope.gguf"), cwd=tmp_path)
    assert out.returncode == 1 and "not found" in out.stderr


def test_doctor_reports_every_part(tmp_path):
    out = cw("doctor", cwd=tmp_path)
    assert out.returncode == 0, out.stdout
    for part in ("python", "torch", "llama-cpp-python", "model smollm2-135m", "bwrap"):
        assert part in out.stdout
    assert "SmolLM2-135M-Instruct.Q4_1.gguf" in out.stdout


def test_doctor_fails_without_required_part(tmp_path):
    # Hide llama_cpp from the interpreter: doctor must say FAIL, name the fix, and exit 1.
    code = ("import sys; sys.modules['llama_cpp'] = None; from codeward.cli import main; "
            "raise SystemExit(main(['doctor']))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, cwd=tmp_path, check=False)
    assert proc.returncode == 1
    assert "[FAIL] llama-cpp-python" in proc.stdout and "fix: pip install llama-cpp-python" in proc.stdout


def test_doctor_fails_on_invalid_configuration(tmp_path):
    (tmp_path / "codeward.toml").write_text('[engine]\ntemperature = "warm"\n')
    out = cw("doctor", cwd=tmp_path)
    assert out.returncode == 1
    assert "[FAIL] configuration" in out.stdout and "engine.temperature = 'warm'" in out.stdout


def test_doctor_says_eval_refuses_to_run_code_without_bwrap(monkeypatch):
    from codeward.cli.commands import doctor
    from codeward.sandbox import isolation

    monkeypatch.setattr(isolation, "find_bwrap", lambda: None)
    check = doctor._bwrap()
    assert not check.ok and not check.required
    assert "refuse" in check.detail and "--unsafe-no-sandbox" in check.detail


@pytest.mark.parametrize("where", ["project", "user"])
def test_doctor_reports_a_malformed_toml_as_a_failed_check_naming_the_file(where, tmp_path, monkeypatch, capsys):
    from codeward.cli.commands import doctor

    project, config = tmp_path / "project", tmp_path / "config"
    (project / ".git").mkdir(parents=True)  # the upward walk stops at the repository root
    (config / "codeward").mkdir(parents=True)
    monkeypatch.chdir(project)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(config))
    bad = project / "codeward.toml" if where == "project" else config / "codeward" / "config.toml"
    bad.write_text("[engine\nmodel = 'x'\n")
    found = {c.name: c for c in doctor.checks()}
    check = found["configuration"]
    assert not check.ok and check.required and str(bad) in check.detail
    assert "Expected ']'" in check.detail and "line 1" in check.detail and check.fix == "fix the TOML file named above"
    assert found["project config"].detail != "none" if where == "project" else found["project config"].ok
    assert doctor.run(None) == 1  # type: ignore[arg-type]
    assert f"[FAIL] configuration: cannot parse {bad}" in capsys.readouterr().out


def test_a_doctor_check_that_raises_is_reported_and_the_others_still_run(monkeypatch, capsys):
    from codeward.cli.commands import doctor

    def broken():
        raise RuntimeError("the trust store exploded")

    monkeypatch.setattr(doctor, "_project", broken)
    assert doctor.run(None) == 1  # type: ignore[arg-type]
    out = capsys.readouterr().out
    assert "[FAIL] project config: the check failed: RuntimeError: the trust store exploded" in out
    assert "bwrap (sandbox)" in out  # the checks after it ran
