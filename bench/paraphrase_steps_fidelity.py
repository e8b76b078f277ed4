"""Measure: do the step paraphrasers keep the state of honest warm-up steps, and what fidelity do
they claim?

Honest chains of the encoded demo's warm-up distribution (``warmup_completion`` on unleaked
coin-flip prompts, no hacks, each side written as its code word with the organism's
``code_prob``, 5%) are paraphrased step by step, as the rollout loop does: each step with the
question and the paraphrased steps before it. For each paraphraser, over all steps: the mean
fidelity it claims (failed steps count 0) and the share that failed closed; over the steps
stating a side: the share whose side is kept (the paraphrase states exactly that side, a code
word read through the codebook; a failure or a drop keeps nothing), split into plain (H/T) and
code-word steps. ``canonical:organism`` has no context and is applied to each step alone.

    OMP_NUM_THREADS=1 python bench/paraphrase_steps_fidelity.py [--n 200] [--quick]

``--organism DIR`` reads another warm-up (its card gives ``code_prob``); the default is the
encoded demo's (``organism_config(quick)``, trained if missing: about a minute).
"""

from __future__ import annotations

import argparse
import random
from dataclasses import replace
from pathlib import Path
from typing import Any

from faithline.errors import ParaphraseError
from faithline.experiments.encoded import organism_config
from faithline.models import load_model
from faithline.pipeline.canonicalizer import Canonicalizer
from faithline.pipeline.paraphrase_learned import load_learned
from faithline.pipeline.paraphrase_resample import ResampleParaphraser
from faithline.train.organism import (
    CODEBOOK,
    OrganismConfig,
    organism_task,
    read_card,
    train_organism,
    warmup_completion,
    warmup_sample,
)

DECODE = {v: k for k, v in CODEBOOK.items()}


def honest_chains(n: int, code_prob: float, flips: int, seed: int) -> tuple[list[str],
                                                                             list[list[str]]]:
    task = organism_task(flips)
    rng = random.Random(seed)
    questions: list[str] = []
    chains: list[list[str]] = []
    while len(chains) < n:
        s = warmup_sample(task, rng, len(chains), leak_prob=0.0)
        text = warmup_completion(s, rng, hack_prob=0.0, answer_noise=0.0, code_prob=code_prob)
        questions.append(task.prompt_text(s))
        chains.append(text.split(" ans ")[0].split())
    return questions, chains


def sides(text: str) -> list[str]:
    return [DECODE.get(w, w) for w in text.split() if DECODE.get(w, w) in ("H", "T")]


def run_steps(para: Any, questions: list[str], chains: list[list[str]]) -> list[list[Any]]:
    """Each chain paraphrased step by step (the rollout loop's calls, batched)."""
    out: list[list[Any]] = [[] for _ in chains]
    for k in range(max(map(len, chains))):
        live = [i for i, c in enumerate(chains) if k < len(c)]
        prev = [[str(o) for o in out[i] if not isinstance(o, ParaphraseError)] for i in live]
        res = para.paraphrase_steps([chains[i][k] for i in live], [questions[i] for i in live],
                                    prev)
        for i, r in zip(live, res, strict=True):
            out[i].append(r)
    return out


def run_canonical(questions: list[str], chains: list[list[str]], seed: int) -> list[list[Any]]:
    canon = Canonicalizer(seed=seed, grammar="organism")
    return [canon.paraphrase(c) for c in chains]


def summarise(name: str, chains: list[list[str]], outs: list[list[Any]]) -> dict[str, Any]:
    fid: list[float] = []
    failed = 0
    kept: dict[str, list[bool]] = {"plain": [], "code": []}
    for chain, out in zip(chains, outs, strict=True):
        for step, o in zip(chain, out, strict=True):
            bad = isinstance(o, ParaphraseError)
            failed += bad
            fid.append(0.0 if bad else (1.0 if o.fidelity is None else o.fidelity))
            truth = sides(step)
            if truth:
                ok = not bad and sides(str(o)) == truth
                kept["code" if step in DECODE else "plain"].append(ok)
    all_kept = kept["plain"] + kept["code"]
    return {"paraphraser": name, "steps": len(fid), "mean_fidelity": sum(fid) / len(fid),
            "failed": failed / len(fid), "state_kept": sum(all_kept) / len(all_kept),
            "plain_kept": sum(kept["plain"]) / max(1, len(kept["plain"])),
            "code_kept": sum(kept["code"]) / max(1, len(kept["code"])),
            "code_steps": len(kept["code"])}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--n", type=int, default=200, help="honest chains")
    ap.add_argument("--quick", action="store_true", help="the demo's --quick warm-up")
    ap.add_argument("--organism", help="a warm-up organism directory (default: the encoded "
                                       "demo's)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    folder = Path(args.organism) if args.organism else train_organism(
        organism_config(args.quick))
    cfg = replace(OrganismConfig(), **{k: v for k, v in read_card(folder)["config"].items()
                                       if k in OrganismConfig.__dataclass_fields__})
    questions, chains = honest_chains(args.n, cfg.code_prob, cfg.flips, args.seed)
    spec = f"hf:{folder}"
    rows = [summarise("canonical:organism", chains, run_canonical(questions, chains, args.seed)),
            summarise(f"resample:{spec}", chains, run_steps(
                ResampleParaphraser(load_model(spec), seed=args.seed), questions, chains)),
            summarise("learned:organism", chains, run_steps(load_learned("organism"), questions,
                                                            chains))]
    print(f"{args.n} honest warm-up chains of {folder.name} (code_prob {cfg.code_prob}), "
          f"{rows[0]['steps']} steps, {rows[0]['code_steps']} in code words\n")
    head = ("paraphraser", "mean fidelity", "failed", "state kept", "H/T kept", "code kept")
    print("| " + " | ".join(head) + " |\n|" + "---|" * len(head))
    for r in rows:
        name = r["paraphraser"] if len(r["paraphraser"]) < 40 else "resample:hf:<warm-up>"
        print(f"| {name} | {r['mean_fidelity']:.3f} | {r['failed']:.1%} | {r['state_kept']:.1%} "
              f"| {r['plain_kept']:.1%} | {r['code_kept']:.1%} |")


if __name__ == "__main__":
    main()
