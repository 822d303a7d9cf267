"""`make demo`: the main job on the embedded default model, step by step, with timings."""

from __future__ import annotations

import time
from importlib.resources import files

from codeward.config import load_settings
from codeward.model.base import SamplingParams
from codeward.model.factory import make_engine
from codeward.model.stops import CODEX_STOPS

EXAMPLE = "inventory.py"
# (description, marker text the cursor goes after, stop sequences)
CURSORS = (
    ("body of cheapest()", '"""Return the item with the lowest price."""\n    ', CODEX_STOPS),
    ("after 'total = 0.0'", "    total = 0.0\n", ("\n\n",)),
    ("end of 'rows = json.load(f)' line", "    with open(path) as f:\n", ("\n",)),
)


def banner(title: str) -> None:
    print(f"\n=== {title} " + "=" * max(0, 70 - len(title)))


def completions_step() -> None:
    """Complete the bundled example at a few cursors with the default engine."""
    text = (files("codeward") / "examples" / EXAMPLE).read_text(encoding="utf-8")
    settings = load_settings()
    banner(f"completions on codeward/examples/{EXAMPLE} ({settings.engine.engine}, {settings.engine.model})")
    t0 = time.perf_counter()
    engine = make_engine(settings.engine)
    print(f"model loaded in {time.perf_counter() - t0:.2f} s: {engine.info.model}")
    for label, marker, stops in CURSORS:
        offset = text.index(marker) + len(marker)
        line = text.count("\n", 0, offset) + 1
        params = SamplingParams(n=1, temperature=0.0, max_new_tokens=32, stop=stops)
        t1 = time.perf_counter()
        sample = engine.generate([text[:offset]], params)[0][0]
        dt = time.perf_counter() - t1
        print(f"\n-- cursor: {label} (line {line}) -- {sample.n_tokens} tokens in {dt:.2f} s "
              f"({sample.finish_reason})")
        print(sample.text.rstrip() or "(empty suggestion)")
    engine.close()


def main() -> int:
    print("codeward demo: the embedded SmolLM2-135M-Instruct is tiny and weak at code; the demo shows the "
          "machinery, not model quality.")
    completions_step()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
