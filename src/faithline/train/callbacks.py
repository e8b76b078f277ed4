"""TRL ``TrainerCallback``s of a training run: the step log, monitorability, the Face's save.

``MonitorabilityCallback`` works with any ``GRPOTrainer``: every ``every`` steps it takes the
step's rollouts as transcripts (with their exact labels where the task has them), runs the
chosen monitors (any ``faithline.monitors`` spec) and, optionally, the legibility metrics of
``faithline.legibility`` against a frozen reference, and logs the results where TRL logs
(TensorBoard, W&B, the console) under ``monitor/...`` and ``legibility/...``::

    cb = MonitorabilityCallback(lambda: my_rollout_transcripts, ["rule:leak"], every=10)
    trainer = GRPOTrainer(..., callbacks=[cb])

``StepLog`` writes one row per step to the run's ``steps.jsonl`` (the arm's metrics, TRL's
per-reward means, wall time) and adds the metrics to TRL's logs; ``SaveFace`` stores the Face's
weights and optimiser in each TRL checkpoint.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

from transformers import TrainerCallback

from faithline.io import append_line
from faithline.monitors.metrics import arrays, binary_metrics
from faithline.types import Transcript


def monitor_stats(monitor: Any, transcripts: Sequence[Transcript],
                  label: str = "hack") -> dict[str, float]:
    """Flag rate and failed share, and recall / FPR against ``label`` where the transcripts
    carry it (``faithline.monitors.metrics``)."""
    verdicts = monitor(transcripts)
    scores, flags, failed = arrays(verdicts)
    n = max(1, len(verdicts))
    out = {"flag_rate": float(flags.sum()) / n, "failed": float(failed.sum()) / n}
    keep = [i for i, t in enumerate(transcripts) if label in (t.label or {})]
    if keep:
        labels = [bool((transcripts[i].label or {})[label]) for i in keep]
        m = binary_metrics(scores[keep], flags[keep], labels, n_boot=0)
        out.update({k: m[k]["value"] for k in ("recall", "fpr") if m[k]["n"]})
    return out


class MonitorabilityCallback(TrainerCallback):
    """Runs monitors (and legibility metrics) on rollouts every ``every`` steps."""

    def __init__(self, source: Callable[[], Sequence[Transcript]], monitors: Sequence[str],
                 every: int = 10, label: str = "hack",
                 legibility: Callable[[Sequence[Transcript]], dict[str, float]] | None = None,
                 sink: Callable[[dict[str, float]], None] | None = None) -> None:
        from faithline.monitors import get_monitor

        self.source, self.every, self.label = source, max(1, every), label
        self.monitors = [get_monitor(spec) for spec in monitors]
        self.legibility = legibility
        self.sink = sink
        self.pending: dict[str, float] = {}

    def compute(self, transcripts: Sequence[Transcript]) -> dict[str, float]:
        out: dict[str, float] = {}
        for m in self.monitors:
            for key, value in monitor_stats(m, transcripts, self.label).items():
                out[f"monitor/{m.name}/{key}"] = value
        if self.legibility is not None:
            for key, value in self.legibility(transcripts).items():
                out[f"legibility/{key}"] = value
        return out

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        if state.global_step % self.every:
            return
        transcripts = list(self.source())
        if not transcripts:
            return
        self.pending = self.compute(transcripts)
        if self.sink is not None:
            self.sink(self.pending)

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if logs is not None and self.pending:
            logs.update(self.pending)
            self.pending = {}


class StepLog(TrainerCallback):
    """One ``steps.jsonl`` row per step: ``metrics()`` of the step, TRL's per-reward means
    (``reward/<name>``), ``step_seconds``; the metrics also go to TRL's logs as ``arm/...``."""

    def __init__(self, metrics: Callable[[], dict[str, float]], path: Path) -> None:
        self.metrics, self.path = metrics, path
        self.pending: dict[str, float] = {}
        self.t = time.perf_counter()
        self.written = -1

    def on_step_end(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        now = time.perf_counter()
        self.pending.update(self.metrics(), step_seconds=now - self.t)
        self.t = now

    def on_log(self, args: Any, state: Any, control: Any, logs: Any = None, **kw: Any) -> None:
        if logs is None or not self.pending or state.global_step == self.written:
            return
        rewards = {f"reward/{k.split('/')[1]}": v for k, v in logs.items()
                   if k.startswith("rewards/") and k.endswith("/mean")}
        row = {"step": state.global_step, **self.pending, **rewards}
        if "reward/legibility" in rewards:
            row["legibility_reward"] = rewards["reward/legibility"]
        append_line(self.path, json.dumps(row))
        logs.update({f"arm/{k}": v for k, v in self.pending.items()})
        self.pending, self.written = {}, state.global_step


class SaveFace(TrainerCallback):
    """Saves the Face (weights and optimiser) into each TRL checkpoint, so a resumed run
    continues the Face where it stopped."""

    def __init__(self, face: Callable[[], Any]) -> None:
        self.face = face

    def on_save(self, args: Any, state: Any, control: Any, **kw: Any) -> None:
        import torch

        face = self.face()
        if face is None:
            return
        target = Path(args.output_dir) / f"checkpoint-{state.global_step}" / "face"
        face.model.save_pretrained(target)
        tmp = target / "optimizer.pt.tmp"
        torch.save(face.opt.state_dict(), tmp)
        tmp.replace(target / "optimizer.pt")  # last, and whole: it marks the checkpoint done
