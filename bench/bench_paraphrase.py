"""Benchmark: batched paraphrasing against one CoT at a time, same model, same run.

The LLM paraphraser (``llm:builtin:smollm2-135m``, greedy) rewrites the gold CoTs of the
addition task, once in batches (the model's batch size) and once one CoT per call. Reports
CoTs/s, output tokens/s, the speed-up, and how many paraphrases were identical across the two
(batching pads prompts; in bf16 that can flip a near-tie token).

    python bench/bench_paraphrase.py [--n 16] [--batch 8] [--tokens 96] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path
from typing import Any

from faithline.models import load_model
from faithline.pipeline.paraphrase_llm import LLMParaphraser
from faithline.tasks import get_task


def run(para: LLMParaphraser, cots: list[str], batched: bool) -> tuple[float, list[Any]]:
    start = time.perf_counter()
    if batched:
        out = para.paraphrase(cots)
    else:
        out = [para.paraphrase([c])[0] for c in cots]
    return time.perf_counter() - start, out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=16)
    ap.add_argument("--batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=96)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    model: Any = load_model("builtin:smollm2-135m")
    model.batch_size = args.batch
    task: Any = get_task("addition:operands=4")
    cots = [task.gold_cot(s).rsplit("\nAnswer:", 1)[0] for s in task.samples(args.n, seed=0)]
    para = LLMParaphraser(model, max_new_tokens=args.tokens, retries=0)
    para.paraphrase(cots[:2])  # warm-up
    rows = {}
    outs = {}
    for mode in ("one_at_a_time", "batched"):
        secs, out = run(para, cots, batched=mode == "batched")
        texts = [str(o) if isinstance(o, str) else "" for o in out]  # failures produce nothing
        tokens = sum(len(model.tokenizer(t, add_special_tokens=False)["input_ids"])
                     for t in texts)
        rows[mode] = {"seconds": round(secs, 2), "cots_per_s": round(len(cots) / secs, 3),
                      "tokens_per_s": round(tokens / secs, 1),
                      "failed": sum(not isinstance(o, str) for o in out)}
        outs[mode] = texts
    same = sum(a == b for a, b in zip(outs["batched"], outs["one_at_a_time"], strict=True))
    result = {"n": len(cots), "batch": args.batch, "max_new_tokens": args.tokens,
              "model": model.info()["spec"], "dtype": model.info()["dtype"], **rows,
              "speedup": round(rows["one_at_a_time"]["seconds"] / rows["batched"]["seconds"], 2),
              "identical_outputs": same}
    print(json.dumps(result, indent=2))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / "paraphrase.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
