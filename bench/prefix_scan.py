"""How long postprocess's string/bracket scan of the whole text before the cursor takes (it runs on every request).

Run: `.venv/bin/python bench/prefix_scan.py` — prints the median of 5 runs per prefix size.
"""

from __future__ import annotations

import statistics
import time
from pathlib import Path

from codeward.completion.brackets import open_at_end


def main() -> None:
    """Median scan time for prefixes of 20 KB, 200 KB and 2 MB of this project's own Python."""
    src = "".join(p.read_text() for p in sorted(Path(__file__).resolve().parents[1].glob("codeward/completion/*.py")))
    for size in (20_000, 200_000, 2_000_000):
        text = (src * (size // len(src) + 1))[:size]
        times = []
        for _ in range(5):
            start = time.perf_counter()
            open_at_end(text)
            times.append(time.perf_counter() - start)
        print(f"{size:>9,} characters: median {statistics.median(times) * 1e3:7.1f} ms")


if __name__ == "__main__":
    main()
