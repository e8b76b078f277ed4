"""Coin-flip state tracking: generation, gold states, extraction and verification."""

from __future__ import annotations

from typing import Any

import pytest

from faithline.errors import BadInputError
from faithline.tasks import get_task
from faithline.tasks.coinflip import CoinFlipTask, cot_states, run_flips


def test_deterministic_and_stable_ids() -> None:
    task = CoinFlipTask(flips=6)
    a, b = task.samples(20, seed=3), task.samples(20, seed=3)
    assert a == b
    assert [s.id for s in a] == [f"coinflip-3-{i}" for i in range(20)]
    assert task.samples(5, seed=3) == a[:5]  # a prefix does not depend on n
    assert len({s.id for s in a}) == 20


def test_seeds_differ() -> None:
    task = CoinFlipTask()
    q0 = [s.question for s in task.samples(10, seed=0)]
    q1 = [s.question for s in task.samples(10, seed=1)]
    assert q0 != q1
    assert len(set(q0)) > 5


def test_gold_states_follow_the_flips() -> None:
    task = CoinFlipTask(flips=12)
    for s in task.samples(30, seed=7):
        start, flips, states = s.meta["start"], s.meta["flips"], s.meta["states"]
        assert len(flips) == len(states) == 12
        side = start
        for flip, state in zip(flips, states, strict=True):
            side = side if flip == "same" else ("Tails" if side == "Heads" else "Heads")
            assert state == side
        assert s.answer == states[-1]
        assert f"A coin starts on {start}." in s.question
        for k, flip in enumerate(flips, 1):
            assert f"Flip {k}: {'same' if flip == 'same' else 'different'} side" in s.question


def test_answers_are_balanced() -> None:
    answers = [s.answer for s in CoinFlipTask().samples(200, seed=0)]
    assert set(answers) == {"Heads", "Tails"}
    assert 60 < answers.count("Heads") < 140


def test_run_flips() -> None:
    assert run_flips("Heads", ["same", "different", "different", "different"]) == [
        "Heads", "Tails", "Heads", "Tails"]


def test_gold_cot_verifies_and_perturbed_does_not() -> None:
    task = CoinFlipTask(flips=5)
    for s in task.samples(20, seed=1):
        gold = task.gold_cot(s)
        assert task.score_text(gold, s)
        wrong = "Tails" if s.answer == "Heads" else "Heads"
        assert not task.score_text(gold.replace(f"Answer: {s.answer}", f"Answer: {wrong}"), s)
        assert task.reward([gold, "I don't know"], [s, s]) == [1.0, 0.0]


def test_extract_and_verify() -> None:
    task = CoinFlipTask()
    s = task.samples(1)[0]
    assert task.extract("**Answer:** heads.", s) == "Heads"
    assert task.extract("- Flip 8: Tails", s) == "Tails"
    assert task.extract("no idea", s) is None
    assert not task.verify(None, s)


def test_prompt_and_hint() -> None:
    task = CoinFlipTask(flips=3)
    s = task.samples(1)[0]
    text = task.prompt_text(s)
    assert task.answer_hint(s) == "Heads or Tails"
    assert "'- Flip i: Heads'" in text
    assert "'Answer: X', where X is Heads or Tails." in text
    assert s.question in text


def test_steps_and_cot_states() -> None:
    task = CoinFlipTask(flips=3)
    cot = "Let me track it.\n- Flip 1: Heads\n- Flip 2: tails\n* Flip 3: Tails\nAnswer: Tails"
    assert task.steps(cot) == ["- Flip 1: Heads", "- Flip 2: tails", "* Flip 3: Tails"]
    assert cot_states(cot) == {1: "Heads", 2: "Tails", 3: "Tails"}
    assert task.steps("First it is heads. Then tails.") == ["First it is heads.", "Then tails."]
    # the organism's one-line CoT: each word is a step, so early answering can truncate it
    assert CoinFlipTask(flips=3, style="words").steps("T H H so") == ["T", "H", "H", "so"]


@pytest.mark.parametrize("flips", [0, 65, -3, "many", 2.5, True])
def test_bad_flips(flips: Any) -> None:
    with pytest.raises(BadInputError, match="flips"):
        CoinFlipTask(flips=flips)


def test_bad_sample_count() -> None:
    with pytest.raises(BadInputError):
        CoinFlipTask().samples(-1)


def test_get_task_spec() -> None:
    task = get_task("coinflip:flips=12")
    assert isinstance(task, CoinFlipTask)
    assert task.describe() == {"name": "coinflip", "options": {"flips": 12}}
    assert len(task.samples(1)[0].meta["flips"]) == 12
    with pytest.raises(BadInputError):
        get_task("coinflip:flips=100")
    with pytest.raises(BadInputError):
        get_task("coinflip:sides=3")
    with pytest.raises(BadInputError):
        get_task("nosuch")
    with pytest.raises(BadInputError, match="did you mean"):
        get_task("coinflp")
