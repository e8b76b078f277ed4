"""The policy's reward terms, each a TRL reward function logged by name (``rewards/<name>``).

- ``task``: the task's grader on the answer (``LeakTask.grade``: it trusts a leak), or a user's
  own reward in TRL's signature, loaded by ``--reward module:function`` (in the Face arms it
  rewards the Face's answer too, called with the Face's answer texts as ``completions``);
- ``monitor``: minus ``1 - exp(-k s)`` for the pressure monitor's verdict score ``s`` (any
  ``faithline monitor`` spec; a failed verdict counts as ``s = 1``: monitors fail closed). Its
  weight is the arm's: ``--penalty`` where the penalty lands on the CoT, else 0 (it is still
  computed, so every arm logs the same monitor);
- ``legibility``: ``faithline.legibility.reward.LegibilityReward`` (extra term of an arm).

Rows whose rollout failed closed (a paraphrase that failed) get ``None`` from every term, which
TRL treats as unscorable: no advantage, no update from them.

The rollout function passes per-completion columns to these functions: ``sample_id``, ``cot``,
``answer`` (the extracted answer: the Face's in the Face arms) and ``answer_text``.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from faithline.errors import BadInputError
from faithline.monitors.base import Monitor, Verdict
from faithline.tasks.leak import LeakTask
from faithline.types import Sample, Transcript

RewardFn = Callable[..., list[float | None]]


class TaskReward:
    """The task's grader as a TRL reward function."""

    __name__ = "task"

    def __init__(self, task: LeakTask, samples: Mapping[str, Sample]) -> None:
        self.task, self.samples = task, samples

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 sample_id: Sequence[str], answer: Sequence[str | None],
                 scorable: Sequence[bool] | None = None, **_: Any) -> list[float | None]:
        ok = scorable if scorable is not None else [True] * len(answer)
        return [self.task.grade(a, self.samples[i]) if k else None
                for i, a, k in zip(sample_id, answer, ok, strict=True)]


def load_function(spec: str, what: str = "reward") -> Callable[..., Any]:
    """``module:function`` (the module importable from the current directory or sys.path)."""
    module, colon, name = spec.partition(":")
    if not colon or not module or not name:
        raise BadInputError(f"--{what} '{spec}' must look like module:function")
    import sys

    if "" not in sys.path:
        sys.path.insert(0, "")
    try:
        fn = getattr(importlib.import_module(module), name)
    except (ImportError, AttributeError) as e:
        raise BadInputError(f"--{what} '{spec}': {e}") from None
    if not callable(fn):
        raise BadInputError(f"--{what} '{spec}' is not callable")
    return fn


class UserReward:
    """A user's TRL reward function (``fn(prompts, completions, **columns)``), unscorable rows
    kept unscorable."""

    def __init__(self, fn: Callable[..., Sequence[float | None]], spec: str) -> None:
        self.fn, self.spec = fn, spec
        self.__name__ = getattr(fn, "__name__", "reward")

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any],
                 **columns: Any) -> list[float | None]:
        # Per-step rows (pipeline/steps.py) hold a part of the CoT each: the user's function
        # reads the whole of what the Shoggoth wrote
        completions = columns.pop("rollout_completion", None) or completions
        out = list(self.fn(prompts=prompts, completions=completions, **columns))
        if len(out) != len(completions):
            raise BadInputError(f"--reward {self.spec} returned {len(out)} rewards for "
                                f"{len(completions)} completions")
        ok = columns.get("scorable") or [True] * len(out)
        return [None if not k or r is None else float(r) for r, k in zip(out, ok, strict=True)]


class MonitorPenalty:
    """Minus ``1 - exp(-k * score)`` of a ``Monitor``'s verdict on each (CoT, answer)."""

    __name__ = "monitor"

    def __init__(self, monitor: Monitor, k: float = 2.0) -> None:
        self.monitor, self.k = monitor, k
        self._key: tuple[Any, ...] | None = None
        self._keys: list[Any] = []
        self.last: list[Verdict] = []

    def verdicts(self, transcripts: Sequence[Transcript]) -> list[Verdict]:
        """The monitor's verdicts; the last batch is kept, so the rollout (for the Face's
        reward) and TRL (for the policy's) share one call, and a rollout repeated over rows
        (per-step placement: one row per step) is judged once."""
        keys = [(t.prompt, t.cot, t.answer) for t in transcripts]
        if tuple(keys) == self._key:
            return self.last
        known = dict(zip(self._keys, self.last, strict=True))
        todo = {k: t for k, t in zip(keys, transcripts, strict=True) if k not in known}
        if todo:
            known.update(zip(todo, self.monitor(list(todo.values())), strict=True))
        self.last, self._key = [known[k] for k in keys], tuple(keys)
        self._keys = keys
        return self.last

    def penalty(self, v: Verdict) -> float:
        score = 1.0 if v.failed or v.score is None else min(max(v.score, 0.0), 1.0)
        return 1.0 - math.exp(-self.k * score)

    def __call__(self, prompts: Sequence[Any], completions: Sequence[Any], cot: Sequence[str],
                 answer: Sequence[str | None], monitor_prompt: Sequence[str],
                 scorable: Sequence[bool] | None = None, **_: Any) -> list[float | None]:
        ts = [Transcript(id=str(i), prompt=p, cot=c, answer=a or "")
              for i, (p, c, a) in enumerate(zip(monitor_prompt, cot, answer, strict=True))]
        ok = scorable if scorable is not None else [True] * len(ts)
        return [-self.penalty(v) if k else None
                for v, k in zip(self.verdicts(ts), ok, strict=True)]
