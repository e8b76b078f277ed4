"""Capture to a store on the real SmolLM2: exact rows, early stop, resume, streaming reads."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pytest

from faithline.errors import BadInputError
from faithline.interp.align import COT, Layout, parts_of
from faithline.interp.capture import (
    CaptureConfig,
    capture_transcripts,
    length_batches,
    resolve_paths,
)
from faithline.interp.store import ActivationStore
from faithline.io import append_line


def test_rows_match_one_forward_pass_per_text(smollm2: Any, leak_store: Path,
                                               make_transcripts: Any) -> None:
    store = ActivationStore(leak_store)
    assert store.paths == ["model.layers.1", "model.layers.3"]
    assert store.info["dims"] == {p: 576 for p in store.paths}
    assert len(store.records) == 80 and len({r.shard for r in store.records}) > 1
    from faithline.io import file_mode  # shards get the run's one mode, not mkstemp's 0600

    assert {f.stat().st_mode & 0o777 for f in (leak_store / "shards").iterdir()} == {file_mode()}
    for rec in store.records[:3]:
        t = next(t for t in make_transcripts(80) if t.id == rec.id)
        text = "".join(p for _, p in parts_of(smollm2, t, Layout()))
        ref = smollm2.activations([text], store.paths)[0]
        for p in store.paths:
            mine, want = store.rows(rec, p), ref[p].float().numpy()
            assert mine.shape == want.shape == (rec.n, 576)
            # float16 storage and batch padding: equal up to bf16/fp16 rounding
            assert np.abs(mine - want).max() <= 0.02 * np.abs(want).max()
        assert "".join(rec.tokens) == text
        assert rec.transcript["label"] == t.label


def test_stop_early_gives_the_same_activations(smollm2: Any, tmp_path: Path,
                                               make_transcripts: Any) -> None:
    ts = make_transcripts(4)
    for stop in (True, False):
        cfg = CaptureConfig(model=smollm2.spec, out=str(tmp_path / str(stop)),
                            paths="layers:2", stop_early=stop)
        capture_transcripts(smollm2, ts, cfg, progress=False)
    a, b = ActivationStore(tmp_path / "True"), ActivationStore(tmp_path / "False")
    for ra, rb in zip(a.records, b.records, strict=True):
        assert np.array_equal(a.rows(ra, "model.layers.2"), b.rows(rb, "model.layers.2"))


def test_resume_skips_done_transcripts_and_survives_a_torn_index(
        smollm2: Any, tmp_path: Path, make_transcripts: Any) -> None:
    ts = make_transcripts(6)
    cfg = CaptureConfig(model=smollm2.spec, out=str(tmp_path / "s"), paths="layers:1",
                        shard_tokens=1)
    first = capture_transcripts(smollm2, ts[:3], cfg, progress=False)
    assert first["written"] == 3
    append_line(tmp_path / "s" / "index.jsonl", '{"id": "torn"')  # a line cut short ...
    with open(tmp_path / "s" / "index.jsonl", "rb+") as f:  # ... with no newline
        f.seek(-1, 2)
        f.truncate()
    second = capture_transcripts(smollm2, ts, cfg, progress=False)
    assert (second["written"], second["skipped"]) == (3, 3)
    store = ActivationStore(tmp_path / "s")
    assert sorted(r.id for r in store.records) == sorted(t.id for t in ts)
    other = CaptureConfig(model=smollm2.spec, out=str(tmp_path / "s"), paths="layers:2")
    with pytest.raises(BadInputError, match="different paths"):
        capture_transcripts(smollm2, ts, other, progress=False)


def test_token_batches_stream_cot_tokens(leak_store: Path) -> None:
    store = ActivationStore(leak_store)
    n_cot = sum(int((store.rows(r, "segment") == COT).sum()) for r in store.records)
    ordered = list(store.token_batches("model.layers.3", 64, segments=["cot"], seed=None,
                                       buffer_tokens=100))
    assert sum(len(b) for b in ordered) == n_cot
    assert all(b.shape[1] == 576 and b.dtype == np.float32 for b in ordered)
    shuffled = list(store.token_batches("model.layers.3", 64, segments=["cot"], seed=1))
    assert all(len(b) == 64 for b in shuffled) and len(shuffled) == n_cot // 64
    assert not np.array_equal(shuffled[0], ordered[0])
    pooled = store.pooled("model.layers.3", "during")
    assert pooled.shape == (80, 576)
    with pytest.raises(BadInputError, match="no module path"):
        store.pooled("model.layers.9", "during")
    with pytest.raises(BadInputError, match="unknown segment"):
        next(store.token_batches("model.layers.3", 8, segments=["thought"]))


def test_paths_and_batches(smollm2: Any) -> None:
    assert resolve_paths(smollm2, "auto") == [f"model.layers.{i}" for i in (0, 7, 14, 22, 29)]
    assert resolve_paths(smollm2, "layers:0,-1") == ["model.layers.0", "model.layers.29"]
    assert len(resolve_paths(smollm2, "all")) == 30
    assert resolve_paths(smollm2, "model.layers.2.mlp") == ["model.layers.2.mlp"]
    with pytest.raises(BadInputError, match=r"no module 'model\.layer\.2'"):
        resolve_paths(smollm2, "model.layer.2")
    with pytest.raises(BadInputError, match="no block 40"):
        resolve_paths(smollm2, "layers:40")
    assert length_batches([5, 1, 3, 100], 10) == [[1, 2], [0], [3]]
    with pytest.raises(BadInputError):
        CaptureConfig(model="m", out="o", dtype="int8")
    with pytest.raises(BadInputError, match="not an activation store"):
        ActivationStore("/nonexistent")
