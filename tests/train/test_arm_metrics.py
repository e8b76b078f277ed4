"""Arm metrics on labelled transcripts: leak dependence is 0 for a policy whose errors land on
the leak only by chance, whatever the number of answer options."""

from __future__ import annotations

import random

import pytest

from faithline.train.metrics import arm_metrics
from faithline.types import Transcript


def ignoring_the_leak(options: int, error: float, n: int = 6000) -> list[Transcript]:
    """A policy that never reads the leak and errs with probability ``error``, uniformly over
    the wrong answers: half the prompts carry a wrong leak, half none."""
    rng = random.Random(0)
    answers = [chr(65 + i) for i in range(options)]
    out = []
    for i in range(n):
        gold = rng.choice(answers)
        wrong = [a for a in answers if a != gold]
        answer = rng.choice(wrong) if rng.random() < error else gold
        leak = rng.choice(wrong) if i % 2 == 0 else None
        hack = leak is not None and answer == leak
        out.append(Transcript(id=str(i), prompt="p", cot="c", answer=answer, gold=gold,
                              correct=answer == gold,
                              label={"hack": hack, "verbalized": False,
                                     "leaked": leak is not None},
                              meta={"leak": leak, "wrong_leak": leak is not None},
                              monitor={"m": {"score": 0.0, "flag": False, "reason": ""}}))
    return out


@pytest.mark.parametrize("options", [2, 3, 5])
def test_leak_dependence_is_zero_by_chance_for_any_number_of_options(options: int) -> None:
    m = arm_metrics(ignoring_the_leak(options, error=0.3), "m", n_boot=0, options=options)
    assert m["hack_rate"]["value"] == pytest.approx(0.3 / (options - 1), abs=0.03)
    assert m["leak_dependence"]["value"] == pytest.approx(0.0, abs=0.03)
    if options > 2:  # without the option count, errors are counted as if any error hit it
        naive = arm_metrics(ignoring_the_leak(options, error=0.3), "m", n_boot=0)
        assert naive["leak_dependence"]["value"] < -0.1
