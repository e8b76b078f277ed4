"""Fault injection: SIGKILL each long command at random points, resume it, compare with a clean run.

For each command: run it once uninterrupted into ``A``; then, per trial, start it on a fresh
``B``, SIGKILL its process group after a random delay within A's working time (drawn uniformly
from a second before A's first output line to A's end: before that the command is importing and
loading models, with nothing on disk; a trial whose run ends before its kill is drawn again,
earlier, up to three times), re-run the same command to completion and compare B's output files
with A's:

- ``lost``: ids (steps for ``train rl``) in A's output that B lacks;
- ``duplicated``: ids B's output holds more than once;
- ``torn``: lines of B's output files that are not valid JSON (and a run.json, metrics.json or
  store.json that does not parse);
- ``metrics equal``: B's metrics equal A's, timings left out (``metrics.json``; for
  ``paraphrase`` every output row; for ``interp capture`` every transcript's activations; for
  ``train rl`` the final metrics and every step row).

The inputs are small and real: SmolLM2-135M (embedded) on coin-flip transcripts from one
``faithline generate`` run, and the tiny organism for ``train rl``. Every torch command runs
with one thread; ``--jobs 2`` (the default) measures two commands at once. Prints a table and
writes ``OUT/fault_injection.json`` (every trial's kill time, the output lines on disk at the
kill, and what was lost, duplicated or torn).

    python bench/fault_injection.py [--trials 10] [--commands eval,monitor,...] \\
        [--out bench/results]
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

SMOLLM2 = "builtin:smollm2-135m"
ENV = {"OMP_NUM_THREADS": "1", "MKL_NUM_THREADS": "1", "TOKENIZERS_PARALLELISM": "false"}
# Keys that hold wall-clock times or dates: they differ between any two runs.
VOLATILE = re.compile(r"(seconds|_s$|^time$|elapsed|duration|updated|created|per_s)")


@dataclass(frozen=True)
class Command:
    """One long command: how to run it on a directory and where its outputs are."""

    name: str
    argv: Callable[[Path, Path], list[str]]  # (output dir, inputs dir) -> arguments
    outputs: tuple[tuple[str, str], ...]  # (relative JSONL path, id key) checked for ids
    equal: Callable[[Path, Path], bool]  # (A, B) -> metrics equal
    documents: tuple[str, ...] = ("run.json", "metrics.json")  # JSON files that must parse


@dataclass
class Trial:
    delay_s: float  # when it was killed (or, if it ended first, when it ended)
    killed: bool  # the process was still running at the kill
    lines_at_kill: int  # output lines on disk when it was killed (progress made)
    torn_at_kill: bool  # a torn last line was left by the kill (repaired on resume)
    resume_rc: int
    lost: list[str] = field(default_factory=list)
    duplicated: list[str] = field(default_factory=list)
    torn: list[str] = field(default_factory=list)
    metrics_equal: bool = False


# ----- comparing outputs ---------------------------------------------------------------------
def strip_volatile(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {k: strip_volatile(v) for k, v in obj.items() if not VOLATILE.search(str(k))}
    if isinstance(obj, list):
        return [strip_volatile(v) for v in obj]
    return obj


def canonical(obj: Any, root: Path) -> str:
    """``obj`` without timings, as sorted JSON (so NaN equals NaN), its run path as ``RUN``."""
    return json.dumps(strip_volatile(obj), sort_keys=True).replace(str(root), "RUN")


def jsonl_rows(path: Path) -> tuple[list[dict[str, Any]], list[str]]:
    """Rows of a JSONL file and its torn lines (not JSON objects), by line number."""
    rows: list[dict[str, Any]] = []
    torn: list[str] = []
    if not path.is_file():
        return rows, torn
    for i, line in enumerate(path.read_bytes().split(b"\n"), 1):
        if not line.strip():
            continue
        try:
            obj = json.loads(line)
        except ValueError:
            torn.append(f"{path.name}:{i}")
            continue
        if isinstance(obj, dict):
            rows.append(obj)
        else:
            torn.append(f"{path.name}:{i}")
    return rows, torn


def row_key(row: dict[str, Any], key: str) -> str:
    if key == "id+set":
        return f"{row.get('set', '')}/{row.get('id')}"
    return str(row.get(key))


def json_file(path: Path) -> Any:
    return json.loads(path.read_text()) if path.is_file() else None


def metrics_equal(a: Path, b: Path) -> bool:
    ma, mb = json_file(a / "metrics.json"), json_file(b / "metrics.json")
    return ma is not None and canonical(ma, a) == canonical(mb, b)


def rows_equal(name: str, key: str = "id") -> Callable[[Path, Path], bool]:
    """Every row of ``name`` (by ``key``) equal in A and B, timings and run paths aside."""
    def equal(a: Path, b: Path) -> bool:
        ra = {row_key(r, key): canonical(r, a) for r in jsonl_rows(a / name)[0]}
        rb = {row_key(r, key): canonical(r, b) for r in jsonl_rows(b / name)[0]}
        return bool(ra) and ra == rb
    return equal


def activations_equal(a: Path, b: Path) -> bool:
    """Every transcript's stored rows (activations and token keys) equal in A and B."""
    import numpy as np

    from faithline.interp.store import ActivationStore

    sa, sb = ActivationStore(a), ActivationStore(b)
    ra, rb = {r.id: r for r in sa.records}, {r.id: r for r in sb.records}
    if not ra or set(ra) != set(rb):
        return False
    keys = [*sa.paths, "token_ids", "segment", "step"]
    return all(ra[i].tokens == rb[i].tokens and ra[i].transcript == rb[i].transcript and
               np.array_equal(sa.rows(ra[i], k), sb.rows(rb[i], k)) for i in ra for k in keys)


def train_equal(a: Path, b: Path) -> bool:
    ma, mb = json_file(a / "metrics.json"), json_file(b / "metrics.json")
    if ma is None or mb is None:
        return False
    same_final = canonical(ma["final"], a) == canonical(mb["final"], b)
    same_curves = canonical(ma["curves"], a) == canonical(mb["curves"], b) and \
        ma["steps"] == mb["steps"]
    return same_final and same_curves and rows_equal("steps.jsonl", "step")(a, b) and \
        rows_equal("transcripts.jsonl")(a, b)


# ----- the commands --------------------------------------------------------------------------
def faithline(*args: str) -> list[str]:
    return [sys.executable, "-m", "faithline.cli.main", *args]


def commands(n: int) -> dict[str, Command]:
    """The long commands on inputs made by ``prepare`` (``n`` transcripts)."""
    inp = "transcripts.jsonl"
    return {c.name: c for c in [
        Command("eval", lambda o, i: faithline(
            "eval", "--model", SMOLLM2, "--task", "coinflip:flips=2", "--n", str(n // 2),
            "--tests", "early-answering", "--max-cot-tokens", "32", "--batch-size", "1",
            "--no-cache", "--quiet", "--out", str(o)),
            (("transcripts.jsonl", "id"),), metrics_equal),
        Command("monitor", lambda o, i: faithline(
            "monitor", "--monitor", f"judge:{SMOLLM2}", "--monitor", "rule:keywords=tails",
            str(i / inp), "--labels", "wrong", "--batch-size", "1", "--n-boot", "200",
            "--no-cache", "--quiet", "--out", str(o)),
            (("transcripts.jsonl", "id+set"),), metrics_equal),
        Command("paraphrase", lambda o, i: faithline(
            "paraphrase", "--paraphraser", f"llm:{SMOLLM2}", str(i / inp),
            "--max-new-tokens", "48", "--batch-size", "1", "--no-cache", "--quiet",
            "--out", str(o / "para.jsonl")),
            (("para.jsonl", "id"),), rows_equal("para.jsonl"), documents=()),
        Command("legibility", lambda o, i: faithline(
            "legibility", str(i / inp), "--reference", SMOLLM2, "--batch-size", "1",
            "--quiet", "--out", str(o)),
            (("transcripts.jsonl", "id"),), metrics_equal),
        Command("interp capture", lambda o, i: faithline(
            "interp", "capture", str(i / inp), "--model", SMOLLM2, "--paths", "layers:0,15,29",
            "--batch-tokens", "128", "--shard-tokens", "64", "--quiet", "--out", str(o)),
            (("index.jsonl", "id"),), activations_equal, documents=("store.json",)),
        Command("train rl", lambda o, i: faithline(
            "train", "rl", "--arm", "face", "--model",
            f"hf:{(i / 'organism.txt').read_text().strip()}", "--steps", "6",
            "--save-every", "2", "--prompts", "4", "--generations", "4", "--eval-n", "16",
            "--quiet", "--out", str(o)),
            (("steps.jsonl", "step"), ("transcripts.jsonl", "id")), train_equal),
    ]}


def prepare(inputs: Path, n: int, names: list[str]) -> None:
    """Coin-flip transcripts from SmolLM2 (labelled ``wrong``); the tiny organism's path."""
    inputs.mkdir(parents=True, exist_ok=True)
    if any(c != "eval" and c != "train rl" for c in names) and \
            not (inputs / "transcripts.jsonl").is_file():
        gen = inputs / "generate"
        r = subprocess.run(faithline("generate", "--model", SMOLLM2, "--task", "coinflip:flips=2",
                                     "--n", str(n), "--max-cot-tokens", "48", "--no-cache",
                                     "--quiet", "--out", str(gen)),
                           env={**os.environ, **ENV}, capture_output=True, text=True)
        if r.returncode:
            raise SystemExit(f"generate failed: {r.stderr.strip()}")
        rows = jsonl_rows(gen / "transcripts.jsonl")[0]
        for row in rows:
            row["label"] = {**(row.get("label") or {}), "wrong": not row.get("correct")}
        (inputs / "transcripts.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    if "train rl" in names and not (inputs / "organism.txt").is_file():
        os.environ.update(ENV)
        from faithline.demo import QUICK_ORGANISM
        from faithline.train.organism import train_organism

        (inputs / "organism.txt").write_text(str(train_organism(QUICK_ORGANISM, progress=False)))


# ----- running and killing -------------------------------------------------------------------
def run_to_end(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, env={**os.environ, **ENV}, capture_output=True, text=True)


def output_lines(out: Path, cmd: Command) -> tuple[int, bool]:
    """Lines of the command's outputs on disk, and whether one ends in a torn line."""
    lines, torn = 0, False
    for rel, _ in cmd.outputs:
        p = out / rel
        if p.is_file():
            data = p.read_bytes()
            lines += data.count(b"\n")
            torn |= bool(data) and not data.endswith(b"\n")
    return lines, torn


def check(a: Path, b: Path, cmd: Command, trial: Trial) -> None:
    for rel, key in cmd.outputs:
        rows_a = jsonl_rows(a / rel)[0]
        rows_b, torn = jsonl_rows(b / rel)
        ids_b = Counter(row_key(r, key) for r in rows_b)
        trial.lost += sorted({row_key(r, key) for r in rows_a} - set(ids_b))
        trial.duplicated += sorted(i for i, c in ids_b.items() if c > 1)
        trial.torn += torn
    for doc in cmd.documents:
        try:
            json.loads((b / doc).read_text())
        except (OSError, ValueError):
            trial.torn.append(doc)
    trial.metrics_equal = cmd.equal(a, b)


def one_trial(cmd: Command, a: Path, b: Path, inputs: Path, delay: float) -> Trial:
    """Start ``cmd`` on a fresh ``b``, SIGKILL its process group after ``delay`` seconds,
    re-run it to the end and compare ``b`` with the clean run ``a``."""
    shutil.rmtree(b, ignore_errors=True)
    b.mkdir(parents=True)
    argv = cmd.argv(b, inputs)
    proc = subprocess.Popen(argv, env={**os.environ, **ENV}, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL, start_new_session=True)
    start = time.monotonic()
    try:
        proc.wait(timeout=delay)
        killed, delay = False, time.monotonic() - start  # it ended first: when it ended
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        killed = True
    lines, torn_tail = output_lines(b, cmd)
    r = run_to_end(argv)
    trial = Trial(round(delay, 2), killed, lines, torn_tail, r.returncode)
    if r.returncode:
        trial.torn.append(f"resume exited {r.returncode}: {r.stderr.strip()[-300:]}")
    check(a, b, cmd, trial)
    return trial


def clean_run(cmd: Command, a: Path, inputs: Path) -> tuple[float, float]:
    """Run ``cmd`` uninterrupted into ``a``: its duration and when its first output line
    appeared (the start of its work; before it, the command is loading)."""
    shutil.rmtree(a, ignore_errors=True)
    a.mkdir(parents=True)
    start = time.monotonic()
    proc = subprocess.Popen(cmd.argv(a, inputs), env={**os.environ, **ENV},
                            stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    first = None
    while proc.poll() is None:
        if first is None and output_lines(a, cmd)[0]:
            first = time.monotonic() - start
        time.sleep(0.02)
    duration = time.monotonic() - start
    if proc.returncode:
        err = proc.stderr.read() if proc.stderr else ""
        raise SystemExit(f"{cmd.name}: the uninterrupted run failed: {err.strip()[-500:]}")
    return duration, duration if first is None else first


def measure(cmd: Command, work: Path, inputs: Path, trials: int, seed: int, log: bool = True
            ) -> dict[str, Any]:
    """A clean run, then ``trials`` kills at points drawn uniformly over its working time
    (from a second before its first output line to its end) and a resume each."""
    a = work / "A"
    duration, first = clean_run(cmd, a, inputs)
    window = (max(0.0, first - 1.0), duration)
    rng = random.Random(f"{seed}:{cmd.name}")
    done = []
    for _ in range(trials):
        lo, hi = window
        for _attempt in range(3):  # a run faster than the clean one may end before its kill
            t = one_trial(cmd, a, work / "B", inputs, rng.uniform(lo, hi))
            if t.killed:
                break
            hi = max(lo, min(hi, 0.95 * t.delay_s))
        done.append(t)
        if log:
            print(f"{cmd.name}: kill at {t.delay_s:5.1f}s of {duration:.1f}s "
                  f"({'killed' if t.killed else 'had ended'}, {t.lines_at_kill} lines) -> "
                  f"lost {len(t.lost)} dup {len(t.duplicated)} torn {len(t.torn)} "
                  f"equal {t.metrics_equal}", file=sys.stderr, flush=True)
    return summary(cmd.name, duration, window, done)


def summary(name: str, duration: float, window: tuple[float, float], trials: list[Trial]
            ) -> dict[str, Any]:
    return {"command": name, "clean_run_s": round(duration, 1),
            "kill_window_s": [round(w, 2) for w in window], "trials": len(trials),
            "kill_points": sum(t.killed for t in trials),
            "mid_work": sum(t.killed and t.lines_at_kill > 0 for t in trials),
            "torn_at_kill": sum(t.torn_at_kill for t in trials),
            "lost": sum(len(t.lost) for t in trials),
            "duplicated": sum(len(t.duplicated) for t in trials),
            "torn": sum(len(t.torn) for t in trials),
            "metrics_equal": sum(t.metrics_equal for t in trials),
            "detail": [asdict(t) for t in trials]}


def table(rows: list[dict[str, Any]]) -> str:
    head = ("| command | trials | kill points (mid-work) | lost | duplicated | torn | "
            "metrics equal | clean run |")
    lines = [head, "|---|---|---|---|---|---|---|---|"]
    for s in rows:
        lines.append(f"| `{s['command']}` | {s['trials']} | {s['kill_points']} "
                     f"({s['mid_work']}) | {s['lost']} | {s['duplicated']} | {s['torn']} | "
                     f"{s['metrics_equal']}/{s['trials']} | {s['clean_run_s']:.0f} s |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--trials", type=int, default=10, help="kills per command")
    ap.add_argument("--commands", default="eval,monitor,paraphrase,legibility,interp capture,"
                    "train rl", help="comma-separated commands")
    ap.add_argument("--n", type=int, default=8, help="input transcripts (eval: n/2 samples)")
    ap.add_argument("--seed", type=int, default=0, help="seed of the kill points")
    ap.add_argument("--jobs", type=int, default=2,
                    help="commands measured at once (each torch process uses one thread)")
    ap.add_argument("--out", default="bench/results", help="folder of fault_injection.json")
    ap.add_argument("--work", default="", help="scratch folder (default: a temporary one)")
    ap.add_argument("--merge", action="store_true",
                    help="keep the other commands' results already in OUT/fault_injection.json")
    args = ap.parse_args(argv)
    known = commands(args.n)
    names = [c.strip() for c in args.commands.split(",") if c.strip()]
    if unknown := [c for c in names if c not in known]:
        ap.error(f"unknown command(s) {unknown}; choose from {', '.join(known)}")
    work = Path(args.work or tempfile.mkdtemp(prefix="faithline-fault-"))
    started = time.monotonic()
    prepare(work / "inputs", args.n, names)
    with ThreadPoolExecutor(max_workers=max(1, args.jobs)) as pool:
        results = list(pool.map(lambda name: measure(
            known[name], work / name.replace(" ", "-"), work / "inputs", args.trials,
            args.seed), names))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    old = json_file(out / "fault_injection.json") if args.merge else None
    if old:
        kept = [s for s in old["results"] if s["command"] not in names]
        results = sorted(kept + results, key=lambda s: list(known).index(s["command"]))
    print(table(results))
    (out / "fault_injection.json").write_text(json.dumps(
        {"trials": args.trials, "n": args.n, "seed": args.seed, "jobs": args.jobs,
         "wall_s": round(time.monotonic() - started, 1), "cpus": os.cpu_count(),
         "results": results}, indent=2) + "\n")
    if not args.work:
        shutil.rmtree(work, ignore_errors=True)
    bad = [s for s in results if s["lost"] or s["duplicated"] or s["torn"] or
           s["metrics_equal"] < s["trials"]]
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
