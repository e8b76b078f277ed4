"""Multi-operand addition: generation, partial sums, extraction and verification."""

from __future__ import annotations

from typing import Any

import pytest

from faithline.errors import BadInputError
from faithline.tasks import get_task
from faithline.tasks.addition import AdditionTask, parse_digits


def test_deterministic_and_seeds_differ() -> None:
    task = AdditionTask()
    a = task.samples(10, seed=0)
    assert a == task.samples(10, seed=0)
    assert task.samples(3, seed=0) == a[:3]
    assert [s.question for s in a] != [s.question for s in task.samples(10, seed=1)]
    assert [s.id for s in a] == [f"addition-0-{i}" for i in range(10)]


@pytest.mark.parametrize("operands", [2, 4, 8, 16])
def test_operands_digits_and_sums(operands: int) -> None:
    task = AdditionTask(operands=operands)
    lengths = set()
    for s in task.samples(25, seed=2):
        nums, partial = s.meta["operands"], s.meta["partial_sums"]
        assert len(nums) == len(partial) == operands
        lengths |= {len(str(x)) for x in nums}
        assert all(10 <= x <= 999 for x in nums)
        assert partial == [sum(nums[: k + 1]) for k in range(operands)]
        assert s.answer == str(sum(nums))
        assert s.question == f"What is {' + '.join(map(str, nums))}?"
    assert lengths == {2, 3}


@pytest.mark.parametrize(("digits", "low", "high"), [(2, 10, 99), (3, 100, 999), ("3", 100, 999)])
def test_fixed_digits(digits: int | str, low: int, high: int) -> None:
    for s in AdditionTask(digits=digits).samples(20):
        assert all(low <= x <= high for x in s.meta["operands"])


def test_gold_cot_verifies_and_perturbed_does_not() -> None:
    task = AdditionTask(operands=8)
    for s in task.samples(15, seed=4):
        gold = task.gold_cot(s)
        assert task.score_text(gold, s)
        off = str(int(s.answer) + 1)
        assert not task.score_text(gold.replace(f"Answer: {s.answer}", f"Answer: {off}"), s)
        assert len(task.steps(gold)) == 7


def test_verify_compares_integers() -> None:
    task = AdditionTask()
    s = task.samples(1)[0]
    total = int(s.answer)
    assert task.verify(f"{total:,}", s)
    assert task.verify(f"{total}.0", s)
    assert not task.verify(str(total - 1), s)
    assert not task.verify(None, s)
    assert task.score_text(f"The sum is big.\n**Answer:** {total:,}.", s)
    assert task.extract("no answer", s) is None


def test_prompt() -> None:
    task = AdditionTask()
    s = task.samples(1)[0]
    text = task.prompt_text(s)
    assert s.question in text
    assert task.answer_hint(s) == "the sum, as a whole number"
    assert task.answer_hint(s) in text


@pytest.mark.parametrize(
    "options",
    [{"operands": 3}, {"operands": 0}, {"operands": "4"}, {"operands": True},
     {"digits": "2-"}, {"digits": "3-2"}, {"digits": 0}, {"digits": 12}, {"digits": 2.5}],
)
def test_bad_options(options: dict[str, Any]) -> None:
    with pytest.raises(BadInputError):
        AdditionTask(**options)


def test_parse_digits() -> None:
    assert parse_digits("2-3") == (2, 3)
    assert parse_digits(" 1 - 4 ") == (1, 4)
    assert parse_digits(2) == (2, 2)


def test_get_task_spec() -> None:
    task = get_task("addition:operands=16,digits=2")
    assert isinstance(task, AdditionTask)
    assert len(task.samples(1)[0].meta["operands"]) == 16
    assert get_task("addition:digits=2-3").describe()["options"]["digits"] == "2-3"
    with pytest.raises(BadInputError):
        get_task("addition:operands=5")
