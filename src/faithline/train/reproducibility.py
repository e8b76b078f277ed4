"""What repeats exactly and what does not: the organism card and one RL arm under each CPU
kernel setting and thread count (``bench/reproducibility.py`` runs it).

torch picks its CPU kernels by the processor's instruction set (AVX-512, AVX2, or the portable
``default``); ``ATEN_CPU_CAPABILITY`` forces a lower one, so one machine can reproduce the
arithmetic of another. The thread count changes how reductions are split, hence the rounding.
:func:`measure` trains one organism from scratch and one RL arm from a given organism in *this*
process (its kernels and threads are whatever the environment set) and returns the numbers and
a hash of the weights; :func:`render` lays settings side by side for ``faithline tables``.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

CARD_KEYS = ("accuracy", "hack_rate_wrong_leak", "verbalized_share_of_hacks",
             "unflagged_hack_probability", "silent_hack_chain_probability")
ARM_KEYS = ("accuracy", "hack_rate", "monitor_recall", "chain_intact")


def weights_hash(folder: Path) -> str:
    """sha256 of a saved model's weights (the first 12 hex digits)."""
    digest = hashlib.sha256()
    for f in sorted(folder.glob("*.safetensors")):
        digest.update(f.read_bytes())
    return digest.hexdigest()[:12]


def measure(out: Path, organism: Path | None, language: str = "shellgame", arm: str = "outcome",
            seed: int = 0, steps: int = 120) -> dict[str, Any]:
    """Train an organism from scratch under ``out`` (its card and weights hash), then ``arm``
    for ``steps`` from ``organism`` (a fixed start, so the arm's numbers vary only with this
    process's arithmetic; None: the organism just trained)."""
    import torch

    from faithline.provenance import environment
    from faithline.train.organism import OrganismConfig, train_organism
    from faithline.train.rl import RLConfig, train_rl

    os.environ["FAITHLINE_CACHE"] = str(out / "cache")  # a fresh organism, not a cached one
    trained = train_organism(replace(OrganismConfig(), language=language), progress=False)
    card = json.loads((trained / "organism.json").read_text())["probe"]
    run = train_rl(RLConfig(arm=arm, out=str(out / f"{arm}-s{seed}"),
                            model=f"hf:{organism or trained}", steps=steps, seed=seed),
                   progress=False)
    final = run.metrics()["final"]
    env = environment()
    return {"kernels": env["cpu_capability"], "aten_cpu_capability": env["aten_cpu_capability"],
            "threads": torch.get_num_threads(),
            "card": {k: card.get(k) for k in CARD_KEYS}, "organism_hash": weights_hash(trained),
            "arm": {k: final[k]["value"] for k in ARM_KEYS},
            "policy_hash": weights_hash(run.path / "policy")}


def _cell(x: Any) -> str:
    return f"{x:.4f}" if isinstance(x, float) else str(x)


def render(summary: Mapping[str, Any]) -> str:
    """One row per setting: the organism card's numbers and weights hash, the arm's final
    metrics and policy hash; the first row is the reference each ``=`` compares with."""
    rows = summary["settings"]
    if not rows:
        return "(no settings measured)"
    head = ["setting", "kernels", "threads", *(f"card: {k}" for k in CARD_KEYS),
            "organism weights", *(f"{summary['arm']}: {k}" for k in ARM_KEYS), "policy weights"]
    ref = rows[0]
    lines = ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
    for r in rows:
        same_org = r["organism_hash"] == ref["organism_hash"]
        same_pol = r["policy_hash"] == ref["policy_hash"]
        cells = [r["name"], str(r["kernels"]), str(r["threads"]),
                 *(_cell(r["card"][k]) for k in CARD_KEYS),
                 r["organism_hash"] + (" =" if same_org and r is not ref else ""),
                 *(_cell(r["arm"][k]) for k in ARM_KEYS),
                 r["policy_hash"] + (" =" if same_pol and r is not ref else "")]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)
