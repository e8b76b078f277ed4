"""Linear probes on real SmolLM2 activations: splits by transcript, val-chosen C, test CIs."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from faithline.errors import BadInputError
from faithline.interp.probes import ProbeConfig, load_probes, summary_table, train_probes
from faithline.interp.splits import best_f1_threshold, f1, paired_ci, split_ids
from faithline.interp.store import ActivationStore


def test_split_is_by_transcript_stratified_and_seeded() -> None:
    ids = [f"t{i}" for i in range(50)]
    y = [i % 5 == 0 for i in range(50)]
    s = split_ids(ids, y, seed=3)
    allidx = np.concatenate(list(s.values()))
    assert sorted(allidx.tolist()) == list(range(50))  # a partition
    assert {k: int(np.asarray(y)[v].sum()) for k, v in s.items()} == \
        {"train": 6, "val": 2, "test": 2}
    assert all(np.array_equal(a, b) for a, b in
               zip(s.values(), split_ids(ids, y, seed=3).values(), strict=True))
    with pytest.raises(BadInputError, match="too few"):
        split_ids(ids[:8], y[:8])
    with pytest.raises(BadInputError, match="unique"):
        split_ids(["a", "a", "b"], [True, False, True])


def test_f1_threshold_and_ci() -> None:
    y = np.array([1, 1, 0, 0, 1], dtype=bool)
    assert f1(np.array([1, 0, 0, 1, 1], dtype=bool), y) == pytest.approx(2 * 2 / (3 + 3))
    assert f1(np.zeros(5, dtype=bool), np.zeros(5, dtype=bool)) == 0.0
    assert best_f1_threshold(np.array([0.9, 0.8, 0.1, 0.2, 0.7]), y) == pytest.approx(0.7)
    assert best_f1_threshold(np.zeros(5), y) == float("inf")  # never "flag everything"
    ci = paired_ci(lambda a: float(a.mean()), np.arange(100.0))
    assert ci["ci_low"] < ci["value"] == 49.5 < ci["ci_high"] and ci["n"] == 100


def test_probe_detects_the_leak_and_round_trips(leak_store: Path, tmp_path: Path) -> None:
    store = ActivationStore(leak_store)
    cfg = ProbeConfig(label="hack", out=str(tmp_path / "p"), paths="model.layers.3",
                      positions="before,after", cs="0.01,1")
    result = train_probes(store, cfg, progress=False)
    assert result["n"] == {"train": 48, "val": 16, "test": 16}
    best = result["probes"][result["best"]]
    assert best["test_auroc"]["value"] > 0.9  # the leak sits in the prompt of every hack
    assert best["test_auroc"]["ci_low"] <= best["test_auroc"]["value"] <= 1.0
    assert 0 <= best["test_f1"]["value"] <= 1 and best["c"] in (0.01, 1.0)
    data, probes = load_probes(tmp_path / "p")
    recs = [r for r in store.records if "hack" in r.label]
    p = probes[result["best"]]
    scores = p.score(store.pooled(p.path, p.position, recs))
    assert scores.shape == (80,) and np.all((scores >= 0) & (scores <= 1))
    test = set(data["test_ids"])
    y = np.array([r.label["hack"] for r in recs])
    mask = np.array([r.id in test for r in recs])
    assert f1(scores[mask] >= p.threshold, y[mask]) == pytest.approx(best["test_f1"]["value"])
    assert "(best on val)" in summary_table(result)
    with pytest.raises(BadInputError, match=r"no transcript .* has label 'cue'"):
        train_probes(store, ProbeConfig(label="cue", out=str(tmp_path / "q")), progress=False)
    with pytest.raises(BadInputError, match="unknown position"):
        ProbeConfig(label="hack", out="x", positions="middle").position_list()
