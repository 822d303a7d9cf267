"""`codeward serve` over stdio with the embedded model: capabilities, sync, positions, completions, settings."""

from __future__ import annotations

import asyncio
import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from codeward.completion.settings import INSTRUCTION_LINE, CompletionSettings

from .conftest import INIT_OPTIONS, change, configure, initialize, inline, open_doc, stats, utf16

pytestmark = pytest.mark.asyncio(loop_scope="module")

URI = "file:///tmp/codeward-test/totals.py"
UNI = "file:///tmp/codeward-test/unicode.py"


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "codeward", "serve", "--debug-prompts"]))
async def client(lsp_client: LanguageClient):
    await initialize(lsp_client, INIT_OPTIONS)
    yield
    await lsp_client.shutdown_session()


async def test_initialize_advertises_inline_completion_and_incremental_sync(client: LanguageClient):
    caps = client.init_result.capabilities
    raw = client.protocol._converter.unstructure(caps)
    assert raw["inlineCompletionProvider"] == {}
    assert caps.text_document_sync.change == types.TextDocumentSyncKind.Incremental
    assert caps.completion_provider is not None
    assert "codeward.acceptCompletion" in caps.execute_command_provider.commands
    assert client.init_result.server_info.name == "codeward"


async def first_suggestion(client: LanguageClient, uri: str):
    """Each test's own set-up: open `uri` holding `x = [1, 2, 3]` and ask for a suggestion after `total = `."""
    open_doc(client, uri, "x = [1, 2, 3]\n")
    change(client, uri, 2, 1, 0, 0, "total = ")
    items = await inline(client, uri, 1, 8)
    assert items, "the embedded model gave no suggestion"
    return items[0]


async def test_inline_completion_from_the_embedded_model_after_an_incremental_change(client: LanguageClient):
    item = await first_suggestion(client, URI)
    assert item.range == types.Range(types.Position(1, 0), types.Position(1, 8))
    assert item.command.command == "codeward.acceptCompletion" and item.command.arguments
    s = await stats(client)
    assert s["last_prompt"] == "x = [1, 2, 3]\ntotal = "  # the incremental change was applied
    (shown,) = [x for x in s["last_suggestions"] if x["id"] == item.command.arguments[0]]
    assert shown["verdict"] in ("allow", "warn")
    # what the editor shows is this model's sample after postprocess: its first line comes from the raw text
    text = item.insert_text.removeprefix("total = ")
    assert text == shown["text"] and text.split("\n")[0].strip() in shown["raw"]


async def test_completion_fallback_offers_the_suggestion_unfiltered(client: LanguageClient):
    uri = "file:///tmp/codeward-test/fallback.py"
    first = await first_suggestion(client, uri)
    before = (await stats(client))["cache_hits"]
    result = await client.text_document_completion_async(types.CompletionParams(
        text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(1, 8)))
    assert isinstance(result, types.CompletionList) and result.is_incomplete
    (item,) = result.items
    expected = first.insert_text
    assert item.text_edit.new_text == expected and item.filter_text == expected
    assert item.label == expected.split("\n")[0].strip()
    assert item.command.command == "codeward.acceptCompletion"
    assert (await stats(client))["cache_hits"] == before + 1  # same cursor, same text: no new model call


async def test_typing_forward_serves_the_rest_without_a_model_call(client: LanguageClient):
    uri = "file:///tmp/codeward-test/forward.py"
    first = (await first_suggestion(client, uri)).insert_text
    typed = first[len("total = ")]
    change(client, uri, 3, 1, 8, 8, typed)
    before = await stats(client)
    items = await inline(client, uri, 1, 9)
    after = await stats(client)
    assert [i.insert_text for i in items][:1] == [first]
    assert items[0].range.end.character == 9
    assert after["cache_hits"] == before["cache_hits"] + 1


async def test_utf16_positions_with_non_ascii_and_astral_characters(client: LanguageClient):
    line = '    print("héllo 😀", '
    open_doc(client, UNI, "def greet(name):\n" + line + ")\n")
    # an incremental change addressed in UTF-16 units, after the astral character
    change(client, UNI, 2, 1, utf16(line), utf16(line), "name, ")
    cursor = utf16(line) + len("name, ")
    items = await inline(client, UNI, 1, cursor)
    s = await stats(client)
    assert s["last_prompt"] == "def greet(name):\n" + line + "name, "
    assert items, "the embedded model gave no suggestion"
    assert items[0].range.start == types.Position(1, 0)
    assert items[0].range.end.character in (cursor, cursor + 1)  # +1 when it replaces the closing bracket
    assert items[0].insert_text.startswith(line + "name, ")


async def test_configuration_change_is_pulled_and_applied(client: LanguageClient):
    settings = await configure(client, {"context": {"policy": "instruct"}})
    assert settings["context"]["policy"] == "instruct"
    assert settings["engine"]["max_new_tokens"] == 4  # the initializationOptions still hold
    uri = "file:///tmp/codeward-test/area.py"
    open_doc(client, uri, "def area(r):\n    return ")
    await inline(client, uri, 1, 11)
    assert (await stats(client))["last_prompt"] == f"{INSTRUCTION_LINE}\ndef area(r):\n    return "


async def test_invalid_settings_fall_back_to_defaults_with_one_message(client: LanguageClient):
    shown = len(client.messages)
    settings = await configure(client, {"completion": {"debounce_ms": -5, "mode": "sideways"},
                                        "context": {"policy": "none"}})
    defaults = CompletionSettings()
    assert settings["completion"]["debounce_ms"] == defaults.debounce_ms
    assert settings["completion"]["mode"] == defaults.mode
    assert len(client.messages) == shown + 1
    message = client.messages[-1].message
    assert "completion.debounce_ms" in message and "completion.mode" in message


async def test_accept_counts_and_publishes_diagnostics(client: LanguageClient):
    uri = "file:///tmp/codeward-test/accept.py"
    item = await first_suggestion(client, uri)
    accepted = (await stats(client))["accepted"]
    ok = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command=item.command.command, arguments=item.command.arguments))
    assert ok is True
    assert (await stats(client))["accepted"] == accepted + 1
    assert uri in client.diagnostics  # published (empty when the suggestion had no findings)
    unknown = await client.workspace_execute_command_async(types.ExecuteCommandParams(
        command="codeward.acceptCompletion", arguments=["no-such-id"]))
    assert unknown is False


async def wait_for(client: LanguageClient, done, what: str) -> dict:
    """Poll `codeward/stats` until `done(stats)` (a background step finished); fail after ~60 s."""
    for _ in range(600):
        s = await stats(client)
        if done(s):
            return s
        await asyncio.sleep(0.1)
    raise AssertionError(f"{what} never happened: {s}")


async def test_documents_keep_their_own_model_context_and_are_prefilled_in_the_background(client: LanguageClient):
    long_a = "".join(f"def total_{i}(xs):\n    return sum(xs) + {i}\n\n\n" for i in range(12)) + "y = "
    long_b = "".join(f"class Box{i}:\n    size = {i}\n\n\n" for i in range(12)) + "z = "
    uri_a, uri_b = "file:///tmp/codeward-test/ctx_a.py", "file:///tmp/codeward-test/ctx_b.py"
    before = await stats(client)
    open_doc(client, uri_a, long_a)
    s = await wait_for(client, lambda s: s["prefills"] > before["prefills"], "the prefill of an opened document")
    assert s["engine"]["prefill_tokens"] > before["engine"].get("prefill_tokens", 0)
    await inline(client, uri_a, 48, 4)
    open_doc(client, uri_b, long_b)
    await inline(client, uri_b, 48, 4)
    restores = (await stats(client))["engine"]["kv_restores"]
    # back to A, at another cursor (the first one's answer is cached): its saved KV comes back, no cold prefill
    await inline(client, uri_a, 48, 3)
    assert (await stats(client))["engine"]["kv_restores"] > restores
