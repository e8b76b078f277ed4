"""Small statistics used across faithline: bootstrap confidence intervals over samples, and
statistics over seeds (``seed_ci``, ``holds``, ``paired_diff``) for RL findings."""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
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


# ----- statistics over seeds (rliable, Agarwal et al. 2021; Henderson et al. 2018) -----------
# A finding of an RL experiment is a metric computed once per run (seed), then aggregated over
# seeds: a percentile bootstrap CI over seeds (scipy.stats.bootstrap, fixed random_state, so the
# numbers are bitwise reproducible), "holds in k of n seeds", and arms compared paired by seed.

SEED_STATS = ("mean", "iqm")


def _finite(values: Sequence[float]) -> np.ndarray:
    arr = np.asarray(list(values), dtype=float)
    return arr[~np.isnan(arr)]


def _seed_stat(stat: str) -> Callable[..., Any]:
    if stat == "mean":
        return np.mean
    if stat == "iqm":  # interquartile mean: rliable's aggregate, robust to one outlier seed
        from scipy.stats import trim_mean

        def iqm(x: Any, axis: int = -1) -> Any:
            return trim_mean(x, 0.25, axis=axis)

        return iqm
    raise ValueError(f"unknown seed statistic '{stat}' (known: {', '.join(SEED_STATS)})")


def seed_ci(values: Sequence[float], stat: str = "mean", alpha: float = 0.05,
            n_boot: int = 10_000, seed: int = 0) -> dict[str, float]:
    """One number per seed -> ``{"value", "ci_low", "ci_high", "n"}``: ``stat`` ("mean" or
    "iqm", the 25%-trimmed mean) over the seeds with a (1 - alpha) percentile bootstrap CI
    over seeds (``scipy.stats.bootstrap``, ``random_state=seed``).

    NaN values (runs without the metric) are dropped first. No values: NaN everywhere; one
    value: that value with NaN bounds; all values equal: bounds equal the value.
    """
    try:
        from scipy.stats import bootstrap
    except ImportError:
        from faithline.errors import MissingDependencyError

        raise MissingDependencyError("scipy", "train", "a CI over seeds") from None
    fn = _seed_stat(stat)
    arr = _finite(values)
    nan = float("nan")
    n = int(arr.size)
    if n == 0:
        return {"value": nan, "ci_low": nan, "ci_high": nan, "n": 0}
    value = float(fn(arr))
    if n == 1:
        return {"value": value, "ci_low": nan, "ci_high": nan, "n": 1}
    if np.all(arr == arr[0]):  # every resample is the sample: no spread (scipy would warn)
        return {"value": value, "ci_low": value, "ci_high": value, "n": n}
    res = bootstrap((arr,), fn, n_resamples=n_boot, confidence_level=1 - alpha,
                    method="percentile", vectorized=True, random_state=seed)
    ci = res.confidence_interval
    return {"value": value, "ci_low": float(ci.low), "ci_high": float(ci.high), "n": n}


def holds(values: Sequence[float], predicate: Callable[[float], bool]) -> dict[str, int]:
    """In how many seeds a finding holds: ``{"k": seeds where predicate(value), "n": seeds}``;
    NaN values (runs without the metric) count in neither."""
    arr = _finite(values)
    return {"k": int(sum(bool(predicate(float(v))) for v in arr)), "n": int(arr.size)}


def paired_diff(a: Mapping[Any, float], b: Mapping[Any, float], alpha: float = 0.05,
                n_boot: int = 10_000, seed: int = 0) -> dict[str, Any]:
    """Arm ``a`` minus arm ``b``, paired by seed: the per-seed differences ``a[s] - b[s]`` over
    the seeds both have (a NaN on either side drops the seed), their mean with a bootstrap CI
    over seeds (``seed_ci``), ``n``, ``k_positive`` / ``k_negative`` (seeds whose difference is
    > 0 / < 0), ``seeds`` (the seeds used, sorted) and ``diffs`` (their differences, same order).
    """
    common = [s for s in a if s in b]
    try:
        common = sorted(common)
    except TypeError:  # seeds of mixed types: a stable order all the same
        common = sorted(common, key=repr)
    seeds, diffs = [], []
    for s in common:
        d = float(a[s]) - float(b[s])
        if not np.isnan(d):
            seeds.append(s)
            diffs.append(d)
    ci = seed_ci(diffs, "mean", alpha=alpha, n_boot=n_boot, seed=seed)
    return {**ci, "k_positive": sum(d > 0 for d in diffs),
            "k_negative": sum(d < 0 for d in diffs), "seeds": seeds, "diffs": diffs}
