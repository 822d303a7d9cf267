"""`codeward serve` with the test engines of `fake_engines` plugged in (run as a script by the fault tests)."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).parent))

from fake_engines import factory

from codeward.lsp_server.server import build_server

if __name__ == "__main__":
    build_server(engine_factory=factory).start_io()
