"""pick_token against a plain reference (full sort, Generator.choice): the same draws, the raw log-prob."""

from __future__ import annotations

import numpy as np
import pytest

from codeward.model.sampling import log_softmax, pick_token


def reference(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> tuple[int, float]:
    """The textbook version: softmax at T, sort everything, keep the nucleus, Generator.choice."""
    raw = log_softmax(logits)
    probs = np.exp(log_softmax(logits.astype(np.float64) / temperature))
    if top_p < 1.0:
        order = np.argsort(-probs, kind="stable")
        keep = order[: int(np.searchsorted(np.cumsum(probs[order]), top_p) + 1)]
        mask = np.zeros_like(probs)
        mask[keep] = probs[keep]
        probs = mask
    token = int(rng.choice(probs.shape[0], p=probs / probs.sum()))
    return token, float(raw[token])


@pytest.mark.parametrize("scale", [0.5, 3.0, 12.0])  # flat (the nucleus spans thousands of tokens) to peaked
@pytest.mark.parametrize(("temperature", "top_p"), [(0.2, 0.95), (0.8, 0.95), (1.0, 1.0), (0.8, 1.0), (1.3, 0.5)])
def test_same_draws_as_the_reference(scale: float, temperature: float, top_p: float) -> None:
    gen = np.random.default_rng(7)
    for i in range(40):
        logits = (gen.standard_normal(5000) * scale).astype(np.float32)
        got = pick_token(logits, temperature, top_p, np.random.default_rng(i))
        want = reference(logits, temperature, top_p, np.random.default_rng(i))
        assert got[0] == want[0]
        assert got[1] == pytest.approx(want[1], abs=1e-9)


def test_greedy_is_argmax_with_its_raw_logprob() -> None:
    logits = np.array([0.5, 3.0, -1.0, 2.9], dtype=np.float32)
    token, logprob = pick_token(logits, 0.0, 0.95, np.random.default_rng(0))
    assert token == 1
    assert logprob == pytest.approx(float(log_softmax(logits)[1]))


def test_a_tiny_nucleus_keeps_only_the_top_token() -> None:
    logits = np.array([0.0, 8.0, 1.0, 7.0], dtype=np.float32)  # token 1 holds ~73% of the mass
    draws = {pick_token(logits, 1.0, 0.5, np.random.default_rng(s))[0] for s in range(200)}
    assert draws == {1}
