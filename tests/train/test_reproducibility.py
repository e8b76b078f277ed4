"""The reproducibility table (train/reproducibility.py): rows against the first setting."""

from __future__ import annotations

from pathlib import Path

from faithline.train.reproducibility import ARM_KEYS, CARD_KEYS, render, weights_hash


def row(name: str, org: str, pol: str, acc: float) -> dict[str, object]:
    return {"name": name, "kernels": "AVX512", "threads": 1,
            "card": {k: 0.5 for k in CARD_KEYS}, "organism_hash": org,
            "arm": {k: acc for k in ARM_KEYS}, "policy_hash": pol}


def test_rows_say_which_weights_equal_the_first_settings() -> None:
    table = render({"arm": "outcome", "settings": [row("a", "o1", "p1", 0.5),
                                                    row("b", "o1", "p2", 0.25)]})
    first, second = table.splitlines()[2:]
    assert first.startswith("| a |") and "o1 =" not in first
    assert "| o1 = |" in second and "| p2 |" in second and "0.2500" in second
    assert render({"arm": "outcome", "settings": []}) == "(no settings measured)"


def test_weights_hash_reads_the_safetensors(tmp_path: Path) -> None:
    (tmp_path / "model.safetensors").write_bytes(b"abc")
    first = weights_hash(tmp_path)
    assert len(first) == 12 and first == weights_hash(tmp_path)
    (tmp_path / "model.safetensors").write_bytes(b"abd")
    assert weights_hash(tmp_path) != first
