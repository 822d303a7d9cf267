"""Headless Neovim drivers: the completion driver (`nvim_driver.lua`, tests/lsp/test_nvim.py) and the context
diagnostics driver (`nvim_diagnostics_driver.lua`), which runs a small file with one planted bug set up with
editors/nvim/codeward.lua: shared by tests/lsp/test_nvim_diagnostics.py and bench/nvim_diagnostics_transcript.py.
They need a checkout (the editor setup is read from its editors/ folder)."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
NVIM = shutil.which("nvim", path=str(Path(sys.executable).parent)) or shutil.which("nvim")
DRIVER = Path(__file__).with_name("nvim_diagnostics_driver.lua")
COMPLETION_DRIVER = Path(__file__).with_name("nvim_driver.lua")
TEST_MODEL = "smollm2-135m"  # tests/conftest.py's test model, for runs outside pytest

# Correct functions, two of them near misses of subtle-bug rules (`//` as an index, a full index loop), and one bug.
SAMPLE = '''"""Small helpers over lists."""


def first(xs):
    return xs[0]


def middle(xs):
    return xs[len(xs) // 2]


def last(xs):
    return xs[len(xs)]


def total(xs):
    result = 0
    for i in range(len(xs)):
        result += xs[i]
    return result
'''
BUG_LINE = SAMPLE.split("\n").index("    return xs[len(xs)]")  # 0-based, as in LSP and vim.diagnostic
BUG_COLUMN = SAMPLE.split("\n")[BUG_LINE].index("xs[")
RULE = "CW123"
WAIT_MS = 120_000  # each of the driver's waits; generous for 2 busy cores


def run_driver(work: Path, timeout_s: float = 300) -> dict[str, Any]:
    """Write SAMPLE to `work`/helpers.py, run the driver there against `codeward serve --daemon` (a private runtime
    directory, a short idle time) and return what it recorded; raises RuntimeError if Neovim wrote no result."""
    if NVIM is None:
        raise FileNotFoundError("nvim")
    source = work / "helpers.py"
    source.write_text(SAMPLE, encoding="utf-8")
    out = work / "out.json"
    runtime = work / "run"
    runtime.mkdir(mode=0o700, exist_ok=True)
    env = {**os.environ,
           # the snippet's default command (`codeward serve --daemon`), with this interpreter and a short idle time
           "CODEWARD_NVIM_CMD": json.dumps([sys.executable, "-m", "codeward", "serve", "--daemon",
                                            "--idle-timeout", "5"]),
           "CODEWARD_RUNTIME_DIR": str(runtime),
           # no background prefill: nothing here asks for a suggestion, so the model need not load
           "CODEWARD_NVIM_OPTIONS": json.dumps({"completion": {"debounce_ms": 0, "timeout_s": 120,
                                                               "prefill_delay_ms": 0, "stats_log": False},
                                                "engine": {"max_new_tokens": 4, "n_ctx": 1024}}),
           "CODEWARD_NVIM_SETUP": str(ROOT / "editors" / "nvim" / "codeward.lua"),
           "CODEWARD_NVIM_FILE": str(source), "CODEWARD_NVIM_OUT": str(out),
           "CODEWARD_NVIM_TIMEOUT_MS": str(WAIT_MS)}
    env.setdefault("CODEWARD_ENGINE_MODEL", TEST_MODEL)
    proc = subprocess.run([NVIM, "--headless", "-u", "NONE", "-i", "NONE", "-l", str(DRIVER)],
                          env=env, cwd=work, capture_output=True, text=True, timeout=timeout_s, check=False)
    if not out.exists():
        raise RuntimeError(f"nvim wrote no result (exit {proc.returncode}): {proc.stderr[-2000:]}")
    return json.loads(out.read_text(encoding="utf-8"))
