"""Telemetry through a real LSP session (pytest-lsp): the counts of a scripted session, the Copilot-named
notifications, and the stats log written at shutdown, which holds counts and timings but none of the user's code."""

from __future__ import annotations

import json
import os
import sys
import tempfile
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from .conftest import initialize, inline, open_doc, stats

pytestmark = pytest.mark.asyncio(loop_scope="module")

SECRET = "very_private_function_name_4711"
DOC = f"def {SECRET}(values):\n    return "
URI = "file:///tmp/codeward-telemetry/secret.py"
STATE = Path(tempfile.mkdtemp(prefix="codeward-telemetry-state-"))
ANSWER = "sum(values) / len(values)"
OPTIONS = {"completion": {"debounce_ms": 0, "timeout_s": 5.0, "prefill_delay_ms": 0},
           "engine": {"model": "scripted:" + json.dumps([ANSWER])}}


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "codeward.testing.fake_server"],
    server_env={**os.environ, "XDG_STATE_HOME": str(STATE)}))
async def client(lsp_client: LanguageClient):
    await initialize(lsp_client, OPTIONS)
    yield  # the test ends the session itself: the log is written at shutdown


async def test_a_scripted_session_is_counted_and_logged_without_code(client: LanguageClient):
    open_doc(client, URI, DOC)
    (item,) = await inline(client, URI, 1, 11)
    assert item.insert_text == "    return " + ANSWER
    again = await inline(client, URI, 1, 11)  # same text, same cursor: the cache answers
    assert [i.insert_text for i in again] == [item.insert_text]
    client.protocol.notify("textDocument/didShowCompletion", {"item": {"insertText": item.insert_text}})
    client.protocol.notify("textDocument/didPartiallyAcceptCompletion",
                           {"item": {"insertText": item.insert_text}, "acceptedLength": 3})
    assert await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=item.command.command, arguments=item.command.arguments)) is True
    s = await stats(client)
    assert "last_prompt" not in s and "last_suggestions" not in s  # no code without `serve --debug-prompts`
    assert SECRET not in json.dumps(s)
    assert s["requests"] == 2 and s["completed"] == 2 and s["cache_hits"] == 1
    assert s["shown"] == 2 and s["shown_reported"] == 1
    assert s["partially_accepted"] == 1 and s["accepted"] == 1
    assert s["safety_warmed"] is True  # the checkers ran once while the engine loaded, not on the first answer
    assert s["accepted_chars"] == 3 + len(ANSWER)
    assert s["latency_ms"]["request"]["count"] == 1  # the model-served answer; the cache hit is timed apart
    assert s["latency_ms"]["cache"]["count"] == 1
    # the model-served answer's stages and its overhead (latency less engine time), one each
    stages = s["latency_ms"]["stages"]
    assert set(stages) == {"wait", "context", "engine", "postprocess", "safety"}
    assert all(v["count"] == 1 for v in stages.values()) and s["latency_ms"]["overhead"]["count"] == 1
    assert s["latency_ms"]["overhead"]["p50"] <= s["latency_ms"]["request"]["p50"]
    assert s["requests"] == sum(s[k] for k in ("completed", "rejected", "errors", "timeouts", "superseded",
                                               "cancelled"))
    await client.shutdown_session()
    lines = (STATE / "codeward" / "stats.jsonl").read_text().splitlines()
    record = json.loads(lines[-1])
    assert record["requests"] == 2 and record["accepted"] == 1 and record["latency_ms"]["request"]["count"] == 1
    raw = "\n".join(lines)
    assert SECRET not in raw and ANSWER not in raw and "last_prompt" not in record
