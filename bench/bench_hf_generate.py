"""Benchmark: faithline's hf back-end against raw transformers ``generate``, same run.

Both sides use the same loaded SmolLM2-135M (``builtin:smollm2-135m``), the same prompts and
greedy decoding, so they produce the same tokens; the ratio is faithline's overhead (prompt
rendering, batching, decoding, stop handling). Runs alternate between the two sides and the
median of the repeats is reported, since these machines are noisy.

    python bench/bench_hf_generate.py [--tokens 64] [--repeats 5] [--batches 1,8]
        [--model builtin:smollm2-135m] [--out bench/results]

On CUDA both sides use the static KV cache (what faithline's hf back-end uses there).
"""

from __future__ import annotations

import argparse
import json
import statistics
import time
from pathlib import Path
from typing import Any

import torch

from faithline.models import load_model
from faithline.types import GenParams, Prompt

QUESTIONS = [
    "Explain why the sky is blue.",
    "Describe how a bicycle works.",
    "What is photosynthesis?",
    "Why do we have seasons on Earth?",
    "How does a refrigerator keep food cold?",
    "What causes ocean tides?",
    "Explain how vaccines work.",
    "Why do leaves change colour in autumn?",
]


def raw_generate(model: Any, texts: list[str], tokens: int) -> int:
    """Plain transformers: tokenize (left padding), generate, decode. Returns new tokens."""
    tok = model.tokenizer
    tok.padding_side = "left"
    enc = tok(texts, return_tensors="pt", padding=True, add_special_tokens=False)
    extra = {"cache_implementation": "static"} if model.device.type == "cuda" else {}
    enc = enc.to(model.device)
    with torch.inference_mode():
        out = model.model.generate(**enc, max_new_tokens=tokens, do_sample=False,
                                   pad_token_id=tok.pad_token_id, temperature=None, top_p=None,
                                   top_k=None, **extra)
    new = out[:, enc["input_ids"].shape[1]:]
    tok.batch_decode(new, skip_special_tokens=True)
    return int((new != tok.pad_token_id).sum())


def faithline_generate(model: Any, prompts: list[Prompt], tokens: int) -> list[Any]:
    return model.generate(prompts, GenParams(max_new_tokens=tokens))  # type: ignore[no-any-return]


def count_tokens(model: Any, gens: list[Any]) -> int:
    """Tokens faithline generated (counted after the clock stops)."""
    return sum(len(model.tokenizer(g[0].text, add_special_tokens=False)["input_ids"])
               for g in gens)


def timed(fn: Any, *args: Any) -> tuple[float, Any]:
    start = time.perf_counter()
    result = fn(*args)
    return time.perf_counter() - start, result


def bench(batch: int, tokens: int, repeats: int, model: Any) -> dict[str, Any]:
    prompts = [Prompt.user(QUESTIONS[i % len(QUESTIONS)] + f" (#{i})") for i in range(batch)]
    texts = [model.render(p) for p in prompts]
    raw_generate(model, texts, 8)  # warm-up
    faithline_generate(model, prompts, 8)
    raw_t, fl_t, raw_n, fl_n = [], [], 0, 0
    for _ in range(repeats):
        t, raw_n = timed(raw_generate, model, texts, tokens)
        raw_t.append(t)
        t, gens = timed(faithline_generate, model, prompts, tokens)
        fl_t.append(t)
        fl_n = count_tokens(model, gens)
    raw_s, fl_s = statistics.median(raw_t), statistics.median(fl_t)
    return {
        "batch": batch, "max_new_tokens": tokens, "repeats": repeats,
        "raw_s": round(raw_s, 3), "faithline_s": round(fl_s, 3),
        "raw_tok_s": round(raw_n / raw_s, 1), "faithline_tok_s": round(fl_n / fl_s, 1),
        "time_ratio": round(fl_s / raw_s, 3),
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tokens", type=int, default=64)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--batches", default="1,8", help="comma-separated batch sizes")
    ap.add_argument("--model", default="builtin:smollm2-135m", help="hf-family model spec")
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    model = load_model(args.model)
    info = model.info()
    batches = [int(b) for b in args.batches.split(",")]
    model.batch_size = max(batches)
    rows = [bench(b, args.tokens, args.repeats, model) for b in batches]
    print(f"model {info['spec']} dtype {info['dtype']} device {info['device']} "
          f"threads {torch.get_num_threads()}")
    print(f"{'batch':>5} {'raw tok/s':>10} {'faithline tok/s':>16} {'time ratio':>11}")
    for r in rows:
        print(f"{r['batch']:>5} {r['raw_tok_s']:>10} {r['faithline_tok_s']:>16} "
              f"{r['time_ratio']:>11}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"model": info, "torch": torch.__version__, "rows": rows}
    name = f"hf_generate_{info['device'].replace(':', '')}.json"
    (out / name).write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
