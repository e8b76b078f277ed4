"""Benchmark: activation capture to disk against a plain forward pass, same model, same batches.

The corpus is the coin-flip task's gold CoTs laid out as transcripts (prompt + CoT + answer).
Timed once each, after a warm-up batch:

- ``plain_forward``: the model's ordinary forward pass (``model(input_ids, attention_mask)``,
  logits included) over the length-sorted batches that capture uses;
- ``capture``: ``faithline interp capture`` end to end (tokenising and aligning, forward with
  hooks at the module paths, float16 conversion, safetensors shards and index on disk), with the
  forward pass run to the end as in ``plain_forward``;
- ``capture_stop_early``: the same, with the forward pass stopped after the last requested
  module (the default: here it skips the final norm and the LM head).

Overhead = capture time / plain time - 1 (target: at most 20%).

    OMP_NUM_THREADS=1 python bench/bench_capture.py [--n 64] [--paths auto] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path
from typing import Any

from faithline.interp.align import Layout, align_transcript
from faithline.interp.capture import (
    CaptureConfig,
    capture_transcripts,
    length_batches,
    resolve_paths,
)
from faithline.models import load_model
from faithline.tasks import get_task
from faithline.types import Transcript


def corpus(n: int, flips: int) -> list[Transcript]:
    task: Any = get_task(f"coinflip:flips={flips}")
    out = []
    for s in task.samples(n, seed=0):
        cot, _, answer = task.gold_cot(s).rpartition("\nAnswer:")
        out.append(Transcript(id=s.id, prompt=s.question, cot=cot.strip(),
                              answer=answer.strip() or s.answer))
    return out


def plain_forward(model: Any, batches: list[list[list[int]]]) -> float:
    import torch

    pad = model.tokenizer.pad_token_id or 0
    start = time.perf_counter()
    for batch in batches:
        width = max(len(r) for r in batch)
        ids = torch.full((len(batch), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, row in enumerate(batch):
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        with torch.inference_mode():
            model.model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                        use_cache=False)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def timed_capture(model: Any, ts: list[Transcript], cfg: CaptureConfig) -> float:
    import torch

    start = time.perf_counter()
    capture_transcripts(model, ts, cfg, progress=False)
    if model.device.type == "cuda":
        torch.cuda.synchronize()
    return time.perf_counter() - start


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--model", default="builtin:smollm2-135m")
    ap.add_argument("--n", type=int, default=64)
    ap.add_argument("--flips", type=int, default=8)
    ap.add_argument("--paths", default="auto")
    ap.add_argument("--batch-tokens", type=int, default=4096)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    model: Any = load_model(args.model)
    ts = corpus(args.n, args.flips)
    layout = Layout()
    aligned = [align_transcript(model, t, layout) for t in ts]
    tokens = sum(len(a) for a in aligned)
    groups = length_batches([len(a) for a in aligned], args.batch_tokens)
    batches = [[aligned[i].ids for i in g] for g in groups]
    paths = resolve_paths(model, args.paths)
    plain_forward(model, batches[:1])  # warm-up
    rows: dict[str, dict[str, float]] = {}
    secs = plain_forward(model, batches)
    rows["plain_forward"] = {"seconds": round(secs, 3), "tokens_per_s": round(tokens / secs, 1)}
    tmp = Path(tempfile.mkdtemp(prefix="bench-capture-"))
    try:
        for name, stop in (("capture", False), ("capture_stop_early", True)):
            cfg = CaptureConfig(model=args.model, out=str(tmp / name), paths=",".join(paths),
                                batch_tokens=args.batch_tokens, stop_early=stop)
            secs = timed_capture(model, ts, cfg)
            size = sum(f.stat().st_size for f in (tmp / name).rglob("*") if f.is_file())
            rows[name] = {"seconds": round(secs, 3), "tokens_per_s": round(tokens / secs, 1),
                          "overhead": round(secs / rows["plain_forward"]["seconds"] - 1, 3),
                          "store_mb": round(size / 2**20, 1)}
    finally:
        shutil.rmtree(tmp, ignore_errors=True)
    info = model.info()
    result = {"model": info["spec"], "dtype": info["dtype"], "device": info["device"],
              "transcripts": len(ts), "tokens": tokens, "batches": len(batches),
              "batch_tokens": args.batch_tokens, "paths": paths, "store_dtype": "float16",
              **rows, "target_overhead": 0.2,
              "note": "one run each; 2 shared CPU cores, other jobs may have been running"}
    print(json.dumps(result, indent=2))
    out_dir = Path(args.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    suffix = "" if info["device"] == "cpu" else "_" + info["device"].replace(":", "")
    (out_dir / f"capture{suffix}.json").write_text(json.dumps(result, indent=2) + "\n")


if __name__ == "__main__":
    main()
