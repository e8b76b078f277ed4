"""Ensembles of monitors: ``ensemble:any|mean|vote:A|B|...``.

- ``any``: flagged when any member flags; score = the highest member score.
- ``mean``: score = the mean member score; flagged at ``threshold`` (0.5).
- ``vote``: score = the share of members that flag; flagged when at least half do.

A member's failed verdict fails the ensemble's verdict for that transcript (fail closed).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from faithline.errors import BadInputError
from faithline.monitors.base import Monitor, Verdict
from faithline.types import Transcript

MODES = ("any", "mean", "vote")


@dataclass
class EnsembleMonitor:
    """Combines the verdicts of ``members`` per transcript (see the module docstring)."""

    mode: str
    members: list[Monitor]
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if self.mode not in MODES:
            raise BadInputError(f"ensemble mode must be one of {', '.join(MODES)}; got "
                                f"'{self.mode}'")
        if len(self.members) < 2:
            raise BadInputError("an ensemble needs at least two members (A|B)")

    @property
    def name(self) -> str:
        return f"ensemble:{self.mode}:" + "|".join(m.name for m in self.members)

    def __call__(self, transcripts: Sequence[Transcript],
                 progress: bool = False) -> list[Verdict]:
        per_member = [m(transcripts, progress=progress) for m in self.members]
        return [self.combine(list(vs)) for vs in zip(*per_member, strict=True)] \
            if transcripts else []

    def combine(self, verdicts: list[Verdict]) -> Verdict:
        failed = [(m.name, v) for m, v in zip(self.members, verdicts, strict=True) if v.failed]
        if failed:
            return Verdict.fail("; ".join(f"{name}: {v.error}" for name, v in failed))
        scores = [float(v.score or 0.0) for v in verdicts]
        flags = [v.flag for v in verdicts]
        reason = ", ".join(f"{m.name}={s:.2f}{'⚑' if f else ''}"
                           for m, s, f in zip(self.members, scores, flags, strict=True))
        if self.mode == "any":
            return Verdict(score=max(scores), flag=any(flags), reason=reason)
        if self.mode == "vote":
            return Verdict.of(sum(flags) / len(flags), self.threshold, reason)
        return Verdict.of(sum(scores) / len(scores), self.threshold, reason)
