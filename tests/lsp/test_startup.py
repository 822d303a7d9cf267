"""Start-up settings: the project's codeward.toml under a workspace root whose URI is percent-encoded, and
problems of initializationOptions that the pulled configuration corrects (no stale warning)."""

from __future__ import annotations

import asyncio
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from .conftest import capabilities, stats

pytestmark = pytest.mark.asyncio(loop_scope="module")


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "codeward.testing.fake_server"]))
async def client(lsp_client: LanguageClient, tmp_path_factory: pytest.TempPathFactory):
    root = tmp_path_factory.mktemp("codeward") / "my project"
    root.mkdir()
    (root / "codeward.toml").write_text("[completion]\nmax_lines = 3\n")
    lsp_client.set_configuration({"completion": {"mode": "single"}}, section="codeward")
    await lsp_client.initialize_session(types.InitializeParams(
        capabilities=capabilities(), root_uri=root.as_uri(),
        initialization_options={"completion": {"mode": "sideways", "debounce_ms": 0}}))
    yield
    await lsp_client.shutdown_session()


async def test_toml_under_a_root_with_a_space_and_no_stale_warning(client: LanguageClient):
    for _ in range(200):  # initialize applies the options (version 1), `initialized` pulls the rest (2)
        now = await stats(client)
        if now["settings_version"] >= 2:
            break
        await asyncio.sleep(0.05)
    settings = now["settings"]
    assert settings["completion"]["max_lines"] == 3  # from codeward.toml in "my project"
    assert settings["completion"]["mode"] == "single"  # the pulled configuration overrides the bad option
    assert settings["completion"]["debounce_ms"] == 0  # the initializationOptions still hold
    assert [m.message for m in client.messages] == []  # the bad option is overridden: nothing to warn about
