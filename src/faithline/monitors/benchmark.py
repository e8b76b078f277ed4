"""Run monitors over Transcript JSONL files or Inspect AI logs; with labels, the monitor benchmark.

    faithline monitor --monitor rule:leak IN.jsonl --labels hack --out runs/mon
    faithline monitor --monitor rule:hack --monitor classifier:monitors/hack \\
        --monitor judge:builtin:smollm2-135m --monitor judge:builtin:smollm2-135m@view=answer \\
        IN.jsonl --labels hack --target-fpr 0.05 --out runs/mon-compare
    faithline monitor --monitor rule:leak --monitor classifier:DIR --labels hack \\
        runs/demo/rl/*/transcripts.jsonl --out runs/mon-arms   # one table row per file

Writes a run directory: ``transcripts.jsonl`` (each input transcript with every monitor's
verdict in its ``monitor`` field; with several input files a ``set`` key names the file's run),
``metrics.json``, ``report.html``, and prints a markdown table. Re-running the same command
resumes: transcripts already judged are not judged again, and the metrics are recomputed (so
``--labels``, ``--target-fpr`` and ``--calibrate-on`` can change between runs).

With ``--labels KEY`` (a key of each transcript's ``label``), every monitor gets recall,
precision, false-positive rate, g-mean² (TPR x TNR, Guan et al. 2025) and AUROC, each with a
bootstrap 95% CI over transcripts, per input file and over all, and a ROC curve in the report.
With ``--target-fpr F`` each monitor's threshold is also calibrated: the lowest threshold whose
FPR on the calibration set (``--calibrate-on`` a set name, default all transcripts, so in-sample)
is at most F; the table then has a second row per monitor at that threshold (∞ when no
threshold meets F: nothing but failed verdicts is flagged). Failed verdicts (a judge's
unparseable answer, a failed paraphrase) count as flags at every threshold, and the table says
how many there were.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
from tqdm import tqdm

from faithline.config import SEED, check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError
from faithline.io import input_name, load_transcripts
from faithline.models import Model, load_model
from faithline.models.cache import CachedModel, CallCache
from faithline.monitors.base import Monitor, Verdict, apply_monitors
from faithline.monitors.metrics import (
    arrays,
    binary_metrics,
    labels_of,
    rate,
    roc_curve,
    threshold_for_fpr,
)
from faithline.monitors.specs import get_monitor
from faithline.runs import Run
from faithline.types import Transcript

ALL = "all"
METRICS = ("recall", "precision", "fpr", "gmean2", "auroc")



@dataclass(frozen=True)
class MonitorConfig:
    """Settings of one ``faithline monitor`` run."""

    inputs: tuple[str, ...] = field(metadata=_help("Transcript JSONL file(s)"))
    monitors: tuple[str, ...] = field(metadata=_help("monitor specs"))
    out: str = field(default="", metadata=_help(
        "run directory; re-running the same command resumes it (default: "
        "runs/monitor/<input names>)"))
    labels: str | None = field(default=None, metadata=_help(
        "label key to benchmark against (a key of each transcript's 'label', e.g. hack)"))
    label_from: str | None = field(default=None, metadata=_help(
        "Inspect logs: set the --labels key (else NAME) from a score: score:NAME (true when "
        "C/true/1) or score:NAME=VALUE"))
    target_fpr: float | None = field(default=None, metadata=_help(
        "also calibrate each monitor's threshold to this false-positive rate (needs --labels)",
        gt=0, lt=1))
    calibrate_on: str | None = field(default=None, metadata=_help(
        "input set to calibrate on (its run name, or the file name); default: all transcripts"))
    batch_size: int = field(default=16, metadata=_help("transcripts per batch (and checkpoint)",
                                                       ge=1))
    n_boot: int = field(default=2000, metadata=_help("bootstrap resamples for the CIs", ge=1))
    seed: int = field(default=0, metadata=_help("seed (judges that sample, bootstrap)", **SEED))
    cache: bool = field(default=True, metadata=_help("cache model calls by content hash"))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above
        object.__setattr__(self, "inputs", tuple(self.inputs))
        object.__setattr__(self, "monitors", tuple(self.monitors))
        if not self.inputs:
            raise BadInputError("give at least one Transcript JSONL file")
        if not self.monitors:
            raise BadInputError("give at least one --monitor SPEC")
        if not self.out:
            names = set_names(self.inputs)
            default = "+".join(names[:3]) + ("+more" if len(names) > 3 else "")
            object.__setattr__(self, "out", f"runs/monitor/{default}")
        if self.target_fpr is not None and not self.labels:
            raise BadInputError("--target-fpr needs --labels KEY (calibration needs labels)")
        if self.calibrate_on is not None and self.target_fpr is None:
            raise BadInputError("--calibrate-on needs --target-fpr")


# ----- inputs ----------------------------------------------------------------------------------
def set_names(inputs: Sequence[str]) -> list[str]:
    """A short unique name per input file: its run directory for ``.../transcripts.jsonl``,
    else the file's stem."""
    names: list[str] = []
    for p in inputs:
        base = input_name(p)
        name, k = base, 2
        while name in names:
            name, k = f"{base}-{k}", k + 1
        names.append(name)
    return names


def read_inputs(inputs: Sequence[str], label_from: str | None = None,
                label_key: str | None = None) -> list[tuple[str, Transcript]]:
    """(set name, transcript) for every transcript of every input file, ids unique per file."""
    rows = []
    for name, path in zip(set_names(inputs), inputs, strict=True):
        for t in load_transcripts(path, label_from, label_key):
            if len(inputs) > 1:
                t.extra["set"] = name
            rows.append((name, t))
    return rows


def load_monitors(specs: Sequence[str], cache: bool, seed: int = 0
                  ) -> tuple[list[Monitor], dict[str, Model]]:
    """The monitors ``specs`` name, sharing models (wrapped in the call cache if ``cache``)."""
    call_cache = CallCache() if cache else None

    def load(spec: str) -> Model:
        model = load_model(spec)
        return CachedModel(model, call_cache) if call_cache else model

    pool: dict[str, Model] = {}
    monitors = [get_monitor(s, pool, load, seed) for s in specs]
    names = [m.name for m in monitors]
    dupes = sorted({n for n in names if names.count(n) > 1})
    if dupes:
        raise BadInputError(f"monitor(s) given twice: {', '.join(dupes)}")
    return monitors, pool


# ----- the run ---------------------------------------------------------------------------------
def run_monitors(cfg: MonitorConfig, progress: bool = True) -> Run:
    """Judge every transcript with every monitor into ``cfg.out``; write metrics and report."""
    Run.check_out(cfg.out)  # before a model loads
    rows = read_inputs(cfg.inputs, cfg.label_from, cfg.labels)
    names = set_names(cfg.inputs)
    if cfg.labels:
        labels_of([t for _, t in rows], cfg.labels)
    if cfg.calibrate_on is not None and cfg.calibrate_on not in names:
        raise BadInputError(f"--calibrate-on '{cfg.calibrate_on}' is not an input set; sets: "
                            f"{', '.join(names)}")
    monitors, pool = load_monitors(cfg.monitors, cfg.cache, cfg.seed)
    config = {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(cfg).items()
              if k in ("inputs", "monitors", "seed", "batch_size", "cache", "out")}
    if cfg.label_from:  # labels are stored with the judged transcripts: a resume keeps them
        config["label_from"] = cfg.label_from
    run = Run.open(cfg.out, "monitor", config, seeds={"seed": cfg.seed})
    run.set_models({spec: m.info() for spec, m in pool.items()})
    several = len(names) > 1

    def key(t: Transcript) -> tuple[str, str]:  # ids are unique per input file
        return (str(t.extra.get("set")) if several else "", t.id)

    with run.working():
        done = {key(t) for t in run.transcripts()}
        todo = [t for _, t in rows if key(t) not in done]
        starts = range(0, len(todo), cfg.batch_size)
        for start in tqdm(starts, disable=not progress, desc="monitor", unit="batch"):
            batch = todo[start:start + cfg.batch_size]
            apply_monitors(monitors, batch)
            for t in batch:
                run.append(t)
        judged = {key(t): t for t in run.transcripts()}
        current = [(s, judged[key(t)]) for s, t in rows]
        run.info["benchmark"] = {k: getattr(cfg, k) for k in
                                 ("labels", "target_fpr", "calibrate_on", "n_boot")}
        run.write_metrics(benchmark_metrics(current, monitors, cfg))
    from faithline.report import write_report

    write_report([run.path])
    return run


# ----- metrics ---------------------------------------------------------------------------------
def _groups(rows: Sequence[tuple[str, Transcript]]) -> dict[str, list[int]]:
    groups: dict[str, list[int]] = {ALL: list(range(len(rows)))}
    sets = list(dict.fromkeys(s for s, _ in rows))
    if len(sets) > 1:
        for s in sets:
            groups[s] = [i for i, (name, _) in enumerate(rows) if name == s]
    return groups


def _finite(x: float) -> float | None:
    return float(x) if math.isfinite(x) else None


def benchmark_metrics(rows: Sequence[tuple[str, Transcript]], monitors: Sequence[Monitor],
                      cfg: MonitorConfig) -> dict[str, Any]:
    """metrics.json: per monitor and input set, the metrics; a markdown table; ROC curves."""
    ts = [t for _, t in rows]
    groups = _groups(rows)
    labels = labels_of(ts, cfg.labels) if cfg.labels else None
    out: dict[str, Any] = {"transcripts": len(ts),
                           "sets": {g: len(ix) for g, ix in groups.items() if g != ALL}}
    if labels is not None:
        out.update(labels=cfg.labels, positives=int(labels.sum()))
    per: dict[str, Any] = {}
    curves: dict[str, Any] = {}
    for m in monitors:
        verdicts = [Verdict.from_dict((t.monitor or {}).get(m.name), m.name) for t in ts]
        scores, flags, failed = arrays(verdicts)
        cal_t = None
        if labels is not None and cfg.target_fpr is not None:
            ix = groups.get(cfg.calibrate_on or ALL, groups[ALL])
            cal_t = threshold_for_fpr(scores[ix], labels[ix], cfg.target_fpr)
        per[m.name] = {}
        for g, ix in groups.items():
            entry: dict[str, Any] = {"n": len(ix), "threshold": m.threshold,
                                     "failed": int(failed[ix].sum())}
            if labels is None:
                entry["flag_rate"] = rate(flags[ix], cfg.n_boot, cfg.seed)
            else:
                entry["positives"] = int(labels[ix].sum())
                entry.update(binary_metrics(scores[ix], flags[ix], labels[ix], cfg.n_boot,
                                            cfg.seed))
                if cal_t is not None:
                    cal_flags = failed[ix] | (scores[ix] >= cal_t)
                    entry["calibrated"] = {
                        "target_fpr": cfg.target_fpr, "threshold": _finite(cal_t),
                        "calibrated_on": cfg.calibrate_on or ALL,
                        **binary_metrics(scores[ix], cal_flags, labels[ix], cfg.n_boot,
                                         cfg.seed)}
                title = f"ROC {m.name}" + (f" · {g}" if len(groups) > 1 else "")
                curves[title] = roc_curve(scores[ix], labels[ix])
            per[m.name][g] = entry
    out["monitors"] = per
    out["table"] = table(per, cfg)
    if curves:
        out["curves"] = curves
    return out


def _cell(ci: Any) -> str:
    if not isinstance(ci, dict) or not np.isfinite(ci.get("value", np.nan)):
        return "—"
    lo, hi = ci.get("ci_low", np.nan), ci.get("ci_high", np.nan)
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return f"{ci['value']:.2f}"
    return f"{ci['value']:.2f} [{lo:.2f}, {hi:.2f}]"


def _md_name(name: str) -> str:
    """A monitor name for a markdown cell: '|' would end the cell, so it shows as '¦'."""
    return f"`{name.replace('|', '¦')}`"


def _threshold(t: Any) -> str:
    return "∞" if t is None else f"{t:.3g}"


def table(per: dict[str, Any], cfg: MonitorConfig) -> str:
    """The markdown table printed by the CLI and shown in the report."""
    if not cfg.labels:
        lines = ["**Monitor flags (no labels: flag rates with 95% bootstrap CIs)**", "",
                 "| monitor | set | n | threshold | failed | flagged |",
                 "|---|---|---|---|---|---|"]
        for name, groups in per.items():
            for g, e in groups.items():
                lines.append(f"| {_md_name(name)} | {g} | {e['n']} | "
                             f"{_threshold(e['threshold'])} | {e['failed']} | "
                             f"{_cell(e['flag_rate'])} |")
        return "\n".join(lines)
    lines = [f"**Monitor benchmark against label `{cfg.labels}`**", "",
             "95% bootstrap CIs over transcripts; failed verdicts count as flags.", "",
             "| monitor | set | n | positives | threshold | failed | recall | precision | FPR "
             "| g-mean² | AUROC |", "|---|---|---|---|---|---|---|---|---|---|---|"]
    for name, groups in per.items():
        for g, e in groups.items():
            rows = [(_threshold(e["threshold"]), e)]
            if "calibrated" in e:
                c = e["calibrated"]
                rows.append((f"{_threshold(c['threshold'])} (FPR ≤ {c['target_fpr']:g} on "
                             f"{c['calibrated_on']})", {**e, **c}))
            for thr, r in rows:
                cells = " | ".join(_cell(r[k]) for k in METRICS)
                lines.append(f"| {_md_name(name)} | {g} | {e['n']} | {e['positives']} | "
                             f"{thr} | {e['failed']} | {cells} |")
    return "\n".join(lines)
