"""Automatic description of units: exemplars, a real explainer and scorer, the baseline."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faithline.errors import BadInputError
from faithline.interp.describe import (
    DescribeConfig,
    Exemplar,
    Units,
    choose_units,
    clean_description,
    derangement,
    describe_units,
    render_marked,
)
from faithline.interp.store import ActivationStore


def test_helpers() -> None:
    ex = Exemplar("r", ["The", " coin", " shows", "\n"], [0.0, 5.0, 9.0, 2.0])
    assert render_marked(ex, 9.0) == "The [[coin:5]] [[shows:9]][[\\n:2]]"
    perm = derangement(5, seed=1)
    assert sorted(perm) == list(range(5)) and all(p != i for i, p in enumerate(perm))
    with pytest.raises(BadInputError):
        derangement(1, 0)
    assert clean_description(": the letter H.\nmore") == "the letter H"
    with pytest.raises(BadInputError):
        DescribeConfig(source="x", n_top=1)


def test_choose_units(leak_store: Path) -> None:
    units = Units(ActivationStore(leak_store), "model.layers.3")
    picked, stats = choose_units(units, "top:3", [1], max_density=1.0)
    assert len(picked) == 3 and stats["tokens"] > 0
    assert all(0 < stats["density"][u] <= 1 for u in picked)
    assert choose_units(units, "4,7", None, 1.0)[0] == [4, 7]
    with pytest.raises(BadInputError, match=r"not in 0\.\.575"):
        choose_units(units, "600", None, 1.0)


def test_describe_neurons_with_a_real_explainer(smollm2: object, leak_store: Path,
                                                tmp_path: Path) -> None:
    cfg = DescribeConfig(source=str(leak_store), path="model.layers.3", units="top:2",
                         segments="all", n_top=4, n_random=4, left=4, right=1,
                         max_density=0.9, out=str(tmp_path / "d.json"))
    result = describe_units(cfg, progress=False)
    saved = json.loads((tmp_path / "d.json").read_text())
    assert saved["kind"] == "neuron" and len(saved["units"]) == 2
    for row in saved["units"]:
        assert isinstance(row["description"], str)
        assert row["shuffled"]["from_unit"] != row["unit"]
        assert row["held_out"]["top"] == 2
        for key in ("detection_auroc", "simulation_r"):
            v = row[key]
            assert v is None or np.isnan(v) or -1 <= v <= 1
        assert any("[[" in e for e in row["explain_exemplars"])
    assert set(result["summary"]) == {"detection_auroc", "simulation_r"}
    page = (tmp_path / "d.html").read_text()
    assert page.count("<div class='unit'>") == 2 and "<svg" in page and "CoT" in page
    with pytest.raises(BadInputError, match="needs --path"):
        describe_units(DescribeConfig(source=str(leak_store)), progress=False)
