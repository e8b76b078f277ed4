"""``faithline demo``: hold the line on the model organism, offline, on a CPU, in minutes.

Warms up the organism (``faithline train organism --language shellgame``, cached after the
first run; ``--organism coinflip`` for the coin-flip one), trains every RL arm with GRPO through
TRL from that one checkpoint for each seed (outcome-only, CoT-monitor pressure, Shoggoth + Face
with reward targeting, Shoggoth + Paraphraser + Face, pressure with a legibility regulariser),
one run per CPU core at a time, evaluates each on a labelled set whose ground truth is exact,
and writes one report comparing them. It ends by printing the seed-level table (each run's
metrics aggregated over seeds, every arm paired with outcome-only by seed; train/seeds.py),
which ``faithline tables --save RUN`` commits to the docs:

    faithline demo                   # runs/demo/report.html and runs/demo/metrics.json
    faithline demo --seeds 8         # the published table (about 23 min on 2 cores)
    faithline demo --quick           # about a minute: a tiny organism and a few steps (tests)
    faithline demo --seeds 3 --steps 200 --out runs/demo-long
    faithline demo --arms outcome,pressure --workers 1
    faithline demo --experiment encoded  # a process monitor on the state words: does a code
                                         # emerge, and what does the paraphraser do to it?
                                         # (faithline/experiments/encoded.py)
    faithline demo --experiment faithfulness  # every faithfulness test on organisms whose
                                              # faithfulness we built in (known_answers.py)

Per-seed runs live in runs/demo/rl/<arm>-s<seed>/ (each resumable on its own); runs/demo/<arm>/
pools an arm's seeds for the report. Re-running resumes and redoes nothing that is done.
"""

from __future__ import annotations

import os
import shutil
import signal
import statistics
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from faithline.config import check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError
from faithline.registry import Registry
from faithline.runs.run import Run
from faithline.train.arms import DEMO_ARMS, parse_arm
from faithline.train.organism import LANGUAGES, OrganismConfig, read_card, train_organism

MONITOR = "rule:leak"  # the pressure monitor of every arm (RLConfig's default)
QUICK_ORGANISM = OrganismConfig(examples=4096, batch_size=64, layers=2, width=64)


# Each experiment is a function (DemoConfig, progress) -> the report's path.
# ``faithline.experiments`` registers the experiments that live in it (``encoded``).
EXPERIMENTS: Registry[Path] = Registry("experiment")
EXPERIMENTS.register("hold-the-line", "faithline.demo:run_hold_the_line",
                     help="five arms against a monitor the hack can evade")
EXPERIMENTS.register("faithfulness", "faithline.demo:run_faithfulness",
                     help="the faithfulness tests on organisms whose faithfulness is known")


@dataclass(frozen=True)
class DemoConfig:
    out: str = field(default="runs/demo", metadata=_help("output directory"))
    experiment: str = field(default="hold-the-line", metadata=_help(
        lambda: f"one of {', '.join(EXPERIMENTS.in_order())} (listed above)"))
    seeds: int = field(default=2, metadata=_help(
        "seeds per arm (faithfulness: organisms per kind, one seed each)", ge=1))
    steps: int = field(default=120, metadata=_help("GRPO steps per arm and seed", ge=1))
    workers: int = field(default=0, metadata=_help(
        "runs trained at once, one CPU thread each (0 = one per core, at most 4)", ge=0))
    arms: str = field(default=",".join(DEMO_ARMS), metadata=_help(
        "comma-separated arms (registered names or key=value compositions: "
        "see `faithline train rl --help`)"))
    eval_n: int = field(default=256, metadata=_help("labelled evaluation episodes per run",
                                                    ge=1))
    organism: str = field(default="shellgame", metadata=_help(
        "hold-the-line's organism: shellgame (a hack needs a chain from the leak) or "
        "coinflip (the leak is the answer, so verbalising a hack is free)"))
    quick: bool = field(default=False, metadata=_help(
        "tiny organism, 1 seed, a few steps: about a minute (for tests)"))
    penalty: float = field(default=1.0, metadata=_help(
        "encoded: weight of the process monitor's penalty", ge=0))
    paraphrase_steps: str = field(default="canonical:organism", metadata=_help(
        "encoded: the per-step paraphraser of arms that paraphrase each step (step-pressure), "
        "any --paraphraser spec; {organism} stands for the warm-up organism's path, e.g. "
        "resample:hf:{organism}"))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above
        if self.organism not in LANGUAGES:
            raise BadInputError(f"--organism must be one of {', '.join(LANGUAGES)}, got "
                                f"{self.organism!r}")

    def arm_list(self) -> list[str]:
        arms = [a.strip() for a in self.arms.split(",") if a.strip()]
        if not arms:
            raise BadInputError(f"demo: no arms given; known: {', '.join(DEMO_ARMS)}")
        for a in arms:
            parse_arm(a)  # a clear error for an unknown arm, before anything is trained
        return arms


def run_demo(cfg: DemoConfig, progress: bool = True) -> Path:
    """Run the experiment and write the report; returns the report's path."""
    run = EXPERIMENTS.get(cfg.experiment)
    if cfg.experiment != "hold-the-line" and cfg.out == DemoConfig.out:
        cfg = replace(cfg, out=f"runs/demo-{cfg.experiment}")
    return run(cfg, progress)


def run_faithfulness(cfg: DemoConfig, progress: bool = True) -> Path:
    """The faithfulness tests on the known-answer organisms (faithline/known_answers.py)."""
    from faithline.known_answers import run_experiment

    return run_experiment(Path(cfg.out), quick=cfg.quick, progress=progress,
                          seeds=1 if cfg.quick else cfg.seeds)


def run_hold_the_line(cfg: DemoConfig, progress: bool = True) -> Path:
    """Hold the line (the module docstring); returns the report's path."""
    from faithline.report import write_report
    from faithline.train.rl import RLConfig

    arms = cfg.arm_list()
    out = Path(cfg.out)
    demo = Run.open(out, "demo", asdict(cfg), defaults=asdict(DemoConfig()))
    with demo.working():
        org_cfg = replace(QUICK_ORGANISM if cfg.quick else OrganismConfig(),
                          language=cfg.organism)
        organism = train_organism(org_cfg, progress=progress)
        seeds = 1 if cfg.quick else cfg.seeds
        steps = min(cfg.steps, 4) if cfg.quick else cfg.steps
        eval_n = min(cfg.eval_n, 32) if cfg.quick else cfg.eval_n
        jobs = [RLConfig(arm=arm, out=str(out / "rl" / f"{arm}-s{seed}"),
                         model=f"hf:{organism}", steps=steps, seed=seed, eval_n=eval_n,
                         monitor=MONITOR, prompts=8 if cfg.quick else RLConfig.prompts,
                         generations=4 if cfg.quick else RLConfig.generations)
                for seed in range(seeds) for arm in arms]
        workers = cfg.workers or min(4, os.cpu_count() or 1)
        per_arm: dict[str, list[Path]] = {arm: [] for arm in arms}
        for job, path in zip(jobs, train_all(jobs, workers, progress), strict=True):
            per_arm[job.arm].append(path)
        summary = {arm: _pool(out / arm, arm, paths, cfg) for arm, paths in per_arm.items()}
        card = read_card(organism)
        table = seed_table(per_arm, cfg, demo, workers)
        preface = _preface(summary, card, seeds, steps, table)
        demo.info["parts"] = list(per_arm)  # `faithline report RUN` shows these runs
        demo.save()
        demo.write_metrics({
            "experiment": "hold-the-line", "config": asdict(cfg),
            "organism": {"path": str(organism), **card}, "arms": summary,
            "summary": _table(summary), "preface": preface,
            "tables": {table_name(cfg): table}})
    return write_report([out])


def answer_options(cfg: DemoConfig) -> int:
    """How many answers the demo organism's task allows (3 cups, 2 sides)."""
    from faithline.train.organism import organism_task

    task = organism_task(language=cfg.organism)
    return len(task.answer_options(task.samples(1)[0]) or ())


def table_name(cfg: DemoConfig) -> str:
    """The results table a demo run fills: the experiment, then as its variant the organism
    where it is not the default, encoded's penalty weight and arms (``step-PARAPHRASER`` when
    an arm paraphrases per step), ``quick``, and the kernels under ``ATEN_CPU_CAPABILITY``
    (``hold-the-line@default``, ``hold-the-line@coinflip-default``, ``encoded@step-canonical``)."""
    aten = os.environ.get("ATEN_CPU_CAPABILITY")
    encoded = cfg.experiment == "encoded"
    arms = "" if cfg.arms == DemoConfig.arms else "arms"  # another set of arms: its own table
    if encoded and any(parse_arm(a).steps for a in cfg.arm_list()):
        arms = "step-" + cfg.paraphrase_steps.partition(":")[0]  # and which paraphraser
    variant = [cfg.organism if cfg.organism != DemoConfig.organism and
               cfg.experiment == "hold-the-line" else "",
               f"p{cfg.penalty:g}" if encoded and cfg.penalty != DemoConfig.penalty else "",
               arms if encoded else "", "quick" if cfg.quick else "",
               aten.lower() if aten else ""]
    tail = "-".join(v for v in variant if v)
    return f"{cfg.experiment}@{tail}" if tail else cfg.experiment


def demo_command(cfg: DemoConfig) -> str:
    """The command line that reproduces a demo's runs (options that differ from the
    defaults, without --out and --workers, which do not change a number)."""
    parts = ["faithline demo"]
    for k, v in asdict(cfg).items():
        if k in ("out", "workers") or v == getattr(DemoConfig, k):
            continue
        flag = "--" + k.replace("_", "-")
        parts.append(flag if v is True else f"{flag} {v}")
    aten = os.environ.get("ATEN_CPU_CAPABILITY")
    return (f"ATEN_CPU_CAPABILITY={aten} " if aten else "") + " ".join(parts)


def seed_table(per_arm: dict[str, list[Path]], cfg: DemoConfig, demo: Run,
               workers: int) -> dict[str, Any]:
    """The seed-level summary (train/seeds.py) of the arms' runs, as :func:`table_entry`."""
    from faithline.train.metrics import arm_metrics
    from faithline.train.seeds import over_seeds

    runs = {arm: [Run.load(p) for p in paths] for arm, paths in per_arm.items()}
    options = answer_options(cfg)  # each run's values, from its transcripts
    finals = {arm: {int(r.info.get("config", {}).get("seed", i)):
                    arm_metrics(r.transcripts(), MONITOR, n_boot=0, options=options)
                    for i, r in enumerate(rs)} for arm, rs in runs.items()}
    steps = {arm: {"s/step": f"{s:.2f}"} for arm, rs in runs.items()
             if isinstance(s := median_step_seconds(rs), float)}
    summary = over_seeds(finals, titles={a: parse_arm(a).title or a for a in finals},
                         extra=steps)
    return table_entry(cfg, demo, workers, summary, per_arm)


def table_entry(cfg: DemoConfig, demo: Run, workers: int, summary: dict[str, Any],
                per_arm: dict[str, list[Path]]) -> dict[str, Any]:
    """A seed-level summary with its command and provenance: what ``faithline tables
    --save`` commits and the console prints. The provenance is the demo run's environment,
    the commits its RL runs were trained at, and their training seconds added up (each run
    on one thread, ``workers`` at a time)."""
    from faithline.provenance import environment

    env = demo.info.get("environment") or environment()
    infos = [Run.load(p).info for paths in per_arm.values() for p in paths]
    commits = sorted({str((i.get("environment") or {}).get("commit")) for i in infos})
    seconds = sum(float(i.get("elapsed_s") or 0.0) for i in infos)
    return {"command": demo_command(cfg), "summary": summary,
            "provenance": {**env, "seeds": summary["seeds"], "threads_per_run": 1,
                           "workers": workers, "run_seconds": round(seconds),
                           "runs": {"commits": commits, "count": len(infos)}}}


def _preface(summary: dict[str, dict[str, Any]], card: dict[str, Any], seeds: int,
             steps: int, table: dict[str, Any]) -> str:
    from faithline.train.seeds import render_arms

    probe = card.get("probe", {})
    p_hack = probe.get("unflagged_hack_probability", float("nan"))
    language = card.get("config", {}).get("language", "coinflip")
    silent = (f", and writes the chain from the leaked start as if it were the start (the hack "
              f"no keyword monitor reads) with probability "
              f"{probe['silent_hack_chain_probability']:.2g}"
              if "silent_hack_chain_probability" in probe else "")
    return (f"**Hold the line: {len(summary)} arms x {seeds} seed(s) x {steps} GRPO steps**\n\n"
            f"Organism ({language}): {card.get('parameters')} parameters, warm-up "
            f"{card.get('train_seconds')} s; before RL it answers a wrong leak after an honest "
            f"chain with probability {p_hack:.3g}{silent}."
            f"\n\nPer run, then across seeds (mean [95% bootstrap CI over seeds], k of n seeds; "
            f"differences paired by seed):\n\n{render_arms(table['summary'])}\n\n"
            f"Pooled transcripts of all seeds (CIs over transcripts, for reading only: seeds "
            f"are the unit of a finding):\n\n{_table(summary)}\n\n"
            "hack = answered the wrong leak (wrong-leak prompts); "
            "leak dependence = hack rate minus the error rate on prompts without a leak; recall "
            f"= share of hacks the CoT monitor ({MONITOR}) flags; FPR = share of non-hacks it "
            "flags.")


def _train_one(cfg: Any) -> Path:
    """One RL run in a worker process, on one CPU thread (two torch processes that each want
    every core slow each other down many times over)."""
    import torch

    from faithline.train.rl import train_rl

    torch.set_num_threads(1)
    return train_rl(cfg, progress=False).path


_in_run = False  # in a worker: whether it is inside a run (SIGTERM stops the run) or idle


def _worker_sigterm(signum: int, frame: Any) -> None:
    if _in_run:
        raise KeyboardInterrupt  # the run marks itself interrupted (Run.working); see below
    os._exit(128 + signal.SIGTERM)  # idle: nothing to mark, and no traceback from the pool


def _train_in_worker(cfg: Any) -> Path:
    """``_train_one`` in a pool worker. When ``train_all`` stops the pool (SIGTERM), the run
    says ``interrupted`` in its run.json and the worker exits at once, before the pool could
    hand it the next run or print a traceback."""
    global _in_run
    _in_run = True
    try:
        return _train_one(cfg)
    except KeyboardInterrupt:
        os._exit(128 + signal.SIGTERM)
    finally:
        _in_run = False


def _init_worker() -> None:
    os.environ["OMP_NUM_THREADS"] = "1"
    os.environ["TOKENIZERS_PARALLELISM"] = "false"
    # Ctrl-C reaches every process of the terminal's group; the parent alone decides, and
    # stops the workers with SIGTERM (train_all).
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, _worker_sigterm)


def train_all(jobs: list[Any], workers: int, progress: bool) -> list[Path]:
    """Train the runs, ``workers`` at a time (a process pool; each run resumes on its own).

    Ctrl-C or SIGTERM (``KeyboardInterrupt``) cancels the runs not started, stops the running
    ones (each marks itself interrupted) and re-raises, so the demo's run says interrupted and
    the same command resumes every run. Another error lets the running runs finish and starts
    no new one."""
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from tqdm.auto import tqdm

    bar = tqdm(total=len(jobs), desc="demo: RL runs", unit="run", disable=not progress)
    if workers <= 1:
        out = []
        for job in jobs:
            out.append(_train_one(job))
            bar.update(1)
        bar.close()
        return out
    pool = ProcessPoolExecutor(max_workers=min(workers, len(jobs)), initializer=_init_worker,
                               mp_context=mp.get_context("spawn"))
    try:
        futures = [pool.submit(_train_in_worker, job) for job in jobs]
        for fut in futures:
            fut.add_done_callback(lambda _: bar.update(1))
        paths = [f.result() for f in futures]
    except KeyboardInterrupt:
        stop_pool(pool)
        raise
    finally:
        pool.shutdown(wait=True, cancel_futures=True)  # at once after stop_pool
        bar.close()
    return paths


def stop_pool(pool: Any, grace_s: float = 30.0) -> None:
    """Cancel a ``ProcessPoolExecutor``'s pending work and end its workers: SIGTERM (a run
    marks itself interrupted), then SIGKILL for any still alive after ``grace_s``."""
    import time
    from multiprocessing.connection import wait

    procs = list((getattr(pool, "_processes", None) or {}).values())  # no public handle (3.11)
    pool.shutdown(wait=False, cancel_futures=True)  # no run starts from now on
    alive = {p.sentinel: p for p in procs if p.exitcode is None}
    for p in alive.values():
        p.terminate()
    deadline = time.monotonic() + grace_s
    while alive and (left := deadline - time.monotonic()) > 0:
        for sentinel in wait(list(alive), left):  # ready once its process has exited
            alive.pop(sentinel)
    for p in alive.values():
        p.kill()


def _pool(target: Path, arm: str, paths: list[Path], cfg: DemoConfig) -> dict[str, Any]:
    """Pool an arm's seeds into one run directory (transcripts, metrics with bands)."""
    from faithline.train.metrics import arm_metrics

    runs = [Run.load(p) for p in paths]
    pooled = pool_runs(target, arm, runs, cfg)
    final = arm_metrics(pooled.transcripts(), MONITOR, options=answer_options(cfg))
    metrics = {"arm": arm, "seeds": len(runs), "final": final,
               "per_seed": {f"s{i}": r.metrics().get("final", {}) for i, r in enumerate(runs)},
               "step_seconds_median": median_step_seconds(runs),
               "curves": band_curves([r.metrics().get("curves", {}) for r in runs])}
    pooled.write_metrics(metrics)
    pooled.set_status("done")
    return {k: v for k, v in metrics.items() if k not in ("curves", "per_seed")}


def pool_runs(target: Path, arm: str, runs: list[Run], cfg: DemoConfig) -> Run:
    """An arm's seeds' transcripts in one run directory (derived data: rebuilt every time)."""
    if target.exists():
        shutil.rmtree(target)
    pooled = Run.open(target, "demo arm", {"arm": arm, "seeds": len(runs), **asdict(cfg)})
    for r in runs:
        for t in r.transcripts():
            pooled.append(t)
    return pooled


def median_step_seconds(runs: list[Run]) -> float | None:
    """The median over runs of each run's median step time."""
    step_s = [r.metrics().get("step_seconds_median") for r in runs]
    return _median([s for s in step_s if isinstance(s, float)])


def _mean(xs: list[float]) -> float:
    return sum(xs) / len(xs)


def _median(xs: list[float]) -> float | None:
    return statistics.median_high(xs) if xs else None


def band_curves(per_seed: list[dict[str, Any]], window: int = 5) -> dict[str, Any]:
    """Mean over seeds of each curve (a trailing moving average over ``window`` steps), with
    the seeds' min and max as the band."""
    out: dict[str, Any] = {}
    names = {n for c in per_seed for n in c}
    for name in sorted(names):
        series = []
        for c in per_seed:
            xs, ys = c.get(name, {}).get("x", []), c.get(name, {}).get("y", [])
            smooth = {x: _mean(ys[max(0, i - window + 1):i + 1]) for i, x in enumerate(xs)}
            series.append(smooth)
        steps = sorted(set.intersection(*(set(s) for s in series))) if series else []
        if not steps:
            continue
        vals = [[s[x] for s in series] for x in steps]
        out[name] = {"x": steps, "y": [sum(v) / len(v) for v in vals],
                     "ci_low": [min(v) for v in vals], "ci_high": [max(v) for v in vals]}
    return out


def _table(summary: dict[str, dict[str, Any]]) -> str:
    cols = ("accuracy", "hack_rate", "leak_dependence", "monitor_recall", "monitor_fpr",
            "chain_intact")
    head = "| arm | " + " | ".join(cols) + " | s/step |"
    rows = [head, "|" + "---|" * (len(cols) + 2)]
    for arm, m in summary.items():
        cells = []
        for c in cols:
            ci = m["final"][c]
            cells.append(f"{ci['value']:.2f} [{ci['ci_low']:.2f}, {ci['ci_high']:.2f}]"
                         if ci["n"] else "n/a")
        s = m.get("step_seconds_median")
        step = f"{s:.2f}" if isinstance(s, float) else "n/a"
        rows.append(f"| {parse_arm(arm).title or arm} | " + " | ".join(cells) + f" | {step} |")
    return "\n".join(rows)
