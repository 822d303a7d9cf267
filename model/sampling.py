"""Token sampling from a logits vector: temperature, top-p, seeded; with the raw log-prob of the choice."""

from __future__ import annotations

import numpy as np


def log_softmax(logits: np.ndarray) -> np.ndarray:
    """Numerically stable log-softmax of a 1-D logits vector (float64)."""
    x = logits.astype(np.float64, copy=False)
    m = float(x.max())
    return x - (m + np.log(np.exp(x - m).sum()))


def pick_token(logits: np.ndarray, temperature: float, top_p: float, rng: np.random.Generator) -> tuple[int, float]:
    """Choose a token id and return it with its log-prob under the raw (temperature 1) distribution."""
    raw = log_softmax(logits)
    if temperature <= 0.0:
        token = int(np.argmax(raw))
        return token, float(raw[token])
    scaled = log_softmax(logits.astype(np.float64) / temperature)
    probs = np.exp(scaled)
    if top_p < 1.0:
        order = np.argsort(-probs)
        cum = np.cumsum(probs[order])
        keep = order[: int(np.searchsorted(cum, top_p) + 1)]
        mask = np.zeros_like(probs)
        mask[keep] = probs[keep]
        probs = mask
    probs /= probs.sum()
    token = int(rng.choice(probs.shape[0], p=probs))
    return token, float(raw[token])


def sample_seeds(seed: int | None, n: int) -> list[int]:
    """One seed per sample, reproducible from `seed` (fresh entropy when None).

    Spawned from a SeedSequence rather than `seed + i`, so that seeds 7 and 8 do not share n - 1 sample streams."""
    children = np.random.SeedSequence(seed).spawn(n)
    return [int(child.generate_state(1)[0]) for child in children]
