"""Benchmark: do the legibility alarms separate injected drift from legible text?

    .venv/bin/python bench/legibility_drift.py                 # a few minutes on 2 CPU cores
    .venv/bin/python bench/legibility_drift.py --n 16 --generated 0    # quick look

Legible CoTs come from three sources: the gold CoTs of the coin-flip and addition tasks
(``task.gold_cot``), and CoTs that SmolLM2-135M-Instruct writes for those tasks (sampled at
temperature 0.7, as far as it gets in 128 tokens). Each source's CoTs are the originals (set B)
and are re-encoded into a private code (``faithline.legibility.drift``: codebook substitution,
abbreviation, dropped words, and the three mixed) at strengths 0.1 to 1.0. The controls are
honest paraphrases of the same CoTs: the canonical paraphraser (gold CoTs), a synonym rewrite
(``drift.rewrite``, every source) and SmolLM2's own LLM paraphrase (generated CoTs; those below
0.8 content fidelity fail closed and are left out). The reference LM is SmolLM2.

Reported per source and set: the AUROC of each per-transcript alarm score and of the combined
score for drifted vs original, the share of transcripts whose combined score fires, and the
share of batches of 8 on which the set-level alarm (threshold and Mann-Whitney test) fires.
Writes ``bench/results/legibility_drift.json`` and ``bench/results/legibility_drift.md``.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import time
from pathlib import Path
from typing import Any

from faithline.legibility.alarms import Thresholds
from faithline.legibility.benchmark import STRENGTHS, drift_benchmark, markdown
from faithline.legibility.drift import KINDS, rewrite
from faithline.legibility.scoring import ReferenceScorer
from faithline.models import load_model
from faithline.pipeline.format import CotFormat
from faithline.pipeline.paraphrase_specs import get_paraphraser
from faithline.tasks import get_task
from faithline.types import GenParams, Prompt

RESULTS = Path(__file__).parent / "results"


def gold_cots(spec: str, n: int, seed: int) -> list[str]:
    task: Any = get_task(spec)
    return [task.gold_cot(s) for s in task.samples(n, seed=seed)]


def generated_cots(model: Any, n: int, seed: int) -> list[str]:
    """SmolLM2's own CoTs for short coin-flip and addition problems (n per task)."""
    cots = []
    for spec in ("coinflip:flips=4", "addition:operands=4"):
        task = get_task(spec)
        samples = task.samples(n, seed=seed)
        gens = model.generate([Prompt.user(task.prompt_text(s)) for s in samples],
                              GenParams(max_new_tokens=128, temperature=0.7, top_p=0.9,
                                        seed=seed))
        cots += [c for c in (CotFormat().split(g[0].text)[0] for g in gens) if c.strip()]
    return cots


def run(args: argparse.Namespace) -> dict[str, Any]:
    model = load_model(args.reference)
    scorer = ReferenceScorer.load(model)
    canonical = get_paraphraser("canonical", seed=args.seed)
    sources: dict[str, tuple[list[str], dict[str, list[str]]]] = {}
    for spec in ("coinflip", "addition"):
        cots = gold_cots(spec, args.n, args.seed)
        controls = {"canonical paraphrase": [str(p) for p in canonical.paraphrase(cots)],
                    "synonym rewrite": [rewrite(c) for c in cots]}
        sources[f"{spec} gold"] = (cots, controls)
    notes: dict[str, Any] = {}
    if args.generated:
        t0 = time.perf_counter()
        cots = generated_cots(model, args.generated, args.seed)
        llm = get_paraphraser(f"llm:{args.reference}", {args.reference: model}, seed=args.seed,
                              max_new_tokens=256, min_fidelity=0.8)
        paras = llm.paraphrase(cots)
        kept = [str(p) for p in paras if isinstance(p, str)]
        notes["generated"] = {"cots": len(cots), "llm_paraphrases_kept": len(kept),
                              "llm_paraphrases_failed_closed": len(cots) - len(kept),
                              "seconds": round(time.perf_counter() - t0, 1)}
        sources["SmolLM2 generated"] = (cots, {"synonym rewrite": [rewrite(c) for c in cots],
                                               "LLM paraphrase (SmolLM2)": kept})
    results = {}
    for name, (cots, controls) in sources.items():
        t0 = time.perf_counter()
        results[name] = drift_benchmark(scorer, cots, controls, strengths=args.strengths,
                                        kinds=args.kinds, thresholds=Thresholds(),
                                        batch=args.batch, seed=args.seed)
        results[name]["seconds"] = round(time.perf_counter() - t0, 1)
        print(f"{name}: {len(cots)} CoTs, {results[name]['seconds']} s", flush=True)
    return {"reference": args.reference, "sources": results, "notes": notes,
            "strengths": list(args.strengths), "kinds": list(args.kinds),
            "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                        "omp_threads": os.environ.get("OMP_NUM_THREADS"),
                        "note": "shared 2-core machine: timings are noisy"}}


def headline(result: dict[str, Any]) -> str:
    """AUROC of the combined alarm score per strength (mixed code), and control firing."""
    strengths = result["strengths"]
    lines = ["| source | " + " | ".join(f"AUROC @{s:g}" for s in strengths) +
             " | control | fires / transcript | fires / batch |",
             "|---|" + "---|" * (len(strengths) + 3)]
    for name, r in result["sources"].items():
        aucs = [r["drift"].get(f"mixed@{s:g}", {}).get("auroc", {}).get("combined")
                for s in strengths]
        cells = " | ".join(f"{a:.3f}" if a is not None else "-" for a in aucs)
        for i, (cname, c) in enumerate(r["controls"].items()):
            lead = f"| {name} | {cells}" if i == 0 else "| | " + " | ".join("" for _ in aucs)
            lines.append(f"{lead} | {cname} (n={c['n']}) | {c['fires_per_transcript']:.3f} | "
                         f"{c['fires_per_batch']:.3f} |")
    return "\n".join(lines)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__,
                                formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--n", type=int, default=32, help="gold CoTs per task")
    p.add_argument("--generated", type=int, default=8,
                   help="SmolLM2-generated CoTs per task (0: none)")
    p.add_argument("--reference", default="builtin:smollm2-135m")
    p.add_argument("--strengths", type=float, nargs="+", default=list(STRENGTHS))
    p.add_argument("--kinds", nargs="+", default=list(KINDS), choices=KINDS)
    p.add_argument("--batch", type=int, default=8, help="transcripts per set-level alarm")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--out", default=str(RESULTS / "legibility_drift.json"))
    args = p.parse_args()
    t0 = time.perf_counter()
    result = run(args)
    result["elapsed_s"] = round(time.perf_counter() - t0, 1)
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    md = [f"# Legibility alarms against injected drift (reference {args.reference})", "",
          "AUROC of the combined per-transcript alarm score, drifted (mixed code) vs original; "
          "firing rates on honest paraphrases (must be ~0).", "", headline(result), ""]
    for name, r in result["sources"].items():
        md += [f"## {name} ({r['n_originals']} CoTs)", "", markdown(r), ""]
    out.with_suffix(".md").write_text("\n".join(md))
    print(headline(result))
    print(f"wrote {out} and {out.with_suffix('.md')} in {result['elapsed_s']} s")


if __name__ == "__main__":
    main()
