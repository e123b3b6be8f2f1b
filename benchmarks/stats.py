"""How sure a per-face accuracy claim is: percentile bootstrap intervals over the faces.

The scene benchmark scores 500 faces per size, so a ratio of 0.95 against a goal of 0.97, or a
one-point lead of one model over another, can be noise. Both numbers are functions of per-face
outcomes on the *same* faces (a face's crop and its scene; two models on one face), so the
faces are resampled together and the pairing is kept: that is what makes the interval of a
difference between two models on the same faces much narrower than two separate intervals.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import numpy as np

ROUNDS = 2000
LEVEL = 0.95


def bootstrap_interval(
    statistic: Callable[..., float],
    columns: Sequence[Sequence[float]],
    rounds: int = ROUNDS,
    level: float = LEVEL,
    seed: int = 0,
) -> tuple[float, float]:
    """Percentile interval of statistic(*columns) when the rows (faces) are drawn with
    replacement; every column is resampled with the same rows, so pairs stay pairs."""
    data = [np.asarray(c, dtype=np.float64) for c in columns]
    n = len(data[0])
    if n == 0 or any(len(c) != n for c in data):
        raise ValueError("columns must be non-empty and of one length")
    rows = np.random.default_rng(seed).integers(0, n, size=(rounds, n))
    values = np.array([statistic(*(c[r] for c in data)) for r in rows])
    values = values[np.isfinite(values)]
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(values, [tail, 100.0 - tail])
    return round(float(low), 4), round(float(high), 4)


def ratio(scene_ok: np.ndarray, crop_ok: np.ndarray) -> float:
    """Accuracy through the service over accuracy on the same faces as crops (nan if no crop is right)."""
    crops = crop_ok.mean()
    return float(scene_ok.mean() / crops) if crops else float("nan")


def difference(a_ok: np.ndarray, b_ok: np.ndarray) -> float:
    """Accuracy of a minus accuracy of b, on the same faces."""
    return float(a_ok.mean() - b_ok.mean())
