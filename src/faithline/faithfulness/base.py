"""What every faithfulness test shares: the CoT under test (``Item``), steps, curve maths.

A test takes ``Item``s (a task sample, its prompt, the model's CoT and free answer), writes one
``Transcript`` per item with all per-sample details in ``meta`` (so a run can be resumed and its
metrics recomputed from the transcripts alone), and summarises transcripts into metrics (each a
bootstrap 95% CI with its sample count) and curves (``{"x", "y", "ci_low", "ci_high", "n"}``).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faithline.stats import bootstrap_ci
from faithline.tasks.base import Task
from faithline.types import Prompt, Sample

GRID = tuple(i / 10 for i in range(11))  # x values of the averaged curves
Metrics = dict[str, Any]
Curves = dict[str, dict[str, Any]]


@dataclass(frozen=True)
class Item:
    """One sampled CoT under test: the sample, the prompt it answered, the CoT and answer.
    ``answer_forced``: the answer was read by the pipeline (the model wrote none itself)."""

    sample: Sample
    prompt: Prompt
    cot: str
    answer: str | None
    correct: bool
    answer_forced: bool = False


# ----- steps and truncation points -------------------------------------------------------------
def step_ends(task: Task, sample: Sample, cot: str) -> list[int]:
    """Character offset in ``cot`` where each step ends (steps from ``task.steps``).

    Truncating after step k keeps ``cot[:ends[k-1]]``. Text after the last step (e.g. a final
    answer line that is not a task step) belongs to the last step: ``ends[-1] == len(cot)``.
    """
    ends: list[int] = []
    pos = 0
    for step in task.steps(cot, sample):
        at = cot.find(step, pos)
        if at < 0:
            continue
        pos = at + len(step)
        ends.append(pos)
    if not ends:
        return [len(cot)] if cot.strip() else []
    ends[-1] = len(cot)
    return ends


def pick(n: int, points: int, start: int = 0) -> list[int]:
    """Step counts in ``start..n`` to use: all of them if ``points`` <= 0 or there are no
    more than ``points``; else ``points`` evenly spaced ones, always including both ends."""
    span = list(range(start, n + 1))
    if points <= 0 or len(span) <= points:
        return span
    if points == 1:
        return [n]
    return sorted({start + round(i * (n - start) / (points - 1)) for i in range(points)})


# ----- curves and areas ------------------------------------------------------------------------
def area_over(xs: Sequence[float], ys: Sequence[float]) -> float:
    """Area over the curve through ``(xs, ys)`` on x in [0, 1] (trapezoids): 1 - area under."""
    x, y = np.asarray(xs, dtype=float), np.asarray(ys, dtype=float)
    under = float(np.sum((x[1:] - x[:-1]) * (y[1:] + y[:-1]) / 2)) if len(x) > 1 else 0.0
    return 1.0 - under


def mean_curve(per_sample: Sequence[tuple[Sequence[float], Sequence[float]]],
               grid: Sequence[float] = GRID, seed: int = 0) -> dict[str, Any]:
    """Average of per-sample curves (linearly interpolated onto ``grid``) with a bootstrap 95%
    CI at each x: ``{"x", "y", "ci_low", "ci_high", "n"}``, the shape the report draws."""
    rows = [np.interp(grid, xs, ys) for xs, ys in per_sample if len(xs)]
    y, low, high = [], [], []
    for j in range(len(grid)):
        c = ci([float(r[j]) for r in rows], seed=seed)
        y.append(c["value"])
        low.append(c["ci_low"])
        high.append(c["ci_high"])
    return {"x": list(grid), "y": y, "ci_low": low, "ci_high": high, "n": len(rows)}


def points_curve(xs: Sequence[float], values: Sequence[Sequence[float]],
                 seed: int = 0) -> dict[str, Any]:
    """A curve with a CI at each of ``xs`` from the per-point sample values."""
    cis = [ci(v, seed=seed) for v in values]
    return {"x": list(xs), "y": [c["value"] for c in cis], "ci_low": [c["ci_low"] for c in cis],
            "ci_high": [c["ci_high"] for c in cis], "n": max((c["n"] for c in cis), default=0)}


# ----- confidence intervals --------------------------------------------------------------------
def ci(values: Sequence[float], seed: int = 0) -> dict[str, float]:
    """Bootstrap 95% CI of the mean: ``{"value", "ci_low", "ci_high", "n"}``."""
    return bootstrap_ci([float(v) for v in values], seed=seed)


def ci_of(rows: Sequence[Any], stat: Callable[[Sequence[Any]], float], n_boot: int = 2000,
          seed: int = 0) -> dict[str, float]:
    """Bootstrap 95% CI of any statistic of ``rows`` (resampled whole). Resamples where the
    statistic is undefined (NaN) are left out of the interval."""
    nan = float("nan")
    if not rows:
        return {"value": nan, "ci_low": nan, "ci_high": nan, "n": 0}
    rng = np.random.default_rng(seed)
    boots = [stat([rows[i] for i in rng.integers(0, len(rows), len(rows))])
             for _ in range(n_boot)]
    finite = [b for b in boots if not math.isnan(b)]
    low, high = (np.quantile(finite, [0.025, 0.975]) if finite else (nan, nan))
    return {"value": float(stat(rows)), "ci_low": float(low), "ci_high": float(high),
            "n": len(rows)}


def paired_diff(a: Sequence[float], b: Sequence[float], seed: int = 0) -> dict[str, float]:
    """CI of the mean per-sample difference ``a - b`` (paired)."""
    return ci([x - y for x, y in zip(a, b, strict=True)], seed=seed)


def flag(value: Any) -> float:
    return 1.0 if value else 0.0
