"""Benchmark: transcripts per second for the rule monitor, the trained classifier and the LLM
judge on SmolLM2 (batched, and one transcript per forward pass for comparison), one run.

The transcripts are the labelled natural-language coin-flip set of
``faithline.monitors.synthetic`` (CoTs of about 400-600 characters). The rule monitor and the
classifier take the median of ``--repeats`` passes over ``--n`` transcripts; the judge makes one
pass over ``--judge-n`` transcripts per setting after a warm-up batch, with no call cache. The
AUROC of each monitor on the same transcripts is recorded for context (a quality benchmark is
``faithline monitor --labels``).

    OMP_NUM_THREADS=1 python bench/bench_monitors.py [--n 2000] [--judge-n 32] [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faithline.models import load_model
from faithline.monitors import get_monitor
from faithline.monitors.base import Monitor, Verdict
from faithline.monitors.classifier import train_classifier
from faithline.monitors.llm_judge import JudgeMonitor
from faithline.monitors.metrics import arrays, auroc, labels_of
from faithline.monitors.synthetic import labelled_transcripts
from faithline.types import Transcript


def timed(fn: Callable[[], list[Verdict]]) -> tuple[float, list[Verdict]]:
    start = time.perf_counter()
    out = fn()
    return time.perf_counter() - start, out


def row(monitor: Monitor, ts: Sequence[Transcript], repeats: int, **extra: Any) -> dict[str, Any]:
    runs = [timed(lambda: monitor(ts)) for _ in range(repeats)]
    secs = statistics.median(s for s, _ in runs)
    scores, _, failed = arrays(runs[0][1])
    return {"monitor": monitor.name, "n": len(ts), "repeats": repeats,
            "seconds": round(secs, 4), "transcripts_per_s": round(len(ts) / secs, 2),
            "failed": int(failed.sum()),
            "auroc_hack": round(auroc(scores, labels_of(ts, "hack")), 3), **extra}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=2000, help="transcripts for rule and classifier")
    ap.add_argument("--judge-n", type=int, default=32, help="transcripts for the judge")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--out", default="bench/results")
    args = ap.parse_args()
    import torch

    load_before = os.getloadavg()[0]
    ts = labelled_transcripts(args.n, seed=1)
    rows = [row(get_monitor("rule:hack"), ts, args.repeats)]
    with tempfile.TemporaryDirectory() as d:
        train = labelled_transcripts(500, seed=2)
        start = time.perf_counter()
        train_classifier(train, "hack", Path(d) / "clf")
        train_s = time.perf_counter() - start
        rows.append(row(get_monitor(f"classifier:{Path(d) / 'clf'}"), ts, args.repeats,
                        train_transcripts=len(train), train_seconds=round(train_s, 2)))
    rows[-1]["monitor"] = "classifier:tfidf (trained on 500, 5-fold CV included in training)"
    model: Any = load_model("builtin:smollm2-135m")
    judge_ts = ts[: args.judge_n]
    chars = [len(JudgeMonitor(model).prompt(t).messages[-1].content) for t in judge_ts]
    for view, batch in (("cot", 8), ("cot", 1), ("answer", 8)):
        judge = JudgeMonitor(model, view=view, batch_size=batch)
        judge(judge_ts[:batch])  # warm-up
        rows.append(row(judge, judge_ts, 1, batch_size=batch))
    by = {(r["monitor"], r.get("batch_size")): r for r in rows}
    cot = [r for (name, b), r in by.items() if "view=cot" in name]
    speedup = round(cot[0]["transcripts_per_s"] / cot[1]["transcripts_per_s"], 2)
    result = {
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform(),
                    "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS"),
                    "torch_threads": torch.get_num_threads(),
                    "load_average_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)]},
        "judge_model": model.info()["spec"], "dtype": model.info()["dtype"],
        "judge_prompt_chars_mean": round(float(np.mean(chars)), 1),
        "rows": rows, "judge_batch8_vs_batch1_speedup": speedup,
        "note": "one run on a shared 2-core machine; load_average_1min (start, end) shows how "
                "busy it was (above 2 = other jobs competed for the cores)",
    }
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "monitors.json").write_text(json.dumps(result, indent=2) + "\n")
    for r in rows:
        print(f"{r['monitor']:<70} batch {r.get('batch_size', '-'):>2}  "
              f"{r['transcripts_per_s']:>10.2f} transcripts/s  AUROC {r['auroc_hack']}")
    print(f"judge batch 8 vs 1: {speedup}x; written to {out / 'monitors.json'}")


if __name__ == "__main__":
    main()
