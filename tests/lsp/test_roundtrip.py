"""The demo's LSP round trip: a fresh `codeward serve`, one file, one suggestion with its safety verdict."""

from __future__ import annotations

import asyncio

from codeward.cli.roundtrip import round_trip


def test_round_trip_reports_the_suggestion_and_its_verdict(tmp_path):
    path = tmp_path / "totals.py"
    path.write_text("x = [1, 2, 3]\ntotal = \n", encoding="utf-8")
    answer = asyncio.run(round_trip(path, 2, 9, {"engine": {"max_new_tokens": 4},
                                                 "completion": {"debounce_ms": 0, "timeout_s": 120}}))
    assert answer["server"] == "codeward" and answer["inline_completion_provider"]
    assert answer["prompt"] == "x = [1, 2, 3]\ntotal = "
    assert answer["items"] and answer["items"][0].startswith("total = ")
    assert answer["suggestions"][0]["verdict"] in ("allow", "warn", "unchecked")
