"""Answer extraction from messy model output."""

from __future__ import annotations

import pytest

from faithline.errors import BadInputError
from faithline.tasks.extract import (
    braced_args,
    extract_letter,
    extract_number,
    extract_text,
    extract_word,
    normalize_text,
    numbers_equal,
    parse_number,
    strip_thinking,
)

CHOICES = ("London", "Berlin", "Paris", "Rome")


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("B", "B"),
        ("(B)", "B"),
        ("B)", "B"),
        ("b.", "B"),
        ("Answer: B", "B"),
        ("Answer: (C) Paris", "C"),
        ("answer: c", "C"),
        ("**Answer:** D", "D"),
        ("**Final Answer**: (A)", "A"),
        ("Final answer: option C.", "C"),
        ("Answer: A\nHmm, wait, that is wrong.\nAnswer: C", "C"),
        ("<answer>b</answer>", "B"),
        ("<answer> (D) </answer> and then Answer: A", "D"),
        ("Some reasoning... <answer>C", "C"),
        ("The answer is (B) because of reasons.", "B"),
        ("So the answer is therefore B.", "B"),
        ("Final Answer: $\\boxed{\\text{C}}$", "C"),
        ("\\boxed{D}", "D"),
        ("Answer: I think it's B", "B"),
        ("I first thought (A), but (D) is right.", "D"),
        ("Let me think.\n\n**C**", "C"),
        ("<think>Answer: A</think>\nThe answer is C.", "C"),
        ("<think>Working it out... the answer is (B)</think>", "B"),
        ("Answer: not sure\nAnswer: (B)\nAnswer: unclear", "B"),
        ("Answer: Paris", "C"),
        ("Answer: \n\nB", "B"),
    ],
)
def test_extract_letter(text: str, want: str) -> None:
    assert extract_letter(text, 4, CHOICES) == want


@pytest.mark.parametrize(
    "text",
    [
        "",
        "I have no idea.",
        "Answer: E",  # out of range for 4 choices
        "The answer is (F).",
        "answer: a cat",  # lowercase article, not a letter
        "Answer: Bob",
        "Answer: Madrid",  # not one of the choices
    ],
)
def test_extract_letter_none(text: str) -> None:
    assert extract_letter(text, 4, CHOICES) is None


def test_extract_letter_respects_choice_count() -> None:
    assert extract_letter("Answer: C", 2) is None
    assert extract_letter("Answer: C", 3) == "C"
    assert extract_letter("(E) then (C)", 4) == "C"


@pytest.mark.parametrize("n", [0, 27, -1, True])
def test_extract_letter_bad_count(n: int) -> None:
    with pytest.raises(BadInputError):
        extract_letter("A", n)


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Answer: 42", "42"),
        ("Answer: 1,234.", "1234"),
        ("The answer is $1,234,567.", "1234567"),
        ("The answer is $-42.", "-42"),
        ("Answer: -17", "-17"),
        ("Answer: −7", "-7"),
        ("\\boxed{1{,}234}", "1234"),
        ("So we get $\\boxed{88}$.", "88"),
        ("**Final answer:** **305**", "305"),
        ("<answer>99</answer>", "99"),
        ("12 + 30 = 42", "42"),
        ("Answer: 12 + 30 = 42", "42"),
        ("Answer: 1,234 = 12 + 345 + 877", "1234"),
        ("Answer: 3.50", "3.5"),
        ("Answer: 4.0", "4"),
        ("Answer: 10\nActually no.\nAnswer: 11", "11"),
        ("Answer: 7. The answer is 9.", "7"),
        ("<think>Answer: 5</think>Answer: 6", "6"),
        ("- 357\n", "357"),  # a markdown bullet is not a minus sign
        ("between 2-3 items", "3"),
        ("Answer: about 5 apples", "5"),
        ("Answer: unknown\n\nthe total is 64", "64"),
    ],
)
def test_extract_number(text: str, want: str) -> None:
    assert extract_number(text) == want


@pytest.mark.parametrize("text", ["", "no numbers here", "Answer: none", "v1.x"])
def test_extract_number_none(text: str) -> None:
    assert extract_number(text) is None


def test_extract_number_keeps_thinking_when_nothing_follows() -> None:
    assert extract_number("<think>so 7</think>") == "7"
    assert extract_number("<think>so 7</think>\nAnswer: 8") == "8"


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Answer: Heads", "Heads"),
        ("Answer: **tails**.", "Tails"),
        ("ANSWER: HEADS", "Heads"),
        ("- Flip 1: Heads\n- Flip 2: Tails", "Tails"),
        ("The answer is Heads, not Tails", "Heads"),
        ("Answer: Tails\nAnswer: Heads", "Heads"),
        ("<think>tails</think>Answer: heads", "Heads"),
        ("<answer>Tails</answer>\nAnswer: Heads", "Tails"),
        ("\\boxed{\\text{Heads}}", "Heads"),
        ("The coin shows tails.", "Tails"),
    ],
)
def test_extract_word(text: str, want: str) -> None:
    assert extract_word(text, ["Heads", "Tails"]) == want


def test_extract_word_none_and_whole_words() -> None:
    assert extract_word("no idea", ["Heads", "Tails"]) is None
    assert extract_word("Answer: Headstrong", ["Heads", "Tails"]) is None
    assert extract_word("Answer: new york", ["York", "New York"]) == "New York"
    with pytest.raises(BadInputError):
        extract_word("x", [])


@pytest.mark.parametrize(
    ("text", "want"),
    [
        ("Answer: Paris, because it is the capital.", "paris"),
        ("The answer is New York City.\nOK.", "new york city"),
        ("**Answer:** *Mount Everest*", "mount everest"),
        ("blah\nWashington, D.C.", "washington d c"),
        ("", None),
    ],
)
def test_extract_text(text: str, want: str | None) -> None:
    assert extract_text(text) == want


def test_helpers() -> None:
    assert normalize_text("  Hello,   WORLD! ") == "hello world"
    assert parse_number("1,234.") == "1234"
    assert parse_number("12 apples") is None
    assert numbers_equal("1,234", "1234.0")
    assert not numbers_equal("1234", "1235")
    assert not numbers_equal(None, "1")
    assert braced_args("\\boxed{a{b}c} x \\boxed{d}", "boxed") == ["a{b}c", "d"]
    assert strip_thinking("<think>x</think> y") == " y"
    assert strip_thinking("<think>x</think>   ") == "<think>x</think>   "
