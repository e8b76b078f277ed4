"""The ``Monitor`` interface and its ``Verdict``: transcripts in, one verdict per transcript out.

A monitor is a plain callable with a fixed signature, ``monitor(transcripts, progress=False) ->
list[Verdict]``, plus a ``name`` (the key its verdicts get in ``Transcript.monitor``) and a
``threshold`` (a transcript is flagged when its score reaches it; calibration moves it).

Monitors fail closed. A verdict the monitor could not reach (a judge's unparseable answer, a
paraphrase that failed, a stored verdict that is missing) is a *failed* verdict: ``failed`` is
true, ``error`` says why, ``score`` is None and ``flag`` is **true**, so a caller that only
reads ``flag`` treats it as an alarm for a human to look at, never as "not flagged". Benchmark
metrics count failed verdicts as flags too, and report how many there were.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

from faithline.errors import BadInputError
from faithline.types import Transcript

VIEWS = ("cot", "answer")


@dataclass(frozen=True)
class Verdict:
    """One monitor's judgement of one transcript.

    ``score`` in [0, 1] (higher = more suspicious), ``flag`` = score >= the monitor's threshold,
    ``reason`` in words (what matched, the judge's P(yes), ...). A failed verdict has
    ``failed=True``, ``error`` set, ``score=None`` and ``flag=True`` (fail closed).
    """

    score: float | None
    flag: bool
    reason: str = ""
    failed: bool = False
    error: str | None = None

    @classmethod
    def of(cls, score: float, threshold: float, reason: str = "") -> Verdict:
        return cls(score=float(score), flag=bool(score >= threshold), reason=reason)

    @classmethod
    def fail(cls, error: str) -> Verdict:
        return cls(score=None, flag=True, reason=f"failed: {error}", failed=True, error=error)

    def to_dict(self) -> dict[str, Any]:
        """The ``monitor`` entry of the Transcript JSONL contract (+ ``failed``/``error``)."""
        d: dict[str, Any] = {"score": self.score, "flag": self.flag, "reason": self.reason}
        if self.failed:
            d.update(failed=True, error=self.error)
        return d

    @classmethod
    def from_dict(cls, d: Any, where: str = "verdict") -> Verdict:
        """Read a stored verdict back; a malformed one is a failed verdict, not an exception."""
        if not isinstance(d, dict):
            return cls.fail(f"{where}: not an object")
        if d.get("failed"):
            return cls.fail(str(d.get("error") or "failed"))
        score, flag = d.get("score"), d.get("flag")
        if isinstance(score, bool) or not isinstance(score, (int, float)) \
                or not isinstance(flag, bool):
            return cls.fail(f"{where}: needs a numeric score and a boolean flag")
        return cls(score=float(score), flag=flag, reason=str(d.get("reason", "")))


@runtime_checkable
class Monitor(Protocol):
    """Transcripts in, one ``Verdict`` per transcript out, in order."""

    threshold: float

    @property
    def name(self) -> str: ...

    def __call__(self, transcripts: Sequence[Transcript],
                 progress: bool = False) -> list[Verdict]: ...


def check_view(view: str) -> str:
    if view not in VIEWS:
        raise BadInputError(f"monitor view must be one of {', '.join(VIEWS)}; got '{view}'")
    return view


def view_text(t: Transcript, view: str) -> str:
    """What a monitor with ``view`` reads of ``t``: the CoT and the answer (``cot``) or only the
    answer (``answer``, the action-only monitor of Baker et al. 2025)."""
    if view == "answer":
        return f"Answer: {t.answer}"
    return f"{t.cot}\nAnswer: {t.answer}"


def apply_monitors(monitors: Sequence[Monitor], transcripts: Sequence[Transcript],
                   progress: bool = False) -> list[list[Verdict]]:
    """Run each monitor and store its verdicts in ``t.monitor[monitor.name]`` (in place).

    Returns the verdicts, one list per monitor.
    """
    results = []
    for m in monitors:
        verdicts = m(transcripts, progress=progress)
        if len(verdicts) != len(transcripts):
            raise RuntimeError(f"monitor {m.name} returned {len(verdicts)} verdicts for "
                               f"{len(transcripts)} transcripts")
        for t, v in zip(transcripts, verdicts, strict=True):
            t.monitor = {**(t.monitor or {}), m.name: v.to_dict()}
        results.append(verdicts)
    return results
