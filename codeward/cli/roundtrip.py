"""An LSP round trip for `make demo`: start `codeward serve --debug-prompts`, open a file, ask for an inline
completion at a cursor, and report the suggestion with its safety verdict (read back through `codeward/stats`, which
holds the prompt and suggestions only under `--debug-prompts`).

Run: `python -m codeward.cli.roundtrip FILE LINE COL` (1-based line and column, code points).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
from pathlib import Path
from typing import Any

from lsprotocol import types
from pygls.lsp.client import LanguageClient


def _plain(value: Any) -> Any:
    """pygls returns unknown results as named tuples; make them JSON data again."""
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


async def round_trip(path: Path, line: int, col: int, options: dict[str, Any] | None = None) -> dict[str, Any]:
    """Inline completion at 1-based `line`:`col` of `path` from a fresh `codeward serve` over stdio."""
    text = path.read_text(encoding="utf-8")
    uri = path.resolve().as_uri()
    line_text = text.split("\n")[line - 1]
    character = len(line_text[: col - 1].encode("utf-16-le")) // 2
    client = LanguageClient("codeward-roundtrip", "1")

    @client.feature(types.WINDOW_LOG_MESSAGE)
    def log_message(params: types.LogMessageParams) -> None:
        print(f"server: {params.message}", file=sys.stderr)

    await client.start_io(sys.executable, "-m", "codeward", "serve", "--debug-prompts")
    try:
        init = await client.initialize_async(types.InitializeParams(
            capabilities=types.ClientCapabilities(), initialization_options=options or {},
            root_uri=path.resolve().parent.as_uri()))
        client.initialized(types.InitializedParams())
        client.text_document_did_open(types.DidOpenTextDocumentParams(types.TextDocumentItem(
            uri=uri, language_id="python", version=1, text=text)))
        result = await client.text_document_inline_completion_async(types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri), position=types.Position(line - 1, character),
            context=types.InlineCompletionContext(types.InlineCompletionTriggerKind.Invoked)))
        stats = _plain(await client.protocol.send_request_async("codeward/stats", {}))
        await client.shutdown_async(None)
        client.exit(None)
    finally:
        await client.stop()
    items = result.items if isinstance(result, types.InlineCompletionList) else (result or [])
    return {"server": init.server_info.name if init.server_info else None,
            "inline_completion_provider": init.capabilities.inline_completion_provider is not None,
            "items": [i.insert_text for i in items], "suggestions": stats.get("last_suggestions", []),
            "prompt": stats.get("last_prompt"), "latency_ms": stats.get("latency_ms", {})}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m codeward.cli.roundtrip", description=__doc__)
    parser.add_argument("file", type=Path)
    parser.add_argument("line", type=int, help="1-based line")
    parser.add_argument("col", type=int, help="1-based column (code points)")
    parser.add_argument("--options", default='{"completion": {"timeout_s": 120}}',
                        help="initializationOptions as JSON (default: a generous timeout for a cold start)")
    parser.add_argument("--json", action="store_true", help="print the whole answer as JSON")
    args = parser.parse_args(argv)
    answer = asyncio.run(round_trip(args.file, args.line, args.col, json.loads(args.options)))
    if args.json:
        print(json.dumps(answer, ensure_ascii=False))
        return 0
    print(f"LSP round trip with {answer['server']} (inline completion advertised: "
          f"{answer['inline_completion_provider']})")
    if not answer["suggestions"]:
        print("no suggestion at this cursor")
    for s in answer["suggestions"]:
        rules = ", ".join(f["rule_id"] for f in s["findings"]) or "no findings"
        print(f"suggestion: {s['text']!r}\n  safety verdict: {s['verdict']} ({rules})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
