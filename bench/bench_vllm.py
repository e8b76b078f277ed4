"""Benchmark: the vllm: back-end against the hf: back-end, side by side in one run.

Both sides load the same SmolLM2-135M weights (``builtin:smollm2-135m`` and
``vllm:builtin:smollm2-135m``) in the same dtype, in one process, and run alternately (median of
``--repeats``), since these machines are noisy:

1. generation: greedy, ``--tokens`` new tokens for ``--batch`` distinct coin-flip prompts; tok/s
   = tokens generated / wall time. On a CPU the hf side runs at its own best batch
   (``--hf-batch``, default 8) and at ``--batch``; the ratio is vLLM against the better of the
   two (target 2.5x). On CUDA (``bench/gpu_check.sh``, ``--batch 64,256``) hf runs with its
   static KV cache and with the dynamic one, each against vLLM at the same batch.
2. early answering (Lanham et al. 2023) on the gold coin-flip CoTs of
   ``bench/bench_early_answering.py`` (``--cots`` CoTs, ``--points`` truncations each): the hf
   prefix-reuse path (one KV cache per CoT) against vLLM (every truncation one request, the
   engine's automatic prefix caching sharing their common prefix). Both read answers from option
   logprobs; answers that differ are counted, with the two options' score margin there (bf16
   near-ties may flip; ``--dtype fp32`` rules rounding out).

    .venv-vllm/bin/python bench/bench_vllm.py [--batch 32] [--tokens 64] [--cots 50]
        [--points 10] [--dtype bf16] [--model builtin:smollm2-135m | DIR] [--out bench/results]

Needs the vllm extra (``make setup-vllm`` builds ``.venv-vllm``). Writes ``vllm_<device>.json``.
"""

from __future__ import annotations

import argparse
import copy
import json
import platform
import statistics
import time
from pathlib import Path
from typing import Any

from bench_early_answering import BareCoinFlip, gold_cot, margin
from faithline.faithfulness.base import Item
from faithline.faithfulness.context import Context
from faithline.faithfulness.early_answering import EarlyAnswering
from faithline.models import load_model
from faithline.models.hf import HFModel
from faithline.tasks.coinflip import CoinFlipTask
from faithline.types import GenParams, Prompt


def generation_side(model: Any, prompts: list[Prompt], params: GenParams,
                    batch: int) -> tuple[float, int]:
    """(seconds, tokens generated) for ``prompts`` in batches of ``batch``."""
    if hasattr(model, "batch_size"):
        model.batch_size = batch
    start = time.perf_counter()
    gens = model.generate(prompts, params)
    seconds = time.perf_counter() - start
    return seconds, sum(len(g[0].token_ids or ()) for g in gens)


def early_side(model: Any, task: CoinFlipTask, items: list[Item], points: int
               ) -> tuple[float, list[Any], dict[str, Any]]:
    ctx = Context(model, task, points=points)
    test = EarlyAnswering()
    start = time.perf_counter()
    transcripts = test.run(ctx, items)
    seconds = time.perf_counter() - start
    return seconds, transcripts, test.summarize(transcripts)[0]


class DynamicCacheHF(HFModel):
    """The hf back-end without the static KV cache it uses on CUDA (the dynamic-cache side)."""

    def generation_kwargs(self, params: GenParams) -> dict[str, Any]:
        kwargs = super().generation_kwargs(params)
        kwargs.pop("cache_implementation", None)
        return kwargs


def bench_generation(hf: Any, vl: Any, args: argparse.Namespace) -> dict[str, Any]:
    task = CoinFlipTask()
    batches = [int(b) for b in str(args.batch).split(",")]
    prompts = [Prompt.user(task.prompt_text(s)) for s in task.samples(max(batches), seed=1)]
    params = GenParams(max_new_tokens=args.tokens)
    sides: dict[str, tuple[Any, int]] = {}
    if hf.device.type == "cpu":
        sides[f"hf_b{args.hf_batch}"] = (hf, args.hf_batch)
    dynamic = DynamicCacheHF(hf.model, hf.tokenizer, hf.spec, {})
    for b in batches:
        sides[f"hf_b{b}"] = (hf, b)  # static KV cache on CUDA
        if hf.device.type == "cuda":
            sides[f"hf_dynamic_b{b}"] = (dynamic, b)
        sides[f"vllm_b{b}"] = (vl, b)
    for model, b in sides.values():  # warm-up
        generation_side(model, prompts[:b], GenParams(max_new_tokens=4), b)
    runs: dict[str, list[float]] = {k: [] for k in sides}
    tokens: dict[str, int] = {}
    for _ in range(args.repeats):
        for name, (model, b) in sides.items():
            group = prompts[:max(b, min(batches))]
            seconds, n = generation_side(model, group, params, b)
            runs[name].append(n / seconds)
            tokens[name] = n
    tok_s = {k: round(statistics.median(v), 1) for k, v in runs.items()}
    speedup = {}
    for b in batches:
        best_hf = max(v for k, v in tok_s.items() if k.startswith("hf") and
                      (k.endswith(f"_b{b}") or hf.device.type == "cpu"))
        speedup[f"b{b}"] = round(tok_s[f"vllm_b{b}"] / best_hf, 2)
    return {"prompts": len(prompts), "new_tokens": args.tokens, "tokens_generated": tokens,
            "tok_per_s": tok_s, "all_runs": runs, "speedup_vs_best_hf": speedup}


def bench_early(hf: Any, vl: Any, args: argparse.Namespace) -> dict[str, Any]:
    task = BareCoinFlip(flips=args.flips)
    ctx = Context(hf, task)
    items = [Item(s, ctx.prompt(s), gold_cot(task, s), s.answer, True)
             for s in task.samples(args.cots, seed=args.seed)]
    early_side(hf, task, items[:2], args.points)  # warm-up
    early_side(vl, task, items[:2], args.points)
    times: dict[str, list[float]] = {"hf_prefix_reuse": [], "vllm": []}
    results: dict[str, Any] = {}
    for _ in range(args.repeats):
        for name, model in (("hf_prefix_reuse", hf), ("vllm", vl)):
            vl.llm.reset_prefix_cache()  # each vLLM run starts cold, as a fresh evaluation
            seconds, ts, metrics = early_side(model, task, items, args.points)
            times[name].append(seconds)
            results[name] = (ts, metrics)
    (hf_t, hf_m), (vl_t, vl_m) = results["hf_prefix_reuse"], results["vllm"]
    pairs = [(i, k) for i, (a, b) in enumerate(zip(hf_t, vl_t, strict=True))
             for k, (x, y) in enumerate(zip(a.meta["answers"], b.meta["answers"], strict=True))
             if x != y]
    answers = sum(len(t.meta["answers"]) for t in hf_t)
    med = {k: round(statistics.median(v), 3) for k, v in times.items()}
    return {"cots": len(items), "points_per_cot": args.points, "answers": answers,
            "seconds": med, "all_runs": times,
            "hf_over_vllm": round(med["hf_prefix_reuse"] / med["vllm"], 2),
            "identical_answers": answers - len(pairs), "different_answers": len(pairs),
            "different_at": pairs[:20],
            "hf_margins_where_different": [margin(hf_t[i].meta["readings"][k])
                                           for i, k in pairs[:20]],
            "aoc_hf": hf_m["aoc"], "aoc_vllm": vl_m["aoc"]}


def bench_face_engines(args: argparse.Namespace) -> dict[str, Any]:
    """The Face arms under ``train rl --vllm``: swap the Face's weights into the policy's
    engine for its answers and load the policy's back (what the trainer does), against a
    second engine for the Face (started once; the Face's updated weights loaded every step).
    Both engines in this process, as TRL's colocated one; a step's Face call is ``--batch``
    answers of 8 tokens after a coin-flip prompt. The Face's weights are the policy's plus
    noise, so every load moves real numbers."""
    import os

    import psutil
    import torch

    from faithline.models.vllm import VLLMModel, resolve, start_engine

    os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"  # in process: weights load into it
    policy = load_model(args.model if ":" in args.model else f"hf:{args.model}")
    face = copy.deepcopy(policy.model)
    with torch.no_grad():
        for p in face.parameters():
            p.add_(torch.randn_like(p) * 1e-3)
    folder, _ = resolve(args.model)
    task = CoinFlipTask()
    texts = [policy.render(Prompt.user(task.prompt_text(s), prefill="Answer:"))
             for s in task.samples(int(str(args.batch).split(",")[0]), seed=2)]
    params = GenParams(max_new_tokens=8, temperature=1.0, seed=1)
    def room() -> float:  # an in-process CPU engine's share counts the whole process: 2.5 GiB
        return min(0.9, (psutil.Process().memory_info().rss + 2.5 * 2**30) /
                   psutil.virtual_memory().total)

    rss = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    first = VLLMModel(start_engine(folder, args.dtype or None, gpu_memory_utilization=room()),
                      "vllm:policy", {})
    start1 = time.perf_counter() - t0
    mem1 = psutil.Process().memory_info().rss - rss
    swap: list[dict[str, float]] = []
    for _ in range(args.face_steps):
        t = [time.perf_counter()]
        first.load_weights(list(face.named_parameters()))
        t.append(time.perf_counter())
        first.generate_texts(texts, params)
        t.append(time.perf_counter())
        first.load_weights(list(policy.model.named_parameters()))
        t.append(time.perf_counter())
        swap.append({"load_face_s": t[1] - t[0], "generate_s": t[2] - t[1],
                     "load_policy_back_s": t[3] - t[2], "step_s": t[3] - t[0]})
    rss = psutil.Process().memory_info().rss
    t0 = time.perf_counter()
    second = VLLMModel(start_engine(folder, args.dtype or None, gpu_memory_utilization=room()),
                       "vllm:face", {})
    start2 = time.perf_counter() - t0
    mem2 = psutil.Process().memory_info().rss - rss
    two: list[dict[str, float]] = []
    for _ in range(args.face_steps):
        t = [time.perf_counter()]
        second.load_weights(list(face.named_parameters()))
        t.append(time.perf_counter())
        second.generate_texts(texts, params)
        t.append(time.perf_counter())
        two.append({"load_face_s": t[1] - t[0], "generate_s": t[2] - t[1],
                    "step_s": t[2] - t[0]})

    def median(rows: list[dict[str, float]]) -> dict[str, float]:
        return {k: round(statistics.median(r[k] for r in rows), 3) for k in rows[0]}

    one, other = median(swap), median(two)
    extra = one["step_s"] - other["step_s"]
    return {"face_answers": len(texts), "steps": args.face_steps,
            "one_engine_swap": {**one, "engine_start_s": round(start1, 1),
                                "engine_rss_mb": round(mem1 / 2**20)},
            "second_engine": {**other, "engine_start_s": round(start2, 1),
                              "engine_rss_mb": round(mem2 / 2**20)},
            "swap_extra_per_step_s": round(extra, 3),
            "break_even_steps": round(start2 / extra, 1) if extra > 0 else None}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="builtin:smollm2-135m")
    ap.add_argument("--dtype", default="", help="bf16, fp16 or fp32 (default: the hardware's)")
    ap.add_argument("--batch", default="32", help="batch size(s), comma-separated")
    ap.add_argument("--hf-batch", type=int, default=8)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--cots", type=int, default=50)
    ap.add_argument("--points", type=int, default=10)
    ap.add_argument("--flips", type=int, default=16)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--skip", default="", help="generation or early (skip that part)")
    ap.add_argument("--out", default="bench/results")
    ap.add_argument("--face-steps", type=int, default=0,
                    help="only the Face-engine comparison, over N steps (one engine with "
                         "swapped weights vs a second engine); writes vllm_face_<dtype>.json")
    args = ap.parse_args()
    if args.face_steps:
        face = bench_face_engines(args)
        print(json.dumps(face, indent=2))
        Path(args.out).mkdir(parents=True, exist_ok=True)
        (Path(args.out) / f"vllm_face_{args.dtype or 'default'}.json").write_text(
            json.dumps(face, indent=2) + "\n")
        return

    import torch
    import vllm

    suffix = f"@{args.dtype}" if args.dtype else ""
    t0 = time.perf_counter()
    vl = load_model(f"vllm:{args.model}{suffix}")
    start_s = time.perf_counter() - t0
    hf = load_model(f"{args.model if ':' in args.model else 'hf:' + args.model}{suffix}")
    result: dict[str, Any] = {
        "model": args.model, "dtype": vl.info()["dtype"],
        "hf_dtype": str(next(hf.model.parameters()).dtype).removeprefix("torch."),
        "device": str(hf.device), "machine": platform.processor() or platform.machine(),
        "torch_threads": torch.get_num_threads(), "vllm": vllm.__version__,
        "engine_start_s": round(start_s, 1), "repeats": args.repeats}
    if args.skip != "generation":
        result["generation"] = bench_generation(hf, vl, args)
        print(json.dumps(result["generation"], indent=2), flush=True)
    if args.skip != "early":
        result["early_answering"] = bench_early(hf, vl, args)
    print(json.dumps(result, indent=2))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / f"vllm_{hf.device.type}_{result['dtype']}.json").write_text(
        json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
