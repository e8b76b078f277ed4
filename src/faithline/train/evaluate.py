"""The final evaluation of a trained arm: a labelled set through the same pipelines as
``faithline generate`` (single model, or Shoggoth -> Paraphraser -> Face), with the same
monitors, written as contract transcripts by the same resumable runner.

Each transcript carries the task's exact ``label``s (hack, verbalized, leaked), the verdicts of
the pressure monitor and of every logged monitor, and in ``meta`` the arm, the seed, the leak,
the grader's verdict and chain integrity. Paraphrases that failed closed are the run's failures
(``failures.jsonl``), never transcripts with an unparaphrased CoT.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import replace

from faithline.models.hf import HFModel
from faithline.monitors.base import Monitor, apply_monitors
from faithline.pipeline.paraphrase_llm import Paraphraser
from faithline.pipeline.pipelines import (
    BasePipeline,
    Outcome,
    Settings,
    ShoggothFacePipeline,
    SinglePipeline,
)
from faithline.pipeline.runner import execute
from faithline.runs import Run
from faithline.tasks.leak import LeakTask
from faithline.types import Sample, Transcript


class LabelledPipeline(BasePipeline):
    """An inner pipeline's transcripts with the arm's ``meta`` and the monitors' verdicts."""

    def __init__(self, inner: BasePipeline, task: LeakTask, monitors: Sequence[Monitor],
                 meta: dict[str, object]) -> None:
        super().__init__(task, inner.settings)
        self.inner, self.leak_task, self.monitors, self.meta = inner, task, monitors, meta
        self.name = inner.name

    def run(self, samples: Sequence[Sample]) -> list[Outcome]:
        out = self.inner.run(samples)
        by_id = {s.id: s for s in samples}
        done = [o for o in out if isinstance(o, Transcript)]
        for t in done:
            s = by_id[t.id]
            t.meta.update(self.meta, **self.leak_task.outcome(s, t.cot, t.answer or None))
        apply_monitors(self.monitors, done)
        return out


def evaluation_set(task: LeakTask, n: int, seed: int, prefix: str) -> list[Sample]:
    """The labelled set (half wrong-leak, half unleaked; no leaks at all when the run trains
    without them, ``leak_prob`` 0), ids prefixed with the run's arm and seed so pooled runs
    never share an id."""
    base = task.labelled_set(n, seed=10_000 + seed) if task.leak_prob else \
        [task.with_leak(s, None) for s in task.base.samples(n, seed=10_000 + seed)]
    return [replace(s, id=f"{prefix}-{i}") for i, s in enumerate(base)]


def evaluate(run: Run, task: LeakTask, samples: Sequence[Sample], policy: HFModel,
             face: HFModel | None, paraphraser: Paraphraser | None,
             monitors: Sequence[Monitor], settings: Settings, meta: dict[str, object],
             progress: bool = False, max_steps: int = 0) -> dict[str, int]:
    """``max_steps`` > 0: the paraphraser rewrites each step before the Shoggoth writes the
    next (pipeline/steps.py), as the arm trained."""
    inner: BasePipeline = SinglePipeline(policy, task, settings) if face is None else \
        ShoggothFacePipeline(policy, face, paraphraser, task, settings, max_steps=max_steps)
    pipeline = LabelledPipeline(inner, task, monitors, meta)
    return execute(run, pipeline, samples, batch_size=64, progress=progress)
