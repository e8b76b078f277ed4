"""Benchmark: GRPO step time of each arm against outcome-only RL, side by side in one run.

The compute part of the safety tax: arm 4 (Shoggoth + Paraphraser + Face) generates the CoT
with the policy, paraphrases it, generates the answer with a second model and updates that model
too. Each arm trains for ``--steps`` GRPO steps from the same warm-up organism; the arms run
interleaved in ``--rounds`` rounds (A B C D A B C D ...) so machine noise hits them alike. Step
time is the median over all steps after each round's first.

    python bench/bench_rl_step.py [--steps 20] [--rounds 2] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import tempfile
import time
from pathlib import Path

from faithline.train.arms import DEMO_ARMS as ARMS
from faithline.train.organism import train_organism
from faithline.train.rl import RLConfig, train_rl


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--steps", type=int, default=20)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    import torch

    organism = train_organism()
    times: dict[str, list[float]] = {arm: [] for arm in ARMS}
    with tempfile.TemporaryDirectory() as tmp:
        for rnd in range(args.rounds):
            for arm in ARMS:
                cfg = RLConfig(arm=arm, out=f"{tmp}/{arm}-{rnd}", model=f"hf:{organism}",
                               steps=args.steps, seed=rnd, eval_n=2, save_every=10_000)
                run = train_rl(cfg, progress=False)
                rows = [json.loads(x) for x in (run.path / "steps.jsonl").read_text().splitlines()]
                times[arm] += [r["step_seconds"] for r in rows[1:]]
                print(f"round {rnd} {arm:10s} median {statistics.median(times[arm]):.3f} s/step",
                      flush=True)
    med = {arm: statistics.median(ts) for arm, ts in times.items()}
    result = {
        "benchmark": "rl_step", "when": time.strftime("%Y-%m-%dT%H:%M:%S"),
        "machine": f"{platform.processor() or platform.machine()}, "
                   f"{torch.get_num_threads()} torch threads",
        "cuda": torch.cuda.is_available(), "steps_per_arm_and_round": args.steps,
        "rounds": args.rounds, "median_step_seconds": med,
        "ratio_to_outcome": {arm: med[arm] / med["outcome"] for arm in ARMS},
        "target": "paraphrase / outcome <= 1.3",
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "rl_step.json").write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result["ratio_to_outcome"], indent=2))


if __name__ == "__main__":
    main()
