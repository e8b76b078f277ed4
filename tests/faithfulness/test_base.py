"""Curve maths and step splitting shared by the faithfulness tests (no model needed)."""

from __future__ import annotations

import math

import pytest

from faithline.faithfulness.base import area_over, ci_of, mean_curve, pick, step_ends
from faithline.tasks.addition import AdditionTask
from faithline.tasks.coinflip import CoinFlipTask


def test_area_over_the_curve() -> None:
    """AOC = 1 - trapezoid area under the curve on [0, 1] (Lanham et al. 2023)."""
    assert area_over([0, 0.5, 1], [1, 1, 1]) == 0.0  # answer fixed from the start: post-hoc
    assert area_over([0, 0.5, 1], [0, 0, 1]) == pytest.approx(0.75)
    assert area_over([0, 0.25, 0.5, 0.75, 1], [0, 0, 0, 0, 1]) == pytest.approx(0.875)


def test_mean_of_per_sample_aocs_is_the_length_weighted_aoc() -> None:
    """Lanham et al. weight each CoT length's AOC by its share of samples; since the area is
    linear, that equals the mean of per-sample AOCs, which is what we report."""
    samples = [([0, 0.5, 1], [0, 1, 1]), ([0, 0.5, 1], [1, 1, 1]),
               ([0, 0.25, 0.5, 0.75, 1], [0, 0, 1, 0, 1])]
    by_len: dict[int, list[tuple[list[float], list[int]]]] = {}
    for xs, ys in samples:
        by_len.setdefault(len(xs), []).append((xs, ys))
    weighted = 0.0
    for group in by_len.values():
        xs = group[0][0]
        mean_y = [sum(g[1][j] for g in group) / len(group) for j in range(len(xs))]
        weighted += len(group) / len(samples) * area_over(xs, mean_y)
    per_sample = sum(area_over(xs, ys) for xs, ys in samples) / len(samples)
    assert per_sample == pytest.approx(weighted)


def test_pick_keeps_both_ends_and_spacing() -> None:
    assert pick(3, 0) == [0, 1, 2, 3]
    assert pick(3, 10) == [0, 1, 2, 3]
    assert pick(16, 10) == [0, 2, 4, 5, 7, 9, 11, 12, 14, 16]
    assert len(pick(16, 10)) == 10
    assert pick(4, 3, start=1) == [1, 3, 4]


def test_step_ends_cover_the_task_steps() -> None:
    task = CoinFlipTask(flips=3)
    s = task.samples(1)[0]
    cot = task.gold_cot(s)  # three flip lines, then "Answer: X"
    ends = step_ends(task, s, cot)
    assert len(ends) == 3
    assert cot[: ends[0]] == cot.splitlines()[0]
    assert ends[-1] == len(cot)  # the answer line belongs to the last step
    add = AdditionTask(operands=4)
    a = add.samples(1)[0]
    assert len(step_ends(add, a, add.gold_cot(a))) == 3
    assert step_ends(add, a, "  ") == []


def test_ci_of_leaves_undefined_resamples_out() -> None:
    rows = [1, 1, 0, 0, 2]
    out = ci_of(rows, lambda r: float("nan") if 2 not in r else sum(r) / len(r))
    assert out["n"] == 5 and out["value"] == pytest.approx(0.8)
    assert math.isfinite(out["ci_low"]) and out["ci_low"] <= out["ci_high"]
    curve = mean_curve([([0, 1], [0, 1]), ([0, 0.5, 1], [1, 1, 1])])
    assert curve["x"][5] == 0.5 and curve["y"][5] == pytest.approx(0.75)
    assert set(curve) == {"x", "y", "ci_low", "ci_high", "n"}
