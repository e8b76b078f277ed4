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
    domain: dict[str, Any] | None = None  # a trained monitor's in/out-of-domain check, if any

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
        if self.domain is not None:
            d["domain"] = self.domain
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
        domain = d.get("domain") if isinstance(d.get("domain"), dict) else None
        return cls(score=float(score), flag=flag, reason=str(d.get("reason", "")), domain=domain)


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


def not_monitorable(t: Transcript) -> str | None:
    """Why ``t``'s CoT cannot be read (``meta.monitorable`` false: redacted or absent reasoning
    in an Inspect log), or None."""
    if t.meta.get("monitorable") is False:
        return str(t.meta.get("monitorable_reason") or "reasoning not available")
    return None


def _judge_monitorable(m: Monitor, transcripts: Sequence[Transcript],
                       progress: bool) -> list[Verdict]:
    """``m``'s verdicts; a transcript whose CoT cannot be read gets a failed verdict (fail
    closed) from every monitor that reads the CoT, and is not shown to it."""
    hidden = {} if getattr(m, "view", "cot") == "answer" else {
        i: why for i, t in enumerate(transcripts) if (why := not_monitorable(t))}
    readable = [t for i, t in enumerate(transcripts) if i not in hidden]
    judged = iter(m(readable, progress=progress) if readable else [])
    verdicts = [Verdict.fail(f"not monitorable: {hidden[i]}") if i in hidden else
                next(judged, None) for i in range(len(transcripts))]
    if any(v is None for v in verdicts) or next(judged, None) is not None:
        raise RuntimeError(f"monitor {m.name} returned a wrong number of verdicts for "
                           f"{len(readable)} transcripts")
    return [v for v in verdicts if v is not None]


def apply_monitors(monitors: Sequence[Monitor], transcripts: Sequence[Transcript],
                   progress: bool = False) -> list[list[Verdict]]:
    """Run each monitor and store its verdicts in ``t.monitor[monitor.name]`` (in place).
    A transcript marked not monitorable gets a failed verdict from every CoT-reading monitor.

    Returns the verdicts, one list per monitor.
    """
    results = []
    for m in monitors:
        verdicts = _judge_monitorable(m, transcripts, progress)
        for t, v in zip(transcripts, verdicts, strict=True):
            t.monitor = {**(t.monitor or {}), m.name: v.to_dict()}
        results.append(verdicts)
    return results
