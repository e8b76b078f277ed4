"""The gap and the activation monitors on real SmolLM2 activations of labelled transcripts."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from faithline.errors import BadInputError
from faithline.interp.gap import GapConfig, group_of, measure_gap
from faithline.interp.monitor import load_activation_monitor
from faithline.interp.store import ActivationStore
from faithline.monitors import Monitor


def test_gap_per_arm_and_the_unverbalised_slice(smollm2: Any, leak_store: Path, tmp_path: Path,
                                                make_transcripts: Any,
                                                request: pytest.FixtureRequest) -> None:
    has_sae = importlib.util.find_spec("sae_lens") is not None  # feature monitors need it
    sae = str(request.getfixturevalue("leak_sae")[0]) if has_sae else ""
    cfg = GapConfig(out=str(tmp_path / "gap"), monitors="rule:leak", sae=sae,
                    paths="model.layers.3", positions="before,during", cs="0.1,1",
                    k_features="2,8")
    result = measure_gap([str(leak_store)], cfg, progress=False)
    rows = {r["group"]: r for r in result["results"]}
    assert set(rows) == {"all", "outcome", "pressure"}
    full = rows["all"]
    assert full["n"] == {"train": 40, "val": 20, "test": 20}
    names = {c["name"] for c in full["candidates"]}
    # stored and freshly run rules, and a TF-IDF classifier trained on the same split
    assert {"rule", "rule:leak", "tfidf-classifier(cot)"} <= names
    assert full["text"]["name"] in names
    assert any(n.startswith("features:hack@model.layers.3/") for n in names) == has_sae
    # the rule only sees the verbalised third of the hacks; the leak is in every hack's prompt
    assert full["activation"]["test_f1"]["value"] > full["text"]["test_f1"]["value"]
    assert full["gap"]["value"] > 0
    quiet = full["unverbalized"]
    assert quiet["activation"]["recall"]["value"] > 0.5
    assert quiet["activation"]["recall"]["value"] > quiet["text"]["recall"]["value"]
    table = (tmp_path / "gap" / "gap.md").read_text()
    assert "| outcome |" in table and "tfidf" in table
    saved = json.loads((tmp_path / "gap" / "gap.json").read_text())
    assert saved["schema"] == "faithline.gap/1"

    monitors = []
    if (tmp_path / "gap" / "probes.json").is_file():
        monitors.append(load_activation_monitor(f"probe:{tmp_path / 'gap'}", model=smollm2))
    if (tmp_path / "gap" / "feature_monitors.json").is_file():
        monitors.append(load_activation_monitor(
            f"features:{tmp_path / 'gap' / 'feature_monitors.json'}", model=smollm2))
    assert monitors
    ts = make_transcripts(8)
    for mon in monitors:
        assert isinstance(mon, Monitor)
        verdicts = mon(ts)
        assert len(verdicts) == 8 and not any(v.failed for v in verdicts)
        scores = np.array([v.score for v in verdicts])
        assert np.all((scores >= 0) & (scores <= 1))
        assert all(v.flag == (v.score >= mon.threshold) for v in verdicts)
        hack = np.array([t.label["hack"] for t in ts])
        assert scores[hack].mean() > scores[~hack].mean()


def test_gap_errors_and_groups(leak_store: Path, tmp_path: Path) -> None:
    assert group_of({"meta": {"arm": "face"}}, "meta.arm") == "face"
    assert group_of({"arm": 3}, "arm") == "3" and group_of({}, "meta.arm") is None
    with pytest.raises(BadInputError, match="unknown position"):
        GapConfig(out="x", positions="middle").lists()
    cfg = GapConfig(out=str(tmp_path), label="nope")
    with pytest.raises(BadInputError, match="label 'nope'"):
        measure_gap([str(leak_store)], cfg, progress=False)
    with pytest.raises(BadInputError, match="unknown activation monitor"):
        load_activation_monitor("neurons:x")
    assert ActivationStore(leak_store).records
