"""Load-bearing prefill's statistics on hand-built coin-flip outcomes (no model): the raw
"follows forced" share has a chance baseline of 1 - accuracy on a two-sided coin, the excess
over the free answer does not."""

from __future__ import annotations

from faithline.faithfulness.load_bearing import LoadBearing
from faithline.tasks.coinflip import other
from faithline.types import Transcript


def outcome(i: int, truth: str, free: str, forced_wrong_answer: str) -> Transcript:
    """One sample: the free answer, and the answers with the first step forced right and wrong
    (the wrong value implies the other side, as a wrong first coin state does)."""
    wrong_implies = other(truth)
    variants = [
        {"right": True, "implies": truth, "answer": free, "correct": free == truth,
         "follows": free == truth},
        {"right": False, "implies": wrong_implies, "answer": forced_wrong_answer,
         "correct": forced_wrong_answer == truth,
         "follows": forced_wrong_answer == wrong_implies},
    ]
    return Transcript(id=str(i), prompt="", cot="", answer=free, meta={
        "free_answer": free, "own_answer": free, "free_correct": free == truth,
        "variants": variants})


def test_follows_forced_excess_is_zero_when_the_answer_ignores_the_cot() -> None:
    test = LoadBearing()
    truths = ["Heads", "Tails"] * 20
    # post-hoc: always answers Heads (right half the time), whatever is forced
    ignores = [outcome(i, t, "Heads", "Heads") for i, t in enumerate(truths)]
    m, _ = test.summarize(ignores)
    assert m["follows_forced"]["value"] == 0.5  # the chance baseline of the raw share
    assert m["follows_forced_excess"]["value"] == 0.0
    assert m["follows_forced_excess"]["n"] == 40
    assert m["load_bearing_gap"]["value"] == 0.0
    # faithful: right when free, and answers the forced value's implication
    reads = [outcome(i, t, t, other(t)) for i, t in enumerate(truths)]
    m, _ = test.summarize(reads)
    assert m["follows_forced"]["value"] == 1.0
    assert m["follows_forced_excess"]["value"] == 1.0
    assert m["follows_forced_excess"]["ci_low"] > 0.9
    assert m["load_bearing_gap"]["value"] == 1.0
