"""Context diagnostics end to end (pytest-lsp, the real server): a planted subtle bug in the code the model reads
is published as a diagnostic after the pause in typing, fixing it clears it, `# nosec CW...` silences it."""

from __future__ import annotations

import sys

import pytest
import pytest_lsp
from lsprotocol import types
from pytest_lsp import ClientServerConfig, LanguageClient

from .conftest import INIT_OPTIONS, change, initialize, open_doc, stats

pytestmark = pytest.mark.asyncio(loop_scope="module")

URI = "file:///tmp/codeward-test/middle.py"
BUGGY = "def middle(xs):\n    return xs[len(xs) / 2]\n\n\ndef first(xs):\n    return xs[0]\n"
SLASH = BUGGY.split("\n")[1].index("/")
END = len(BUGGY.split("\n")[1])


@pytest_lsp.fixture(scope="module", config=ClientServerConfig(
    server_command=[sys.executable, "-m", "codeward", "serve", "--debug-prompts"]))
async def client(lsp_client: LanguageClient):
    await initialize(lsp_client, {**INIT_OPTIONS, "context": {"diagnostics_delay_ms": 0}})
    yield
    await lsp_client.shutdown_session()


async def published(client: LanguageClient, uri: str) -> list[types.Diagnostic]:
    while True:
        params = await client.wait_for_notification(types.TEXT_DOCUMENT_PUBLISH_DIAGNOSTICS)
        if params.uri == uri:
            return params.diagnostics


async def test_a_planted_bug_is_published_fixed_and_silenced(client: LanguageClient):
    open_doc(client, URI, BUGGY)
    (diag,) = await published(client, URI)
    assert diag.code == "CW122" and diag.source == "codeward"
    assert diag.severity == types.DiagnosticSeverity.Information
    assert diag.range.start.line == 1 and "suggestions may imitate" in diag.message

    change(client, URI, 2, 1, SLASH, SLASH + 1, "//")  # `/` -> `//`: the bug is gone, and so is the diagnostic
    assert list(await published(client, URI)) == []

    change(client, URI, 3, 1, SLASH, SLASH + 2, "/")  # back again, then "Ignore here": the suppression comment
    assert [d.code for d in await published(client, URI)] == ["CW122"]
    change(client, URI, 4, 1, END, END, "  # nosec CW122")
    assert list(await published(client, URI)) == []
    counts = await stats(client)
    assert counts["context_checks"] >= 4 and counts["context_findings"] == 0



async def test_the_instruct_and_exclude_policies_change_the_prompt_the_engine_receives(client: LanguageClient):
    from codeward.completion.context import ELISION
    from codeward.completion.settings import INSTRUCTION_LINE

    from .conftest import configure, inline

    uri = "file:///tmp/codeward-test/policy.py"
    text = BUGGY + "\n\ndef half(ys):\n    return "
    open_doc(client, uri, text)
    last = text.count("\n")
    await configure(client, {"context": {"policy": "exclude", "diagnostics_delay_ms": 0}})
    await inline(client, uri, last, 11)
    s = await stats(client)
    assert ELISION.format(rule="CW122") in s["last_prompt"] and "len(xs) / 2" not in s["last_prompt"]
    assert s["policy_elided_lines"] >= 1
    await configure(client, {"context": {"policy": "instruct", "diagnostics_delay_ms": 0}})
    await inline(client, uri, last, 11)
    s = await stats(client)
    assert INSTRUCTION_LINE + "\ndef half(ys):" in s["last_prompt"] and "len(xs) / 2" in s["last_prompt"]
    assert s["policy_instructed"] >= 1
