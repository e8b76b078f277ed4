"""Splitting model output into CoT and answer."""

from __future__ import annotations

import pytest

from faithline.errors import BadInputError
from faithline.pipeline.format import CotFormat


@pytest.mark.parametrize(
    ("text", "cot", "answer"),
    [
        ("- Flip 1: Heads\n- Flip 2: Tails\nAnswer: Tails", "- Flip 1: Heads\n- Flip 2: Tails",
         "Answer: Tails"),
        ("step one.\n**Answer:** B", "step one.", "**Answer:** B"),
        ("Answer: A\nwait, no.\nFinal answer: C", "Answer: A\nwait, no.", "Final answer: C"),
        ("just rambling with no answer", "just rambling with no answer", None),
        ("the answer: inline is not a line start", "the answer: inline is not a line start",
         None),
    ],
)
def test_answer_line_split(text: str, cot: str, answer: str | None) -> None:
    assert CotFormat("answer-line").split(text) == (cot, answer)


def test_think_tags_split() -> None:
    fmt = CotFormat("think-tags")
    assert fmt.split("a then b</think>\nAnswer: 7") == ("a then b", "Answer: 7")
    assert fmt.split("<think>x</think> 7") == ("x", "7")
    assert fmt.split("never closed") == ("never closed", None)


def test_unknown_format() -> None:
    with pytest.raises(BadInputError, match="unknown CoT format"):
        CotFormat("xml")
