"""Statistics over seeds: CIs over seeds from scipy's bootstrap, "holds in k of n", paired
differences between arms. Known answers, and scipy's own result where it can be compared."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
from scipy import stats as sps

from faithline.stats import holds, paired_diff, seed_ci


def test_the_ci_over_eight_seeds_covers_the_true_mean_and_is_scipys() -> None:
    values = np.random.default_rng(7).normal(loc=0.6, scale=0.1, size=8)
    ci = seed_ci(values.tolist())
    assert ci["n"] == 8
    assert ci["value"] == float(values.mean())
    assert ci["ci_low"] < 0.6 < ci["ci_high"]
    ref = sps.bootstrap((values,), np.mean, n_resamples=10_000, confidence_level=0.95,
                        method="percentile", random_state=0).confidence_interval
    assert (ci["ci_low"], ci["ci_high"]) == (float(ref.low), float(ref.high))


def test_nan_values_are_dropped_before_anything() -> None:
    values = [0.2, float("nan"), 0.5, 0.9, float("nan"), 0.4]
    assert seed_ci(values) == seed_ci([0.2, 0.5, 0.9, 0.4])
    assert seed_ci(values)["n"] == 4


def test_a_constant_series_has_bounds_equal_to_the_value_without_warnings() -> None:
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        for stat in ("mean", "iqm"):
            ci = seed_ci([0.1] * 6, stat=stat)
            assert ci["ci_low"] == ci["value"] == ci["ci_high"]
            assert ci["value"] == pytest.approx(0.1)
            assert ci["n"] == 6


def test_no_value_and_one_value() -> None:
    empty = seed_ci([float("nan")])
    assert empty["n"] == 0 and all(math.isnan(empty[k]) for k in ("value", "ci_low", "ci_high"))
    one = seed_ci([0.3, float("nan")])
    assert one["n"] == 1 and one["value"] == 0.3
    assert math.isnan(one["ci_low"]) and math.isnan(one["ci_high"])


def test_iqm_drops_the_outlier_seed() -> None:
    # 8 seeds: the IQM trims 2 from each end, so the 50.0 outlier and the 0.0 go.
    values = [0.0, 0.4, 0.5, 0.6, 0.5, 0.7, 0.3, 50.0]
    ci = seed_ci(values, stat="iqm")
    assert ci["value"] == pytest.approx((0.4 + 0.5 + 0.5 + 0.6) / 4)
    assert ci["value"] == float(sps.trim_mean(values, 0.25))
    assert ci["ci_high"] < seed_ci(values)["ci_high"]  # the outlier weighs less on the IQM
    ref = sps.bootstrap((np.array(values),), lambda x, axis: sps.trim_mean(x, 0.25, axis=axis),
                        n_resamples=10_000, method="percentile",
                        random_state=0).confidence_interval
    assert (ci["ci_low"], ci["ci_high"]) == (float(ref.low), float(ref.high))


def test_two_calls_give_identical_dicts_and_the_seed_matters() -> None:
    values = np.random.default_rng(11).uniform(size=8).tolist()
    assert seed_ci(values, stat="iqm") == seed_ci(values, stat="iqm")
    assert paired_diff(dict(enumerate(values)), {i: 0.3 for i in range(5)}) == \
        paired_diff(dict(enumerate(values)), {i: 0.3 for i in range(5)})
    assert seed_ci(values, n_boot=500, seed=1) != seed_ci(values, n_boot=500, seed=0)


def test_an_unknown_statistic_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown seed statistic 'median'"):
        seed_ci([1.0, 2.0], stat="median")


def test_holds_counts_seeds_and_skips_nan() -> None:
    assert holds([0.1, 0.6, float("nan"), 0.7, 0.2], lambda v: v > 0.5) == {"k": 2, "n": 4}
    assert holds([], lambda v: True) == {"k": 0, "n": 0}


def test_a_constant_paired_difference_is_exact_in_every_seed() -> None:
    a = {s: v for s, v in enumerate(np.random.default_rng(3).uniform(0.4, 0.9, size=8))}
    b = {s: v - 0.3 for s, v in a.items()}
    d = paired_diff(a, b)
    assert d["n"] == 8 and d["k_positive"] == 8 and d["k_negative"] == 0
    assert d["value"] == pytest.approx(0.3, abs=1e-12)
    assert d["ci_high"] - d["ci_low"] == pytest.approx(0.0, abs=1e-12)
    assert d["seeds"] == list(range(8))


def test_paired_diff_uses_only_seeds_both_arms_have() -> None:
    a = {0: 0.5, 1: 0.7, 2: 0.2, 3: 0.9, 5: 0.4}
    b = {3: 0.1, 0: 0.6, 1: 0.3, 2: float("nan"), 4: 0.8}  # 2 is NaN in b, 4 and 5 unpaired
    d = paired_diff(a, b)
    assert d["seeds"] == [0, 1, 3]
    assert d["diffs"] == pytest.approx([-0.1, 0.4, 0.8])
    assert (d["n"], d["k_positive"], d["k_negative"]) == (3, 2, 1)
    assert {k: d[k] for k in ("value", "ci_low", "ci_high", "n")} == seed_ci(d["diffs"])


def test_stats_imports_and_counts_without_scipy() -> None:
    import subprocess
    import sys

    code = ("import sys; sys.modules['scipy'] = None\n"
            "from faithline.stats import holds, seed_ci\n"
            "assert holds([1.0, 2.0], lambda v: v > 1) == {'k': 1, 'n': 2}\n"
            "try:\n    seed_ci([1.0, 2.0])\n"
            "except ImportError as e:\n    print(e)\n")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True).stdout
    assert "pip install 'faithline[train]'" in out
