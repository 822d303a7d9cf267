"""Typing simulation through the language server, on Python source nobody here wrote (the standard library).

At cursor positions in stdlib files the rest of a line is deleted and typed again, one character every
`--interval` seconds, as an editor would: each keystroke is a `didChange` and an automatic inline request that the
next keystroke cancels (`$/cancelRequest`); at a `--pause` share of keystrokes (and at line ends) the user waits for
the answer; a suggestion that is a prefix of what the user was going to type is accepted (`codeward.acceptCompletion`
and the edit). Latency runs from the request to a non-empty answer; cancelled and empty answers are counted, not
timed; the debounce wait is reported apart (server stats). Before typing, in a server of its own, a 1,000-line file
is opened and asked for a suggestion 10 s later (the background prefill had time) at a line its opening prefill
covers and at one it does not, and another immediately after opening (the worst case); the typing runs in a fresh
server, so that its latency percentiles hold typing requests only.

Run: `.venv/bin/python bench/lsp_latency.py --model qwen2.5-coder-0.5b` (add `--quality` for the `eval infilling`
gate at the same settings: single-line, 100 tasks spread over HumanEval). Prints the figures; `--out FILE` writes
them as JSON.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import shlex
import statistics
import sys
import sysconfig
import time
from pathlib import Path
from typing import Any

from lsp_typing import Line, pick_lines, thousand_line_files
from lsprotocol import types
from pygls.lsp.client import LanguageClient

STDLIB = Path(sysconfig.get_paths()["stdlib"])


class Session:
    """A `codeward serve` process and the client state of an editor typing into it."""

    def __init__(self, client: LanguageClient) -> None:
        self.client = client
        self.versions: dict[str, int] = {}
        self.seen_ids: set[str] = set()
        self.next_id = 10_000

    async def stats(self) -> dict[str, Any]:
        return _plain(await self.client.protocol.send_request_async("codeward/stats", {}))

    def open(self, uri: str, text: str) -> None:
        self.versions[uri] = 1
        self.client.text_document_did_open(types.DidOpenTextDocumentParams(
            text_document=types.TextDocumentItem(uri=uri, language_id="python", version=1, text=text)))

    def edit(self, uri: str, line: int, start: int, end: int, text: str) -> None:
        self.versions[uri] += 1
        self.client.text_document_did_change(types.DidChangeTextDocumentParams(
            text_document=types.VersionedTextDocumentIdentifier(uri=uri, version=self.versions[uri]),
            content_changes=[types.TextDocumentContentChangePartial(
                range=types.Range(types.Position(line, start), types.Position(line, end)), text=text)]))

    def request(self, uri: str, line: int, col: int, invoked: bool = False) -> tuple[int, asyncio.Future]:
        """An inline completion request (automatic unless `invoked`) and its id, for $/cancelRequest."""
        self.next_id += 1
        kind = types.InlineCompletionTriggerKind.Invoked if invoked else types.InlineCompletionTriggerKind.Automatic
        params = types.InlineCompletionParams(
            text_document=types.TextDocumentIdentifier(uri=uri), position=types.Position(line, col),
            context=types.InlineCompletionContext(trigger_kind=kind))
        future = self.client.protocol.send_request_async(types.TEXT_DOCUMENT_INLINE_COMPLETION, params,
                                                         msg_id=self.next_id)
        task = asyncio.ensure_future(future)
        task.add_done_callback(lambda f: f.cancelled() or f.exception())  # a cancelled request's error is expected
        return self.next_id, task

    def cancel(self, msg_id: int, future: asyncio.Future) -> None:
        if not future.done():
            self.client.protocol.notify("$/cancelRequest", types.CancelParams(id=msg_id))

    async def accept(self, item: types.InlineCompletionItem) -> None:
        await self.client.workspace_execute_command_async(types.ExecuteCommandParams(
            command=item.command.command, arguments=item.command.arguments))


def _plain(value: Any) -> Any:
    if hasattr(value, "_asdict"):
        return {k: _plain(v) for k, v in value._asdict().items()}
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def _items(result: Any) -> list[types.InlineCompletionItem]:
    if result is None:
        return []
    return list(result.items if isinstance(result, types.InlineCompletionList) else result)


class Tally:
    """What the simulation observed."""

    def __init__(self) -> None:
        self.latency: dict[str, list[float]] = {"single": [], "multi": [], "cache": []}
        self.keystrokes = self.shown_after = self.cache_answers = 0
        # keystrokes after which nothing was shown: before any suggestion on their line / after one had been shown
        self.unshown_first = self.unshown_later = 0
        self.cancelled = self.empty = self.accepted = self.accepted_chars = self.typed_chars = 0
        # how a shown suggestion stopped serving: the user typed another character than its next one (at how many
        # characters into it), or typed past its end (it ran out, accepted or not)
        self.typed_off: list[int] = []
        self.first_shown_at: list[int | None] = []  # per line: keystrokes typed before its first suggestion
        self.ran_out = 0

    def left(self, shown: str, offset: int) -> None:
        """The user left the suggestion `shown` (its text beyond the cursor when shown) `offset` characters in."""
        if offset >= len(shown):
            self.ran_out += 1
        else:
            self.typed_off.append(offset)

    def answer(self, session: Session, items: list, elapsed_ms: float) -> str | None:
        """Record an answer; its kind (cache / single / multi) or None when empty."""
        if not items:
            self.empty += 1
            return None
        ident = str(items[0].command.arguments[0]) if items[0].command else ""
        kind = "cache" if ident in session.seen_ids else "multi" if "\n" in items[0].insert_text else "single"
        session.seen_ids.update(str(i.command.arguments[0]) for i in items if i.command)
        self.latency[kind].append(elapsed_ms)
        return kind


async def type_line(session: Session, tally: Tally, uri: str, line: Line, args: argparse.Namespace,
                    rng: random.Random) -> None:
    """Delete the rest of `line` from its start column, pause, and type it again."""
    session.edit(uri, line.number, line.column, line.column + len(line.target), "")
    await asyncio.sleep(args.line_pause)  # the user moved here and paused: background prefill time
    typed = 0
    shown_on_line = False
    following: tuple[int, str] | None = None  # the shown suggestion the user types along: (typed then, its rest)
    while typed < len(line.target):
        if following is not None:
            at, shown = following
            offset = typed - at
            if offset >= len(shown) or shown[offset] != line.target[typed]:
                tally.left(shown, offset)
                following = None
        session.edit(uri, line.number, line.column + typed, line.column + typed, line.target[typed])
        typed += 1
        tally.keystrokes += 1
        tally.typed_chars += 1
        msg_id, future = session.request(uri, line.number, line.column + typed)
        started = time.perf_counter()
        wait = args.timeout if (rng.random() < args.pause or typed == len(line.target)) else args.interval
        done, _ = await asyncio.wait({future}, timeout=wait)
        if future in done:
            items = _items(future.result())
            kind = tally.answer(session, items, (time.perf_counter() - started) * 1e3)
        else:
            session.cancel(msg_id, future)
            tally.cancelled += 1
            kind = None
        if kind is None:
            tally.unshown_later += shown_on_line
            tally.unshown_first += not shown_on_line
            continue
        if not shown_on_line:
            tally.first_shown_at.append(typed - 1)
        shown_on_line = True
        tally.shown_after += 1
        tally.cache_answers += kind == "cache"
        rest = items[0].insert_text[line.column + typed:] if items[0].insert_text.startswith(
            line.prefix + line.target[:typed]) else ""
        remaining = line.target[typed:]
        if kind != "cache" or following is None:  # a cache answer is the same suggestion, advanced
            following = (typed, rest.split("\n")[0]) if rest else None
        if rest and "\n" not in rest and remaining.startswith(rest):
            await session.accept(items[0])
            session.edit(uri, line.number, line.column + typed, line.column + typed, rest)
            typed += len(rest)
            tally.accepted += 1
            tally.accepted_chars += len(rest)
        if wait == args.interval:
            await asyncio.sleep(max(0.0, args.interval - (time.perf_counter() - started)))
    if not shown_on_line:
        tally.first_shown_at.append(None)


async def cold_start(session: Session, files: list[Path]) -> dict[str, float | None]:
    """First suggestions in 1,000-line files: 10 s after opening (inside and outside the opening prefill's
    window) and at once (the worst case)."""
    out: dict[str, float | None] = {}
    for name, path, line, wait in (("after_10s_top", files[0], 40, 10.0), ("after_10s_middle", files[1], 500, 10.0),
                                   ("at_once_middle", files[2], 500, 0.0)):
        lines = path.read_text(encoding="utf-8").split("\n")
        number = next(i for i in range(line, len(lines)) if len(lines[i].strip()) > 10)
        text = "\n".join(lines[:number] + [lines[number][: len(lines[number]) - len(lines[number].lstrip())]]
                         + lines[number + 1:])
        uri = f"file:///bench/cold/{path.name}"
        session.open(uri, text)
        await asyncio.sleep(wait)
        started = time.perf_counter()
        _, future = session.request(uri, number, len(text.split("\n")[number]), invoked=True)
        items = _items(await future)
        out[name] = round((time.perf_counter() - started) * 1e3) if items else None
        session.client.text_document_did_close(types.DidCloseTextDocumentParams(
            text_document=types.TextDocumentIdentifier(uri=uri)))
    return out


def _pct(values: list[float]) -> dict[str, float | int | None]:
    if not values:
        return {"p50": None, "p95": None, "count": 0}
    data = sorted(values)
    return {"p50": round(statistics.median(data)), "p95": round(data[min(len(data) - 1, int(0.95 * len(data)))]),
            "count": len(data)}


async def start_server(args: argparse.Namespace) -> tuple[Session, float]:
    """A `codeward serve` process with the run's settings, its model loaded; the load time (s)."""
    client = LanguageClient("codeward-bench", "1")
    options: dict[str, dict[str, Any]] = {"engine": {"model": args.model,
                                                     **({"draft_model": args.draft_model} if args.draft_model else {})}}
    for item in args.set:  # every other setting as shipped
        key, _, value = item.partition("=")
        section, _, name = key.partition(".")
        options.setdefault(section, {})[name] = json.loads(value) if value[:1].isdigit() or value in (
            "true", "false") else value
    if args.server_log:  # pygls pipes the server's stderr and never reads it: send it to a file instead
        await client.start_io("sh", "-c", f"exec {shlex.quote(sys.executable)} -m codeward -v serve "
                              f"2>>{shlex.quote(args.server_log)}")
    else:
        await client.start_io(sys.executable, "-m", "codeward", "serve")
    await client.initialize_async(types.InitializeParams(
        capabilities=types.ClientCapabilities(), initialization_options=options, root_uri="file:///bench"))
    client.initialized(types.InitializedParams())
    session = Session(client)
    loaded = time.perf_counter()
    session.open("file:///bench/warmup.py", "x = 1\n")
    await session.request("file:///bench/warmup.py", 1, 0, invoked=True)[1]  # loads the model
    return session, time.perf_counter() - loaded


async def stop_server(session: Session) -> None:
    await session.client.shutdown_async(None)
    session.client.exit(None)
    await session.client.stop()


async def simulate(args: argparse.Namespace) -> dict[str, Any]:
    """The cold-start probes in one server, the typing in a fresh one: the typing figures (the server's latency
    percentiles) then hold typing requests only (and the model-loading one), not the cold-start ones, which are
    reported apart."""
    rng = random.Random(args.seed)
    lines = pick_lines(STDLIB, args.files, args.lines, rng)
    session, _ = await start_server(args)
    cold = await cold_start(session, thousand_line_files(STDLIB))
    await stop_server(session)
    session, load_s = await start_server(args)
    tally = Tally()
    started = time.perf_counter()
    for path, file_lines in lines.items():
        uri = f"file:///bench/{path.name}"
        session.open(uri, path.read_text(encoding="utf-8"))
        for line in file_lines:
            await type_line(session, tally, uri, line, args, rng)
    typing_s = time.perf_counter() - started
    server = await session.stats()
    await stop_server(session)
    return report(args, tally, server, cold, load_s, typing_s, sum(len(v) for v in lines.values()))


def report(args: argparse.Namespace, tally: Tally, server: dict, cold: dict, load_s: float, typing_s: float,
           n_lines: int) -> dict[str, Any]:
    with_suggestion = tally.latency["single"] + tally.latency["multi"] + tally.latency["cache"]
    engine = server.get("engine", {})
    lat = server["latency_ms"]
    return {
        "model": args.model, "lines": n_lines, "keystrokes": tally.keystrokes, "typing_s": round(typing_s),
        "model_load_s": round(load_s, 1), "interval_s": args.interval, "pause_share": args.pause,
        # the server's figures run from the end of the debounce to the answer; the client's include the debounce
        "model_served_ms": {"single": lat.get("request_single"), "multi": lat.get("request_multi"),
                            "all": lat["request"]},
        "client_ms_incl_debounce": {"single": _pct(tally.latency["single"]), "multi": _pct(tally.latency["multi"]),
                                    "cache": _pct(tally.latency["cache"]),
                                    "all_with_suggestion": _pct(with_suggestion)},
        "cold_start_ms": cold,
        "share_of_keystrokes_answered_from_cache": round(tally.cache_answers / max(1, tally.keystrokes), 3),
        "share_of_keystrokes_with_a_suggestion_shown": round(tally.shown_after / max(1, tally.keystrokes), 3),
        # where the others are: before the line's first suggestion, or later (after the shown one stopped matching)
        "share_unshown_before_the_lines_first_suggestion": round(tally.unshown_first / max(1, tally.keystrokes), 3),
        "share_unshown_later_on_the_line": round(tally.unshown_later / max(1, tally.keystrokes), 3),
        "accepted": tally.accepted, "accepted_chars": tally.accepted_chars, "typed_chars": tally.typed_chars,
        "cancelled": tally.cancelled, "empty": tally.empty,
        "first_suggestion_after_keystrokes": tally.first_shown_at,
        "left_suggestion": {"typed_off": len(tally.typed_off), "ran_out": tally.ran_out,
                            "typed_off_at_first_char": sum(1 for o in tally.typed_off if o == 0),
                            "typed_off_offset_median": statistics.median(tally.typed_off) if tally.typed_off
                            else None},
        "speculative": {"proposed": engine.get("spec_proposed", 0), "accepted": engine.get("spec_accepted", 0),
                        "acceptance": round(engine.get("spec_accepted", 0) / max(1, engine.get("spec_proposed", 0)),
                                            3)},
        "server": {"request_ms": lat["request"], "engine_ms": lat["engine"], "cache_ms": lat["cache"],
                   "debounce_ms": lat["debounce"], "prefills": server.get("prefills"),
                   "prefills_cancelled": server.get("prefills_cancelled"), "cold_short": server.get("cold_short"),
                   "prefetches": server.get("prefetches"), "prefetches_on_miss": server.get("prefetches_on_miss"),
                   "kv_restores": engine.get("kv_restores"), "superseded": server.get("superseded"),
                   "adopted": server.get("adopted"), "adopted_ms": lat.get("adopted"),
                   "waited_run_ms": lat.get("waited_run"),
                   "cancelled": server.get("cancelled"), "engine_counters": engine},
        # per answer: its latency less its own engine time (wait for the engine, context, postprocess, safety)
        "overhead_ms": lat.get("overhead"),
        "overhead_share": server.get("overhead_share_p50"),  # the median over those answers of overhead / latency
        "stages_ms": {k: {"p50": v["p50"], "p95": v["p95"]} for k, v in lat.get("stages", {}).items()},
        "budgets": {k: server["settings"]["context"][k] for k in ("prefix_tokens", "suffix_tokens", "suffix_scope")}
        | {k: server["settings"]["completion"][k] for k in ("cold_tokens", "cold_prefix_tokens", "debounce_ms",
                                                          "prefill_delay_ms", "prefetch")}
        | {k: server["settings"]["engine"][k] for k in ("speculative", "draft_model", "quant")},
    }


def quality_gate(args: argparse.Namespace) -> dict[str, Any]:
    """`eval infilling` single-line on 100 tasks spread evenly over the set, at the editor's settings."""
    import gzip
    import subprocess

    data = Path(args.infilling)
    with gzip.open(data, "rt", encoding="utf-8") as f:
        ids = [json.loads(line)["task_id"] for line in f if line.strip()]
    chosen = [ids[int(i * len(ids) / 100)] for i in range(100)]
    out = Path(args.quality_out or f"runs/bench-infill-{args.model}")
    subprocess.run([sys.executable, "-m", "codeward", "eval", "infilling", "--data", str(data), "--model", args.model,
                    "--tasks", ",".join(chosen), "-k", "1", "--out", str(out), "--no-progress"]
                   + (["--resume"] if (out / "config.json").exists() else []), check=True)
    metrics = json.loads((out / "results.json").read_text())["metrics"]
    return {m["arm"]: {"pass@1": m["pass@1"], "ci95": m.get("pass@1_ci95"), "tasks": m["tasks"]} for m in metrics}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--draft-model", default="", help="engine.draft_model (a smaller model of the same family)")
    p.add_argument("--files", type=int, default=4, help="stdlib files to type in")
    p.add_argument("--lines", type=int, default=6, help="lines typed per file")
    p.add_argument("--interval", type=float, default=0.12, help="seconds between keystrokes (~100 wpm)")
    p.add_argument("--pause", type=float, default=0.25, help="share of keystrokes after which the user waits")
    p.add_argument("--line-pause", type=float, default=1.0, help="pause before typing each line (s)")
    p.add_argument("--timeout", type=float, default=12.0, help="completion.timeout_s, and the longest wait")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--server-log", default="", help="append the server's debug log (each answer's stages) here")
    p.add_argument("--set", action="append", default=[], metavar="SECTION.KEY=VALUE",
                   help="a setting other than shipped, e.g. completion.debounce_ms=50 (repeatable; A/B runs)")
    p.add_argument("--quality", action="store_true", help="also run the eval infilling gate")
    p.add_argument("--infilling", default=str(Path(__file__).resolve().parents[2] / "shared" / "data"
                                             / "humaneval-infilling" / "HumanEval-SingleLineInfilling.jsonl.gz"))
    p.add_argument("--quality-out", default="")
    p.add_argument("--out", default="")
    args = p.parse_args()
    figures = asyncio.run(simulate(args))
    if args.quality:
        figures["quality_gate"] = quality_gate(args)
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
