"""Measure: does the LLM paraphrasers' fidelity score say whether the answer survived?

Real SmolLM2 paraphrases (``builtin:smollm2-135m``, the ``llm:`` and ``context:`` prompts, greedy,
no retries, no fidelity floor) of the gold CoTs of the coin-flip and addition tasks. For each
paraphrase: its ``content_fidelity``, whether the loop check calls it ``degenerate``, and whether
the answer survived (the task's own extractor and verifier read the right answer from the
paraphrase). Then, for each candidate threshold t, the share of paraphrases kept (fidelity >= t,
not degenerate) and the answer survival among those kept and those rejected.

The default ``--min-fidelity`` (``faithline.pipeline.paraphrase_llm.DEFAULT_MIN_FIDELITY``) is the
threshold with the largest Youden J = P(kept | answer survived) - P(kept | answer lost): the
point that best separates paraphrases that keep the answer from those that lose it (ties go to
the lower threshold, which rejects less). The script prints it and writes every row.

    flock /tmp/faithline-heavy.lock python bench/paraphrase_fidelity.py [--n 30] \\
        [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from faithline.errors import ParaphraseError
from faithline.models import load_model
from faithline.models.cache import CachedModel, CallCache
from faithline.pipeline.paraphrase_llm import (
    ContextAwareParaphraser,
    LLMParaphraser,
    content_fidelity,
    degenerate,
)
from faithline.tasks import get_task

THRESHOLDS = [round(0.05 * k, 2) for k in range(21)]


def rows_for(para: LLMParaphraser, task_spec: str, n: int) -> list[dict[str, Any]]:
    task = get_task(task_spec)
    samples = task.samples(n, seed=0)
    cots = [task.gold_cot(s) for s in samples]
    out = para.paraphrase(cots, [s.question for s in samples])
    rows = []
    for s, cot, p in zip(samples, cots, out, strict=True):
        if isinstance(p, ParaphraseError):  # only empty/truncated/refused: no floor is set
            rows.append({"task": task_spec, "id": s.id, "fidelity": 0.0, "failed": p.kind,
                         "degenerate": False, "survived": False, "text": ""})
            continue
        answer = task.extract(str(p), s)
        rows.append({"task": task_spec, "id": s.id, "fidelity": content_fidelity(cot, str(p)),
                     "failed": None, "degenerate": degenerate(cot, str(p)) is not None,
                     "survived": bool(task.verify(answer, s)), "text": str(p)})
    return rows


def sweep(rows: list[dict[str, Any]]) -> list[dict[str, float]]:
    out = []
    won = [r for r in rows if r["survived"]]
    lost = [r for r in rows if not r["survived"]]
    for t in THRESHOLDS:
        def kept(r: dict[str, Any], t: float = t) -> bool:
            return r["failed"] is None and not r["degenerate"] and r["fidelity"] >= t
        keep = [r for r in rows if kept(r)]
        drop = [r for r in rows if not kept(r)]
        tpr = sum(map(kept, won)) / max(len(won), 1)
        fpr = sum(map(kept, lost)) / max(len(lost), 1)
        out.append({"threshold": t, "kept": len(keep) / len(rows), "youden_j": tpr - fpr,
                    "survival_kept": sum(r["survived"] for r in keep) / max(len(keep), 1),
                    "survival_rejected": sum(r["survived"] for r in drop) / max(len(drop), 1)})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=30, help="gold CoTs per task")
    ap.add_argument("--model", default="builtin:smollm2-135m")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    model = CachedModel(load_model(args.model), CallCache())
    result: dict[str, Any] = {"model": args.model, "n_per_task": args.n, "paraphrasers": {}}
    all_rows: list[dict[str, Any]] = []
    for cls in (LLMParaphraser, ContextAwareParaphraser):
        para = cls(model, max_new_tokens=256, retries=0, min_fidelity=0.0)
        rows = [r for spec in ("coinflip", "addition") for r in rows_for(para, spec, args.n)]
        for r in rows:
            r["paraphraser"] = para.name
        all_rows += rows
        table = sweep(rows)
        result["paraphrasers"][para.name] = {
            "mean_fidelity": sum(r["fidelity"] for r in rows) / len(rows),
            "survival": sum(r["survived"] for r in rows) / len(rows),
            "degenerate": sum(r["degenerate"] for r in rows), "n": len(rows), "sweep": table}
    pooled = sweep(all_rows)
    best = max(pooled, key=lambda r: (round(r["youden_j"], 6), -r["threshold"]))
    result.update(pooled_sweep=pooled, chosen_threshold=best["threshold"], chosen=best,
                  rows=all_rows)
    for name, r in result["paraphrasers"].items():
        print(f"{name}: n={r['n']} mean fidelity {r['mean_fidelity']:.2f}, answer survives "
              f"{r['survival']:.0%}, degenerate {r['degenerate']}")
    print("threshold  kept  survival(kept)  survival(rejected)  J")
    for r in pooled:
        print(f"{r['threshold']:9.2f}  {r['kept']:4.0%}  {r['survival_kept']:14.0%}  "
              f"{r['survival_rejected']:18.0%}  {r['youden_j']:.2f}")
    print(f"chosen (max Youden J): {best['threshold']}")
    Path(args.out).mkdir(parents=True, exist_ok=True)
    (Path(args.out) / "paraphrase_fidelity.json").write_text(json.dumps(result, indent=1))


if __name__ == "__main__":
    main()
