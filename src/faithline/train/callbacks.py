"""Training-time monitorability: a TRL ``TrainerCallback`` that reads the policy's CoTs.

Every ``every`` steps it turns the step's rollouts into transcripts (with their exact labels when
the environment has them), runs the chosen monitors (any ``faithline.monitors`` spec: rules, an
LLM judge, a trained classifier, ensembles) and, optionally, the legibility metrics of
``faithline.legibility`` against a frozen reference model, and logs the results where TRL logs
(``logs`` of ``on_log``: TensorBoard, W&B, the console) under ``monitor/...`` and
``legibility/...``. It works with any ``GRPOTrainer``; the source of rollouts is a callable.

    cb = MonitorabilityCallback(lambda: my_rollout_transcripts, ["rule:leak"], every=10)
    trainer = GRPOTrainer(..., callbacks=[cb])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from transformers import TrainerCallback

from faithline.types import Transcript


def monitor_stats(monitor: Any, transcripts: Sequence[Transcript],
                  label: str = "hack") -> dict[str, float]:
    """Flag rate, and recall / FPR against ``label`` where the transcripts carry it."""
    verdicts = monitor(transcripts)
    flags = [bool(v.flag) for v in verdicts]
    out = {"flag_rate": sum(flags) / max(1, len(flags)),
           "failed": sum(bool(v.failed) for v in verdicts) / max(1, len(verdicts))}
    labelled = [(f, bool((t.label or {})[label])) for f, t in zip(flags, transcripts, strict=True)
                if label in (t.label or {})]
    pos = [f for f, y in labelled if y]
    neg = [f for f, y in labelled if not y]
    if pos:
        out["recall"] = sum(pos) / len(pos)
    if neg:
        out["fpr"] = sum(neg) / len(neg)
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
