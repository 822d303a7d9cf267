"""Bad input and faults: each returns an empty result promptly, logs one clear message, and the server goes on.

The server runs with test engines (`codeward.testing.fake_engines`): a scripted model whose answers are fixed (the safety checks
stay real), one that raises, one that hangs; the remote-server case uses the real openai engine.
"""

from __future__ import annotations

import json
import socket
import sys
import time
from pathlib import Path

import pytest
import pytest_lsp
from lsprotocol import types
from pygls.exceptions import JsonRpcException, JsonRpcInvalidParams
from pytest_lsp import ClientServerConfig, LanguageClient

from .conftest import configure, initialize, inline, open_doc, stats, utf16

pytestmark = pytest.mark.asyncio(loop_scope="module")

INSECURE = "subprocess.call(cmd, shell=True)"
CLEAN = "subprocess.run(['ls'], check=False)"
SHELL_DOC = "import subprocess\n\n\ndef run(cmd):\n    "
GOOD_URI = "file:///tmp/codeward-faults/run.py"


def scripted(*texts: str) -> str:
    return "scripted:" + json.dumps(list(texts))


BASE = {"completion": {"debounce_ms": 0, "timeout_s": 2.0}, "engine": {"model": scripted(CLEAN)},
        "safety": {"on_high": "block"}}


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "codeward.testing.fake_server", "--debug-prompts"]))
async def client(lsp_client: LanguageClient):
    await initialize(lsp_client, BASE)
    open_doc(lsp_client, GOOD_URI, SHELL_DOC)
    yield
    await lsp_client.shutdown_session()


async def _still_serving(client: LanguageClient) -> None:
    """A good request right after a fault gets its suggestion."""
    await configure(client, {"engine": {"model": scripted(CLEAN)}})
    items = await inline(client, GOOD_URI, 4, 4)
    assert [i.insert_text for i in items] == ["    " + CLEAN]


OUTCOMES = ("completed", "rejected", "errors", "timeouts", "superseded", "cancelled")


async def _empty_once(client: LanguageClient, uri: str, line: int, character: int, needle: str,
                      counter: str, limit_s: float = 5.0) -> None:
    """The request is empty and quick, one log message names the fault; asking again logs nothing new. Both
    requests are counted, under `counter`, and every request counted so far has exactly one outcome."""
    before = await stats(client)
    logs = len(client.log_messages)
    started = time.monotonic()
    assert await inline(client, uri, line, character) == []
    assert time.monotonic() - started < limit_s
    new = [m.message for m in client.log_messages[logs:]]
    assert len(new) == 1 and needle in new[0], new
    assert await inline(client, uri, line, character) == []
    assert len(client.log_messages) == logs + 1, "a repeated fault must not log again (no storms)"
    after = await stats(client)
    assert after["requests"] - before["requests"] == 2
    assert after[counter] - before[counter] == 2, (counter, before, after)
    assert after["requests"] == sum(after[k] for k in OUTCOMES), after


async def test_insecure_suggestion_is_blocked_and_the_clean_one_shown(client: LanguageClient):
    await configure(client, {"engine": {"model": scripted(INSECURE, CLEAN)}})
    items = await inline(client, GOOD_URI, 4, 4)
    assert [i.insert_text for i in items] == ["    " + CLEAN]
    s = await stats(client)
    verdicts = {x["text"]: x["verdict"] for x in s["last_suggestions"]}  # one row per sample, in sample order
    assert verdicts[INSECURE] == "block" and verdicts[CLEAN] in ("allow", "warn")


async def test_findings_of_an_accepted_suggestion_become_diagnostics(client: LanguageClient):
    await configure(client, {"engine": {"model": scripted(INSECURE)}, "safety": {"on_high": "warn"}})
    (item,) = await inline(client, GOOD_URI, 4, 4)
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=GOOD_URI, version=2),
        content_changes=[types.TextDocumentContentChangePartial(range=item.range, text=item.insert_text)]))
    ok = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=item.command.command, arguments=item.command.arguments))
    assert ok is True  # the server publishes before it answers, so the diagnostics are here now
    diags = client.diagnostics[GOOD_URI]
    b602 = [d for d in diags if d.code == "B602"]
    assert b602 and all(d.source == "codeward" for d in diags)
    assert b602[0].range.start.line == 4 and b602[0].severity == types.DiagnosticSeverity.Error
    client.text_document_did_change(types.DidChangeTextDocumentParams(  # back to the original text
        text_document=types.VersionedTextDocumentIdentifier(uri=GOOD_URI, version=3),
        content_changes=[types.TextDocumentContentChangeWholeDocument(text=SHELL_DOC)]))
    await configure(client, {"safety": {"on_high": "block"}})


async def test_a_document_not_opened_is_an_error_and_its_file_is_never_read(client: LanguageClient,
                                                                           tmp_path: Path):
    path = tmp_path / "secret.py"
    path.write_text(SHELL_DOC, encoding="utf-8")  # on disk, readable, where the scripted model would answer
    uri = path.as_uri()
    before, logs = await stats(client), len(client.log_messages)
    position = types.Position(4, 4)
    asks = [client.text_document_inline_completion_async(types.InlineCompletionParams(
                text_document=types.TextDocumentIdentifier(uri), position=position,
                context=types.InlineCompletionContext(types.InlineCompletionTriggerKind.Invoked))),
            client.text_document_completion_async(types.CompletionParams(
                text_document=types.TextDocumentIdentifier(uri), position=position)),
            client.text_document_code_action_async(types.CodeActionParams(
                text_document=types.TextDocumentIdentifier(uri), range=types.Range(position, position),
                context=types.CodeActionContext(diagnostics=[])))]
    for ask in asks:
        with pytest.raises(JsonRpcException) as raised:
            await ask
        assert raised.value.code == JsonRpcInvalidParams.CODE and "is not open" in str(raised.value)
    new = [m.message for m in client.log_messages[logs:]]
    assert len(new) == 1 and "is not open" in new[0], new  # logged once, not once per request
    after = await stats(client)
    assert after["requests"] - before["requests"] == 2 and after["rejected"] - before["rejected"] == 2
    assert after["last_prompt"] == before["last_prompt"]  # nothing of the file reached the model
    await _still_serving(client)


async def test_out_of_range_position(client: LanguageClient):
    await _empty_once(client, GOOD_URI, 99, 0, "outside the document", "rejected")
    await _still_serving(client)


async def test_ten_megabyte_document(client: LanguageClient):
    uri = "file:///tmp/codeward-faults/huge.py"
    open_doc(client, uri, "x = 1  # filler\n" * 655_360)  # 10 MiB
    await _empty_once(client, uri, 1000, 0, "max_document_chars", "rejected")
    await _still_serving(client)
    client.text_document_did_close(types.DidCloseTextDocumentParams(types.TextDocumentIdentifier(uri)))


async def test_engine_raising(client: LanguageClient):
    await configure(client, {"engine": {"model": "raise"}})
    await _empty_once(client, GOOD_URI, 4, 4, "RuntimeError: the model crashed", "errors")
    await _still_serving(client)


async def test_engine_failing_to_load(client: LanguageClient):
    await configure(client, {"engine": {"model": "/nonexistent/model.gguf"}})
    await _empty_once(client, GOOD_URI, 4, 4, "not found", "errors")
    await _still_serving(client)


async def test_engine_timing_out(client: LanguageClient):
    await configure(client, {"engine": {"model": "hang"}, "completion": {"timeout_s": 0.5}})
    await _empty_once(client, GOOD_URI, 4, 4, "timeout_s", "timeouts", limit_s=3.0)
    await configure(client, {"completion": {"timeout_s": 2.0}})
    await _still_serving(client)


async def test_remote_server_down(client: LanguageClient):
    with socket.socket() as s:  # a loopback port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    await configure(client, {"engine": {"engine": "openai", "model": "served",
                                        "base_url": f"http://127.0.0.1:{port}/v1", "max_retries": 0}})
    await _empty_once(client, GOOD_URI, 4, 4, "cannot reach", "errors")
    await configure(client, {"engine": {"engine": "llamacpp"}})
    await _still_serving(client)


async def test_diagnostics_after_astral_characters_point_at_the_call(client: LanguageClient):
    uri = "file:///tmp/codeward-faults/emoji.py"
    line = 's = "😀 ü"; '
    open_doc(client, uri, "import os\n" + line)
    await configure(client, {"engine": {"model": scripted("os.system(s)")}, "safety": {"on_high": "warn"}})
    (item,) = await inline(client, uri, 1, utf16(line))
    client.text_document_did_change(types.DidChangeTextDocumentParams(
        text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=2),
        content_changes=[types.TextDocumentContentChangePartial(range=item.range, text=item.insert_text)]))
    assert await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=item.command.command, arguments=item.command.arguments)) is True
    (b605,) = [d for d in client.diagnostics[uri] if d.code == "B605"]
    assert b605.source == "codeward"
    assert b605.range.start == types.Position(1, utf16(line))  # UTF-16 units, not UTF-8 bytes
    await configure(client, {"safety": {"on_high": "block"}})
