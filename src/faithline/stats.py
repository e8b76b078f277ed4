"""Small statistics used across faithline: bootstrap confidence intervals."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np


def bootstrap_ci(values: Sequence[float], stat: Callable[[Any], float] = np.mean,
                 n_boot: int = 2000, alpha: float = 0.05, seed: int = 0) -> dict[str, float]:
    """Point estimate with a percentile bootstrap (1 - alpha) CI and the sample count.

    Returns ``{"value", "ci_low", "ci_high", "n"}``; with no values, value and bounds are NaN;
    with ``n_boot=0`` only the bounds are (a point estimate, e.g. per training step).
    """
    arr = np.asarray(values, dtype=float)
    nan = float("nan")
    if arr.size == 0:
        return {"value": nan, "ci_low": nan, "ci_high": nan, "n": 0}
    if n_boot <= 0:
        return {"value": float(stat(arr)), "ci_low": nan, "ci_high": nan, "n": int(arr.size)}
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, arr.size, size=(n_boot, arr.size))
    boots = np.array([stat(arr[row]) for row in idx])
    low, high = np.quantile(boots, [alpha / 2, 1 - alpha / 2])
    return {"value": float(stat(arr)), "ci_low": float(low), "ci_high": float(high),
            "n": int(arr.size)}


def bootstrap_diff_ci(a: Sequence[float], b: Sequence[float], n_boot: int = 2000,
                      alpha: float = 0.05, seed: int = 0) -> dict[str, float]:
    """mean(a) - mean(b) with a percentile bootstrap CI, resampling each group on its own;
    ``n`` is the total sample count."""
    x, y = np.asarray(a, dtype=float), np.asarray(b, dtype=float)
    nan = float("nan")
    if x.size == 0 or y.size == 0:
        return {"value": nan, "ci_low": nan, "ci_high": nan, "n": int(x.size + y.size)}
    if n_boot <= 0:
        return {"value": float(x.mean() - y.mean()), "ci_low": nan, "ci_high": nan,
                "n": int(x.size + y.size)}
    rng = np.random.default_rng(seed)
    bx = x[rng.integers(0, x.size, size=(n_boot, x.size))].mean(1)
    by = y[rng.integers(0, y.size, size=(n_boot, y.size))].mean(1)
    low, high = np.quantile(bx - by, [alpha / 2, 1 - alpha / 2])
    return {"value": float(x.mean() - y.mean()), "ci_low": float(low), "ci_high": float(high),
            "n": int(x.size + y.size)}
