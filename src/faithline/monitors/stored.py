"""A monitor that reads verdicts already in the transcripts: ``stored:NAME``.

Benchmarks a monitor that ran elsewhere (during training, in another tool) on the same footing
as the others: ``t.monitor[NAME]`` is read back as a verdict; a missing or malformed one is a
failed verdict.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from faithline.errors import BadInputError
from faithline.monitors.base import Verdict
from faithline.types import Transcript


@dataclass
class StoredMonitor:
    """The verdicts stored under ``t.monitor[key]``."""

    key: str
    threshold: float = 0.5

    def __post_init__(self) -> None:
        if not self.key:
            raise BadInputError("monitor spec 'stored:' needs the name of a stored monitor")

    @property
    def name(self) -> str:
        return f"stored:{self.key}"

    def __call__(self, transcripts: Sequence[Transcript],
                 progress: bool = False) -> list[Verdict]:
        out = []
        for t in transcripts:
            d = (t.monitor or {}).get(self.key)
            out.append(Verdict.fail(f"no stored verdict '{self.key}'") if d is None
                       else Verdict.from_dict(d, f"stored verdict '{self.key}'"))
        return out
