"""Token healing on or off: does the first suggestion match what the user goes on to type?

At lines of standard-library files (nobody here wrote them) the rest of the line is deleted from a cursor and the
completion pipeline is asked for a suggestion there, once with `completion.token_healing` on and once off, at three
kinds of cursor: inside the line's first word (mid-word, the editor's case while typing), at the end of the line's
indentation, and after its first word and the character that follows it (a token boundary). Reported per kind and
arm: the share of suggestions whose first character, first 4 and first 8 characters are the line's own, the share
that are the whole rest of the line, and the mean number of leading characters that match. Greedy, the shipped
settings otherwise (the full context: 768 prefix tokens).

Run: `.venv/bin/python bench/token_healing.py --lines 60` (prints JSON; `--out FILE` writes it too).
"""

from __future__ import annotations

import argparse
import json
import random
import re
import statistics
import sysconfig
import time
from dataclasses import replace
from pathlib import Path

from lsp_typing import pick_lines

from codeward.completion.pipeline import Pipeline
from codeward.completion.types import CompletionRequest
from codeward.config import load_settings
from codeward.model.factory import make_engine

STDLIB = Path(sysconfig.get_paths()["stdlib"])
WORD = re.compile(r"[A-Za-z_][A-Za-z_0-9]*")


def cursors(text: str, rng: random.Random) -> dict[str, int]:
    """Columns in a line of code: inside its first word, at the end of its indentation, after its first word and
    the character that follows it (those whose line has them)."""
    indent = len(text) - len(text.lstrip())
    out = {"indentation": indent}
    word = WORD.match(text, indent)
    if word is not None and word.end() - word.start() >= 3:
        out["mid_word"] = rng.randint(word.start() + 1, word.end() - 1)
    if word is not None and word.end() + 1 < len(text):
        out["boundary"] = word.end() + 1
    return out


def matched(suggestion: str, rest: str) -> int:
    """How many leading characters of `suggestion` are `rest`'s."""
    n = 0
    for a, b in zip(suggestion, rest):
        if a != b:
            break
        n += 1
    return n


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--model", default="qwen2.5-coder-0.5b")
    p.add_argument("--files", type=int, default=10)
    p.add_argument("--lines", type=int, default=60, help="lines in all (spread over --files stdlib files)")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default="")
    args = p.parse_args()
    rng = random.Random(args.seed)
    settings = load_settings()
    settings.engine.model = args.model
    settings.engine.temperature, settings.engine.n = 0.0, 1
    engine = make_engine(settings.engine)
    arms = {}
    for heal in (True, False):
        s = replace(settings, completion=replace(settings.completion, token_healing=heal))
        arms["on" if heal else "off"] = Pipeline(s.pipeline(), engine)
    rows: list[dict] = []
    started = time.perf_counter()
    per_file = max(1, args.lines // args.files)
    for path, lines in pick_lines(STDLIB, args.files, per_file, rng).items():
        source = path.read_text(encoding="utf-8").split("\n")
        for line in lines:
            full = source[line.number].rstrip()
            for kind, col in cursors(full, rng).items():
                text = "\n".join(source[:line.number] + [full[:col]] + source[line.number + 1:])
                rest = full[col:]
                for arm, pipeline in arms.items():
                    result = pipeline.complete_sync(CompletionRequest(text, line.number, col, path=str(path)))
                    shown = result.suggestions[0].text if result.suggestions else ""
                    rows.append({"kind": kind, "arm": arm, "matched": matched(shown, rest), "rest": len(rest),
                                 "shown": bool(shown)})
    figures: dict = {"model": args.model, "seconds": round(time.perf_counter() - started)}
    for kind in ("mid_word", "indentation", "boundary"):
        for arm in arms:
            sel = [r for r in rows if r["kind"] == kind and r["arm"] == arm]
            if not sel:
                continue
            figures[f"{kind}/{arm}"] = {
                "cursors": len(sel), "shown": round(sum(r["shown"] for r in sel) / len(sel), 3),
                **{f"first_{k}_chars": round(sum(r["matched"] >= min(k, r["rest"]) for r in sel) / len(sel), 3)
                   for k in (1, 4, 8)},
                "whole_rest": round(sum(r["matched"] >= r["rest"] for r in sel) / len(sel), 3),
                "mean_matched_chars": round(statistics.mean(r["matched"] for r in sel), 2)}
    for kind in ("mid_word", "indentation", "boundary"):  # rows come in pairs: on, then off, at one cursor
        pairs = [(a["matched"], b["matched"]) for a, b in zip(rows[::2], rows[1::2]) if a["kind"] == kind]
        figures[f"{kind}/paired"] = {"on_matched_more": sum(a > b for a, b in pairs),
                                     "off_matched_more": sum(b > a for a, b in pairs),
                                     "same": sum(a == b for a, b in pairs)}
    text = json.dumps(figures, indent=2)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n")


if __name__ == "__main__":
    main()
