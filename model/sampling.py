"""Token sampling from a logits vector: temperature, top-p, seeded; with the raw log-prob of the choice."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable log-softmax of a 1-D logits vector (float64)."""
    x = logits.astype(np.float64, copy=False)
    m = float(x.max())
    return x - (m + np.log(np.exp(x - m).sum()))


def pick_token(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> tuple[int, float]:
    """Choose a token id and return it with its log-prob under the raw (temperature 1) distribution.

    The draw is the inverse CDF of one `rng.random()` over the nucleus in token-id order (what
    `Generator.choice(p=...)` does), in few passes over the vocabulary: the nucleus is found among the top k
    tokens (k grows until it holds `top_p` of the mass) instead of sorting all 150k logits of a Qwen model on
    every token of every sample."""
    x = np.asarray(logits, dtype=np.float64)
    m = float(x.max())
    z = x - m
    lse = m + float(np.log(np.exp(z).sum()))
    if temperature <= 0.0:
        token = int(np.argmax(x))
        return token, float(x[token] - lse)
    weights = np.exp(z / temperature) if temperature != 1.0 else np.exp(z)
    if top_p < 1.0:
        keep = _nucleus(weights, top_p * float(weights.sum()))
        cdf = np.cumsum(weights[keep])
        token = int(keep[int(np.searchsorted(cdf / cdf[-1], rng.random(), side="right"))])
    else:
        cdf = np.cumsum(weights)
        token = int(np.searchsorted(cdf / cdf[-1], rng.random(), side="right"))
    return token, float(x[token] - lse)


def _nucleus(weights: np.ndarray, need: float) -> np.ndarray:
    """Ids (ascending) of the smallest set of heaviest tokens whose weights sum to at least `need`."""
    size = weights.shape[0]
    k = 64
    while True:
        k = min(k, size)
        top = np.argpartition(weights, size - k)[size - k:] if k < size else np.arange(size)
        top = top[np.argsort(-weights[top], kind="stable")]
        cum = np.cumsum(weights[top])
        if cum[-1] >= need or k == size:
            return np.sort(top[: int(np.searchsorted(cum, need) + 1)])
        k *= 4


def sample_seeds(seed: int | None, n: int) -> list[int]:
    """One seed per sample, reproducible from `seed` (fresh entropy when None).

    Spawned from a SeedSequence rather than `seed + i`, so that seeds 7 and 8 do not share n - 1 sample streams."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(child.generate_state(1)[0]) for child in children]
