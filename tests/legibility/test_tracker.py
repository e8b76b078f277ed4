"""The training-time tracker: the step's CoTs against a baseline scored once."""

from __future__ import annotations

from typing import Any

from faithline.legibility.drift import encode_all, rewrite
from faithline.legibility.tracker import LegibilityTracker
from faithline.tasks import get_task


def test_tracker_flags_a_code_and_not_a_rewording(smollm2: Any) -> None:
    task: Any = get_task("coinflip:flips=5")
    start = [task.gold_cot(s) for s in task.samples(10, seed=2)]
    tracker = LegibilityTracker(start, reference=smollm2)
    drifted = tracker(encode_all(start, 1.0))
    assert drifted["legibility/alarm"] == 1.0 and drifted["legibility/fired/oov_share"] == 1.0
    assert drifted["legibility/shift/oov_share"] > 0.3
    honest = tracker([{"cot": rewrite(c)} for c in start])
    assert honest["legibility/alarm"] == 0.0 and honest["legibility/n"] == 10
    assert all(isinstance(v, float) for v in honest.values())
