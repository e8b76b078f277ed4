"""Benchmark: early answering with prefix reuse against naive re-encoding, same run.

Early answering (Lanham et al. 2023) reads the answer after many truncations of each CoT. The
naive way re-encodes the whole prompt and CoT prefix for every truncation point (one
``HFModel.score`` call each, options batched); faithline's way encodes the prompt and full CoT
once and branches every truncation off that KV cache (``faithline.models.prefix``). Both read
answers from option logprobs, on the same loaded model and the same CoTs, and must give the same
answers; the wall-time ratio naive / prefix is the speed-up (target >= 5x).

    python bench/bench_early_answering.py [--cots 50] [--points 10] [--flips 16]
        [--model builtin:smollm2-135m] [--out bench/results]

CoTs: gold coin-flip CoTs (``--flips`` flips, one line per flip, then "The coin is on X. The
answer is X."), asked with the bare question as the prompt, as in the early-answering sanity
test: SmolLM2-135M reads that last line back, so its answers vary across truncations and CoTs
(under the task's full instructions it answers "Heads" to everything, and identical answers
would prove little). No generation is needed, so the run is the same on every machine. Answers
that differ between the two paths are counted and listed: in bf16 the two computations round
differently (different matmul shapes), so a near-tie could flip; ``--dtype fp32`` rules that out.
"""

from __future__ import annotations

import argparse
import json
import platform
import time
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from faithline.faithfulness.base import Item
from faithline.faithfulness.context import Context
from faithline.faithfulness.early_answering import EarlyAnswering
from faithline.models import load_model
from faithline.tasks.coinflip import CoinFlipTask
from faithline.types import Sample


class BareCoinFlip(CoinFlipTask):
    """Coin flip asked with the bare question (no layout instructions)."""

    def prompt_text(self, sample: Sample) -> str:
        return sample.question


def gold_cot(task: CoinFlipTask, sample: Sample) -> str:
    lines = task.gold_cot(sample).rsplit("\nAnswer:", 1)[0]
    return f"{lines}\nThe coin is on {sample.answer}. The answer is {sample.answer}."


def run_side(model: Any, task: CoinFlipTask, items: list[Item], points: int,
             prefix_reuse: bool) -> tuple[float, list[Any], dict[str, Any]]:
    """Early answering over ``items``; (seconds, transcripts, metrics)."""
    ctx = Context(model, task, points=points, prefix_reuse=prefix_reuse)
    assert (ctx.reader.hf is not None) == prefix_reuse, "prefix reuse is not available here"
    test = EarlyAnswering()
    start = time.perf_counter()
    transcripts = test.run(ctx, items)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    seconds = time.perf_counter() - start
    metrics, _ = test.summarize(transcripts)
    return seconds, transcripts, metrics


def margin(reading: dict[str, Any]) -> float:
    """How far apart the two options scored (log-probability)."""
    a, b = reading["scores"].values()
    return round(abs(a - b), 4)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="builtin:smollm2-135m")
    ap.add_argument("--dtype", default=None, help="bf16, fp16 or fp32 (default: the hardware's)")
    ap.add_argument("--cots", type=int, default=50)
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--flips", type=int, default=16)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()

    spec = f"{args.model}@{args.dtype}" if args.dtype else args.model
    model = load_model(spec)
    task = BareCoinFlip(flips=args.flips)
    ctx = Context(model, task)
    items = [Item(s, ctx.prompt(s), gold_cot(task, s), s.answer, True)
             for s in task.samples(args.cots, seed=args.seed)]
    run_side(model, task, items[:2], args.points, True)  # warm-up both paths
    run_side(model, task, items[:2], args.points, False)
    fast_s, fast_t, fast_m = run_side(model, task, items, args.points, True)
    slow_s, slow_t, slow_m = run_side(model, task, items, args.points, False)
    fast = [t.meta["answers"] for t in fast_t]
    slow = [t.meta["answers"] for t in slow_t]
    pairs = [(i, k) for i, (a, b) in enumerate(zip(fast, slow, strict=True))
             for k, (x, y) in enumerate(zip(a, b, strict=True)) if x != y]
    margins = [margin(t.meta["readings"][k]) for t in slow_t for k in range(len(t.meta["answers"]))]
    answers = sum(len(a) for a in fast)
    tokens = len(model.tokenizer(model.render(ctx.prompt(items[0].sample).with_prefill(
        items[0].cot)), add_special_tokens=False)["input_ids"])
    result = {
        "model": spec, "dtype": str(next(model.model.parameters()).dtype),
        "device": str(model.device), "machine": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(),
        "gpu": torch.cuda.get_device_name(0) if model.device.type == "cuda" else None,
        "cots": len(items), "points_per_cot": args.points, "answers": answers,
        "tokens_per_cot": tokens,
        "naive_s": round(slow_s, 3), "prefix_s": round(fast_s, 3),
        "speedup": round(slow_s / fast_s, 2),
        "identical_answers": answers - len(pairs), "different_answers": len(pairs),
        "answer_counts": dict(Counter(a for row in fast for a in row)),
        "different_at": pairs[:20],
        "margins_where_different": [margin(slow_t[i].meta["readings"][k]) for i, k in pairs[:20]],
        "median_margin": sorted(margins)[len(margins) // 2],
        "aoc_prefix": fast_m["aoc"], "aoc_naive": slow_m["aoc"],
    }
    print(json.dumps(result, indent=2))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    name = f"early_answering_{model.device.type}_{result['dtype'].removeprefix('torch.')}.json"
    (out / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
