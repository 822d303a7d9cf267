"""`codeward serve` with the test engines of `fake_engines` plugged in (`python -m codeward.testing.fake_server`, run
by the fault tests); `--tcp PORT` serves loopback TCP sessions as `codeward serve --tcp` does (token included);
`--debug-prompts` (stdio only) as `codeward serve --debug-prompts`."""

from __future__ import annotations

import sys

from codeward.lsp_server.server import build_server
from codeward.lsp_server.tcp import serve_tcp
from codeward.testing.fake_engines import factory

if __name__ == "__main__":
    if sys.argv[1:2] == ["--tcp"]:
        serve_tcp(lambda: build_server(engine_factory=factory), "127.0.0.1", int(sys.argv[2]))
    else:
        build_server(engine_factory=factory, debug_prompts="--debug-prompts" in sys.argv[1:]).start_io()
