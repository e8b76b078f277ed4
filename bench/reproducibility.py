"""Reproducibility: the organism card and one RL arm under each CPU kernel setting and thread
count, each in a fresh process (faithline/train/reproducibility.py does the measuring).

Settings: this machine's own kernels on 1 thread (twice: is a rerun bitwise?), on 2 threads,
and ``ATEN_CPU_CAPABILITY=default`` / ``avx2`` on 1 thread (another machine's arithmetic on
this one). The organism is trained from scratch in each setting; the arm (outcome-only, seed 0,
120 steps) starts from the organism trained in the first setting, so its differences come
from the RL arithmetic alone. About 2 minutes per setting on 2 cores.

    python bench/reproducibility.py --out runs/repro     # then: faithline tables --save runs/repro
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

SETTINGS = (("native, 1 thread", None, 1), ("native, 1 thread, rerun", None, 1),
            ("native, 2 threads", None, 2), ("default, 1 thread", "default", 1),
            ("avx2, 1 thread", "avx2", 1))
CHILD = """
import json, sys, torch
from pathlib import Path
from faithline.train.reproducibility import measure
torch.set_num_threads(int(sys.argv[3]))
org = None if sys.argv[2] == "-" else Path(sys.argv[2])
print(json.dumps(measure(Path(sys.argv[1]), org, steps=int(sys.argv[4]))))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--out", default="runs/repro")
    ap.add_argument("--steps", type=int, default=120)
    ap.add_argument("--settings", type=int, default=len(SETTINGS),
                    help="measure the first N settings only")
    args = ap.parse_args()
    from faithline.provenance import environment
    from faithline.runs.run import Run

    out = Path(args.out)
    run = Run.open(out, "reproducibility", {"steps": args.steps})
    rows, organism, started = [], None, time.perf_counter()
    with run.working():
        for i, (name, aten, threads) in enumerate(SETTINGS[:args.settings]):
            env = {k: v for k, v in os.environ.items() if k != "ATEN_CPU_CAPABILITY"}
            env.update(OMP_NUM_THREADS=str(threads), TOKENIZERS_PARALLELISM="false")
            if aten:
                env["ATEN_CPU_CAPABILITY"] = aten
            folder = out / f"setting-{i}"
            r = subprocess.run([sys.executable, "-c", CHILD, str(folder),
                                str(organism) if organism else "-", str(threads),
                                str(args.steps)], env=env, capture_output=True, text=True,
                               check=False)
            if r.returncode:
                sys.exit(f"{name}: {r.stderr[-2000:]}")
            row = {"name": name, **json.loads(r.stdout.strip().splitlines()[-1])}
            rows.append(row)
            if organism is None:  # every arm starts from the first setting's organism
                organism = next((folder / "cache" / "models").glob("organism-*"))
            print(json.dumps(row), flush=True)
        summary = {"arm": "outcome (seed 0)", "settings": rows}
        run.write_metrics({"tables": {"reproducibility": {
            "command": f"python bench/reproducibility.py --steps {args.steps} "
                       f"--settings {args.settings}",
            "provenance": {**environment(), "wall_seconds": round(time.perf_counter() - started)},
            "summary": summary}}})
    from faithline.train.reproducibility import render

    print(render(summary))


if __name__ == "__main__":
    main()
