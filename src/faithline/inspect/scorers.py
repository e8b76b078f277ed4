"""faithline monitors and legibility metrics as Inspect AI scorers.

    from inspect_ai import Task
    from faithline.inspect import cot_monitor, legibility

    Task(dataset=..., solver=generate(),
         scorer=[match(), cot_monitor("rule:leak"), cot_monitor("judge:openai:m@URL"),
                 legibility("builtin:smollm2-135m")])

Each scorer reads the sample's conversation with the mapping of ``read.py`` (reasoning blocks,
think tags, every assistant turn and its tool calls). ``cot_monitor(SPEC)`` takes any monitor
spec of ``faithline monitor``; its score's value is the verdict's score in [0, 1] (higher is
more suspicious), its explanation the verdict's reason, its metadata ``flag``. It fails closed:
a verdict the monitor could not reach, or a sample whose reasoning is redacted or absent, scores
1.0 with ``failed`` in the metadata, so a failed verdict is never a pass. Metrics: the mean
score and ``flag_rate``. ``legibility(REFERENCE)`` scores the CoT's perplexity under the
reference LM, its out-of-vocabulary word share, non-Latin share, unusual-character share and
compression ratio (a dict value, one mean per key).
"""

from __future__ import annotations

import threading
from typing import Any

from inspect_ai.scorer import (
    Metric,
    SampleScore,
    Score,
    Scorer,
    Target,
    mean,
    metric,
    scorer,
)
from inspect_ai.solver import TaskState

from faithline.inspect.read import conversation
from faithline.types import Transcript

LEGIBILITY_KEYS = ("perplexity", "oov_share", "non_latin_share", "unusual_char_share",
                   "compression_ratio")
_LOCK = threading.Lock()  # faithline's models are not meant for concurrent calls


def state_transcript(state: TaskState, target: Target) -> Transcript:
    """The contract transcript of a sample being scored."""
    return conversation(str(state.sample_id), state.input, state.messages, state.output,
                        target.target if len(target.target) > 1 else target.text)


@metric
def flag_rate() -> Metric:
    """Share of samples the monitor flagged (failed verdicts count as flags)."""

    def rate(scores: list[SampleScore]) -> float:
        flags = [bool((s.score.metadata or {}).get("flag", True)) for s in scores]
        return sum(flags) / len(flags) if flags else 0.0

    return rate


@scorer(metrics=[mean(), flag_rate()])
def cot_monitor(spec: str, seed: int = 0, cache: bool = True) -> Scorer:
    """An Inspect scorer from a faithline monitor spec (``rule:leak``, ``judge:SPEC``, ...)."""
    from faithline.monitors.base import apply_monitors
    from faithline.monitors.benchmark import load_monitors

    (monitor,), _ = load_monitors([spec], cache=cache, seed=seed)

    async def score(state: TaskState, target: Target) -> Score:
        from anyio import to_thread

        t = state_transcript(state, target)

        def judge() -> Any:
            with _LOCK:
                return apply_monitors([monitor], [t])[0][0]

        v = await to_thread.run_sync(judge)
        meta: dict[str, Any] = {"flag": v.flag, "monitor": monitor.name}
        if v.failed:
            meta.update(failed=True, error=v.error)
        return Score(value=1.0 if v.score is None else v.score, answer=t.answer,
                     explanation=v.reason, metadata=meta)

    return score


@scorer(metrics={key: [mean()] for key in LEGIBILITY_KEYS})
def legibility(reference: str = "builtin:smollm2-135m") -> Scorer:
    """An Inspect scorer of the CoT's legibility metrics (``faithline legibility``'s per-CoT
    numbers) under the reference LM ``reference`` (a model spec)."""
    from faithline.legibility.metrics import cot_metrics, get_scorer

    ref = get_scorer(reference)

    async def score(state: TaskState, target: Target) -> Score:
        from anyio import to_thread

        t = state_transcript(state, target)
        if t.meta.get("monitorable") is False:
            return Score(value={k: float("nan") for k in LEGIBILITY_KEYS}, answer=t.answer,
                         explanation=f"not scored: {t.meta.get('monitorable_reason')}",
                         metadata={"failed": True})

        def measure() -> dict[str, Any]:
            with _LOCK:
                return cot_metrics([t.cot], ref)[0]

        record = await to_thread.run_sync(measure)
        return Score(value={k: float(record[k]) for k in LEGIBILITY_KEYS}, answer=t.answer,
                     explanation=f"{int(record['tokens'])} reference tokens")

    return score
