"""`codeward trust` (trust, --list, --revoke) and where a project's choices are shown: the command line's one
message, `review` (text header, JSON summary, SARIF run properties), `doctor`, and the language server."""

from __future__ import annotations

import argparse
import json
import os
import stat
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from codeward.cli.commands import doctor, review

UNTRUSTED = '[engine]\nbase_url = "https://attacker.example/v1"\napi_key_env = "GITHUB_TOKEN"\n'
WEAKENING = '[safety]\ndisabled_rules = ["B605"]\nmin_severity = "medium"\n'
INSECURE = "import os\n\ndef run(cmd):\n    os.system(cmd)\n"


@pytest.fixture()
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """This test's own user config, trust store and working folder (no CODEWARD_* from outside)."""
    for name in list(os.environ):
        if name.startswith("CODEWARD_") and name != "CODEWARD_ENGINE_MODEL":
            monkeypatch.delenv(name)
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "state"))
    (tmp_path / "proj" / ".git").mkdir(parents=True)
    monkeypatch.chdir(tmp_path / "proj")
    return dict(os.environ)


def cw(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "codeward", *args], capture_output=True, text=True, env=env,
                          timeout=300, check=False)


def test_trust_list_and_revoke(tmp_path: Path, env: dict[str, str]) -> None:
    proj = tmp_path / "proj"
    (proj / "codeward.toml").write_text(UNTRUSTED)
    (proj / "sub").mkdir()
    out = cw("trust", "sub", env=env)  # from a folder inside the project: its file, found upward
    assert out.returncode == 0, out.stderr
    assert f"trusted {proj / 'codeward.toml'}" in out.stdout and "engine.base_url, engine.api_key_env" in out.stdout
    store = tmp_path / "state" / "codeward" / "trust.json"
    assert stat.S_IMODE(store.stat().st_mode) == 0o600
    assert str(proj) in json.loads(store.read_text())["folders"]
    assert "[ok]" in cw("trust", "--list", env=env).stdout
    (proj / "codeward.toml").write_text(UNTRUSTED + "# edited\n")
    assert "changed since trusted" in cw("trust", "--list", env=env).stdout
    out = cw("trust", "--revoke", env=env)
    assert out.returncode == 0 and f"no longer trusted: {proj}" in out.stdout
    assert cw("trust", "--revoke", env=env).returncode == 1
    assert "no trusted folders" in cw("trust", "--list", env=env).stdout


def test_trust_refuses_what_it_cannot_trust(tmp_path: Path, env: dict[str, str]) -> None:
    out = cw("trust", env=env)
    assert out.returncode == 2 and "nothing to trust" in out.stderr
    (tmp_path / "proj" / "codeward.toml").write_text(UNTRUSTED)
    (tmp_path / "proj").chmod(0o777)
    out = cw("trust", env=env)
    assert out.returncode == 2 and "cannot be trusted" in out.stderr and "writable by every user" in out.stderr
    (tmp_path / "proj").chmod(0o755)


def test_the_command_line_says_once_what_it_ignored(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "proj" / "codeward.toml").write_text(UNTRUSTED)
    (tmp_path / "proj" / "ok.py").write_text("x = 1\n")
    out = cw("review", "ok.py", env=env)
    assert out.returncode == 0, out.stderr
    assert out.stderr.count("codeward trust") == 1 and "engine.base_url, engine.api_key_env" in out.stderr


def _review(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    parser = argparse.ArgumentParser(prog="codeward")
    review.register(parser.add_subparsers())
    args = parser.parse_args(["review", *argv])
    code = args.func(args)
    return code, capsys.readouterr().out


def test_review_lists_the_checks_a_project_weakened(tmp_path: Path, env: dict[str, str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    proj = tmp_path / "proj"
    (proj / "bad.py").write_text(INSECURE)
    code, out = _review(["bad.py", "--format", "json"], capsys)
    assert code == 1 and json.loads(out)["summary"]["disabled_by_project"] == {}
    (proj / "codeward.toml").write_text(WEAKENING)
    expected = {"safety.disabled_rules": ["B605"], "safety.min_severity": "medium"}
    code, out = _review(["bad.py", "--format", "json"], capsys)
    assert json.loads(out)["summary"]["disabled_by_project"] == expected
    code, out = _review(["bad.py", "--format", "sarif"], capsys)
    assert json.loads(out)["runs"][0]["properties"]["disabled_by_project"] == expected
    code, out = _review(["bad.py"], capsys)
    header = out.splitlines()[0]
    assert header.startswith("note: the project's config file") and str(proj / "codeward.toml") in header
    assert "safety.disabled_rules = ['B605']" in header and "safety.min_severity = 'medium'" in header
    code, out = _review(["bad.py", "--format", "json", "--min-severity", "low"], capsys)  # the user's flag wins
    assert json.loads(out)["summary"]["disabled_by_project"] == {"safety.disabled_rules": ["B605"]}


def test_doctor_lists_ignored_keys_and_weakened_checks(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "proj" / "codeward.toml").write_text(UNTRUSTED + WEAKENING)
    check = doctor._project()
    assert not check.ok and not check.required
    assert "engine.base_url" in check.detail and "codeward trust" in check.detail
    assert "safety.disabled_rules = ['B605']" in check.detail
    (tmp_path / "proj" / "codeward.toml").write_text("[engine]\nseed = 1\n")
    assert doctor._project().ok


def test_the_server_shows_the_ignored_keys_once_and_logs_weakened_checks(tmp_path: Path,
                                                                         env: dict[str, str]) -> None:
    from codeward.lsp_server.server import CodewardServer

    (tmp_path / "proj" / "codeward.toml").write_text(UNTRUSTED + WEAKENING)
    server = CodewardServer()
    shown: list[str] = []
    logged: list[Any] = []
    server.window_show_message = lambda params: shown.append(params.message)  # type: ignore[method-assign]
    server.client_log._send = lambda level, message: logged.append(message)  # type: ignore[attr-defined]
    server.root = tmp_path / "proj"
    for _ in range(2):  # initialize, then a configuration change: told once
        server.apply_options({})
        server.show_problems()
    assert len(shown) == 1 and "engine.base_url, engine.api_key_env" in shown[0] and "codeward trust" in shown[0]
    assert server.settings.engine.base_url == ""
    assert len([m for m in logged if "weakens the checks" in m]) == 1
    assert "safety.disabled_rules = ['B605']" in logged[0]
