"""Drive a pipeline over samples into a run directory: resumable, incremental, with progress.

Samples whose id already has a transcript are skipped; the rest are processed in batches and
each batch's transcripts are appended as soon as it finishes, so a kill loses at most the batch
in flight. Failures (a paraphrase that failed closed) are recorded in ``failures.jsonl``.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from typing import Any

from tqdm import tqdm

from faithline.pipeline.pipelines import BasePipeline, SampleFailure
from faithline.runs import Run
from faithline.stats import bootstrap_ci
from faithline.types import Sample, Transcript


def execute(run: Run, pipeline: BasePipeline, samples: Sequence[Sample], batch_size: int = 8,
            progress: bool = True) -> dict[str, int]:
    """Run ``pipeline`` on the samples of ``run`` not yet done. Returns counts for this call.

    Call it inside ``with run.working():``, which keeps the run's status.
    """
    done = run.done_ids()
    todo = [s for s in samples if s.id not in done]
    counts = {"skipped": len(samples) - len(todo), "written": 0, "failed": 0}
    bar = tqdm(total=len(samples), initial=counts["skipped"], desc=f"{pipeline.name}",
               unit="sample", disable=not progress, dynamic_ncols=True)
    try:
        for start in range(0, len(todo), batch_size):
            batch = todo[start : start + batch_size]
            for outcome in pipeline.run(batch):
                if isinstance(outcome, SampleFailure):
                    run.record_failure(outcome.id, outcome.stage, outcome.kind, outcome.error,
                                       **outcome.detail)
                    counts["failed"] += 1
                else:
                    run.append(outcome)
                    counts["written"] += 1
            bar.update(len(batch))
    finally:
        bar.close()
    return counts


def summarize(transcripts: Sequence[Transcript], failures: Sequence[dict[str, Any]],
              samples_total: int) -> dict[str, Any]:
    """Run-level metrics: accuracy and answer-parse rate with bootstrap CIs, CoT length.

    ``accuracy`` counts a sample that failed closed as wrong (so failures cannot flatter a
    pipeline); ``accuracy_completed`` is over the completed transcripts only.
    """
    correct = [float(bool(t.correct)) for t in transcripts if t.correct is not None]
    parsed = [float(t.answer != "") for t in transcripts]
    metrics: dict[str, Any] = {
        "samples": samples_total,
        "transcripts": len(transcripts),
        "failed": len(failures),
        "failures_by_kind": dict(Counter(str(f.get("kind")) for f in failures)),
        "accuracy": bootstrap_ci(correct + [0.0] * len(failures)),
        "accuracy_completed": bootstrap_ci(correct),
        "answer_parsed": bootstrap_ci(parsed),
        "cot_chars_mean": (sum(len(t.cot) for t in transcripts) / len(transcripts)
                           if transcripts else 0.0),
        "answer_forced": sum(bool(t.meta.get("answer_forced")) for t in transcripts),
    }
    cue = [t for t in transcripts if t.meta.get("sample", {}).get("cue_answer")]
    if cue:
        follows = [float(t.answer == t.meta["sample"]["cue_answer"]) for t in cue]
        metrics["cue_followed"] = bootstrap_ci(follows)
    return metrics
