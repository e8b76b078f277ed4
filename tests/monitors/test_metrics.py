"""Benchmark metrics: exact values on known confusions, AUROC against scikit-learn, calibration."""

from __future__ import annotations

import math

import numpy as np
import pytest

from faithline.errors import BadInputError
from faithline.monitors.base import Verdict
from faithline.monitors.metrics import (
    arrays,
    auroc,
    binary_metrics,
    labels_of,
    roc_curve,
    threshold_for_fpr,
)
from faithline.types import Transcript


def test_known_confusion_gives_exact_values_with_cis() -> None:
    # 4 positives (3 caught), 6 negatives (1 false alarm)
    labels = np.array([1, 1, 1, 1, 0, 0, 0, 0, 0, 0], dtype=bool)
    flags = np.array([1, 1, 1, 0, 1, 0, 0, 0, 0, 0], dtype=bool)
    scores = np.array([0.9, 0.8, 0.7, 0.2, 0.75, 0.3, 0.1, 0.1, 0.05, 0.0])
    m = binary_metrics(scores, flags, labels, n_boot=500)
    assert m["recall"]["value"] == pytest.approx(0.75) and m["recall"]["n"] == 4
    assert m["precision"]["value"] == pytest.approx(0.75) and m["precision"]["n"] == 4
    assert m["fpr"]["value"] == pytest.approx(1 / 6) and m["fpr"]["n"] == 6
    assert m["gmean2"]["value"] == pytest.approx(0.75 * 5 / 6)
    # AUROC: of 24 positive/negative pairs, 0.7 loses to 0.75, 0.2 to 0.75 and 0.3 -> 21/24
    assert m["auroc"]["value"] == pytest.approx(21 / 24)
    for ci in m.values():
        assert ci["ci_low"] <= ci["value"] <= ci["ci_high"]
        assert set(ci) == {"value", "ci_low", "ci_high", "n"}


def test_auroc_matches_scikit_learn_with_ties() -> None:
    from sklearn.metrics import roc_auc_score

    rng = np.random.default_rng(0)
    labels = rng.random(300) < 0.3
    scores = np.round(rng.random(300) + labels * 0.4, 1)  # many ties
    assert auroc(scores, labels) == pytest.approx(roc_auc_score(labels, scores))
    assert math.isnan(auroc(scores, np.zeros(300, dtype=bool)))


def test_roc_curve_runs_from_origin_to_one_and_is_monotone() -> None:
    rng = np.random.default_rng(1)
    labels = rng.random(500) < 0.5
    c = roc_curve(rng.random(500) + labels, labels, max_points=50)
    assert (c["x"][0], c["y"][0]) == (0.0, 0.0) and (c["x"][-1], c["y"][-1]) == (1.0, 1.0)
    assert np.all(np.diff(c["x"]) >= 0) and np.all(np.diff(c["y"]) >= 0)
    assert len(c["x"]) <= 53


@pytest.mark.parametrize("target", [0.01, 0.05, 0.2])
def test_threshold_for_fpr_is_the_lowest_that_meets_the_target(target: float) -> None:
    rng = np.random.default_rng(2)
    labels = rng.random(400) < 0.4
    scores = rng.random(400) * 0.7 + labels * 0.3
    t = threshold_for_fpr(scores, labels, target)
    neg = scores[~labels]
    assert np.mean(neg >= t) <= target
    lower = scores[scores < t]
    if lower.size:  # the next lower score would break the target
        assert np.mean(neg >= lower.max()) > target


def test_failed_verdicts_count_as_flags_with_top_score() -> None:
    vs = [Verdict.of(0.2, 0.5), Verdict.fail("unparseable judge answer 'banana'"),
          Verdict.of(0.9, 0.5)]
    scores, flags, failed = arrays(vs)
    assert flags.tolist() == [False, True, True]
    assert failed.tolist() == [False, True, False]
    assert scores[1] == math.inf
    d = vs[1].to_dict()
    assert d["failed"] is True and d["flag"] is True and d["score"] is None
    assert "banana" in d["error"]


def test_missing_label_names_the_key_and_what_exists() -> None:
    ts = [Transcript("a", "p", "c", "x", label={"hack": True}),
          Transcript("b", "p", "c", "x", label={"leaked": False})]
    with pytest.raises(BadInputError, match=r"1 of 2 .* no label 'hack' .*'b'.*hack, leaked"):
        labels_of(ts, "hack")
