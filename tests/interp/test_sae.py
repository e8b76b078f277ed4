"""A real SAELens SAE trained briefly on stored SmolLM2 activations, saved and reloaded."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from faithline.errors import BadInputError
from faithline.interp.store import ActivationStore

pytest.importorskip("sae_lens", reason="needs sae-lens: pip install sae-lens")


def test_train_save_load_and_metrics(leak_store: Path, leak_sae: tuple[Path, dict]) -> None:
    from faithline.interp.sae import encode, load_sae, module_path_of

    store = ActivationStore(leak_store)
    where, info = leak_sae
    assert (where / "cfg.json").is_file()
    assert (where / "sae_weights.safetensors").is_file()
    saved = json.loads((where / "faithline_sae.json").read_text())
    assert saved["held_out"] == info["held_out"] and info["d_sae"] == 1152
    held = info["held_out"]
    assert held["l0"] == pytest.approx(8.0)  # TopK: exactly k active features
    assert held["explained_variance"] > 0.5
    sae = load_sae(where)
    assert module_path_of(sae) == "model.layers.3"
    rec = store.records[0]
    acts = encode(sae, store.rows(rec, "model.layers.3"))
    assert acts.shape == (rec.n, 1152) and np.all((acts > 0).sum(1) <= 8)


def test_bad_inputs(leak_store: Path, tmp_path: Path) -> None:
    from faithline.interp.sae import SAETrainConfig, load_sae, train_sae

    with pytest.raises(BadInputError, match="architecture"):
        SAETrainConfig(out="x", architecture="gated")
    with pytest.raises(BadInputError, match="not an SAELens SAE"):
        load_sae(tmp_path)
    with pytest.raises(BadInputError, match="unknown segment"):
        SAETrainConfig(out="x", segments="thoughts").segment_list()
    store = ActivationStore(leak_store)
    with pytest.raises(BadInputError, match="training tokens"):
        train_sae(store, SAETrainConfig(out=str(tmp_path / "s"), path="model.layers.3",
                                        segments="answer", batch_size=4096), progress=False)
