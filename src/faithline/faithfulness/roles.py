"""The helper roles a faithfulness ``Context`` holds, as protocols: the mistake ``Editor`` (adding
mistakes) and the verbalisation ``Judge`` (cue tests). Implementations live with their tests
(``mistakes.py``, ``judges.py``); any object with these methods plugs in.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from faithline.types import Sample


class Editor(Protocol):
    """``edit(steps, samples)`` -> each step rewritten with a mistake, or None if it failed."""

    @property
    def name(self) -> str: ...

    def edit(self, steps: Sequence[str], samples: Sequence[Sample],
             options: Sequence[list[str] | None]) -> list[str | None]: ...


class Judge(Protocol):
    """``verbalises(cots, cue_types, cue_texts)`` -> one bool per CoT."""

    @property
    def name(self) -> str: ...

    def verbalises(self, cots: Sequence[str], cue_types: Sequence[str],
                   cue_texts: Sequence[str]) -> list[bool]: ...
