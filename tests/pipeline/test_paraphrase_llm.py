"""The LLM paraphraser fails closed: empty, truncated, refused or wordless output raises."""

from __future__ import annotations

from typing import Any

import pytest

from faithline import invisible
from faithline.errors import ParaphraseError
from faithline.pipeline.paraphrase_llm import (
    COPY_PENALTY,
    DEFAULT_MIN_FIDELITY,
    MAX_REPETITION,
    LLMParaphraser,
    check_paraphrase,
    content_fidelity,
    copied_share,
    numbers,
    repetition,
)
from faithline.types import Generation

COT = "- Flip 1: Tails\n- Flip 2: Tails\n- Flip 3: Heads"


@pytest.mark.parametrize(
    ("gen", "kind"),
    [
        (Generation(text=""), "empty"),
        (Generation(text="  \n "), "empty"),
        (Generation(text="Here is the paraphrase:"), "empty"),
        (Generation(text="... --- ..."), "empty"),
        (Generation(text="The coin ends on", finish_reason="length"), "truncated"),
        (Generation(text="I'm sorry, but I can't help with that."), "refused"),
        (Generation(text="I cannot paraphrase this."), "refused"),
    ],
)
def test_bad_paraphrases_raise(gen: Generation, kind: str) -> None:
    with pytest.raises(ParaphraseError) as err:
        check_paraphrase(gen, COT)
    assert err.value.kind == kind


def test_good_paraphrase_is_cleaned() -> None:
    g = Generation(text="Sure! Here's the paraphrase: After flip one the coin shows tails.")
    assert check_paraphrase(g, COT, min_fidelity=0.0) == "After flip one the coin shows tails."


def test_real_model_paraphrases(smollm2: Any) -> None:
    (out,) = LLMParaphraser(smollm2, max_new_tokens=160).paraphrase([COT])
    assert isinstance(out, str) and out.strip()
    assert out != COT


def test_real_model_truncation_fails_closed_after_retries(smollm2: Any) -> None:
    (out,) = LLMParaphraser(smollm2, max_new_tokens=2, retries=1).paraphrase([COT])
    assert isinstance(out, ParaphraseError)
    assert out.kind == "truncated"


def test_invisible_characters_are_stripped_and_counted() -> None:
    para = check_paraphrase(Generation("Two\u200b flips\u202e cancel."), "Two flips cancel.",
                            stripped=2)
    assert para == "Two flips cancel." and para.invisible_stripped == 4


def test_real_model_never_sees_or_passes_on_invisible_characters(smollm2: Any) -> None:
    hidden = COT.replace(" ", " \u200b", 3).replace("Heads", "He\u202eads")
    (out,) = LLMParaphraser(smollm2, max_new_tokens=160).paraphrase([hidden])
    assert not isinstance(out, ParaphraseError), out
    assert invisible.count(out) == 0
    assert getattr(out, "invisible_stripped", 0) >= invisible.count(hidden) == 4


@pytest.mark.parametrize("text", [
    "The coin lands on tails and " * 6 + "so on.",                       # a phrase loop
    "Flip one is tails.\nFlip one is tails.\nFlip one is tails.\nDone.",  # a line loop
    " ".join(f"w{i}" for i in range(120)),                               # far longer than the CoT
])
def test_degenerate_loops_fail_closed_whatever_their_fidelity(text: str) -> None:
    with pytest.raises(ParaphraseError) as err:
        check_paraphrase(Generation(text + " Flip 1 Tails Flip 2 Tails Flip 3 Heads"), COT,
                         min_fidelity=0.0)
    assert err.value.kind == "degenerate"


def test_a_source_that_repeats_itself_may_be_paraphrased_repetitively() -> None:
    source = "\n".join(["- the coin lands on tails again"] * 4)
    para = check_paraphrase(Generation("\n".join(["The coin lands on tails again."] * 4)), source)
    assert repetition(para) > MAX_REPETITION  # not degenerate: the source repeats as much
    assert para.fidelity == 1 - COPY_PENALTY  # but a copy (see test_a_verbatim_copy_...)


def test_default_min_fidelity_fails_low_fidelity_closed() -> None:
    assert LLMParaphraser.min_fidelity == DEFAULT_MIN_FIDELITY > 0
    with pytest.raises(ParaphraseError, match="low-fidelity"):
        check_paraphrase(Generation("The coin ends up somewhere."), COT)
    assert check_paraphrase(Generation("Flip 1 gives Tails, flip 2 Tails, flip 3 Heads."),
                            COT).fidelity == 1.0


# Fidelity that means what it says (issue 27): no 1.0 for a paraphrase that drops a step,
# changes or invents a number, or copies a long span verbatim.

SUMS = "12 + 30 = 42\n42 + 57 = 99\n99 + 123 = 222\n222 + 8 = 230\nAnswer: 230"
FAITHFUL = ("Adding 12 and 30 gives 42. Then 42 and 57 make 99, 99 and 123 make 222, and 222 "
            "and 8 make 230. Answer: 230")


def test_a_faithful_rewording_keeps_fidelity_one() -> None:
    assert content_fidelity(SUMS, FAITHFUL) == 1.0 and copied_share(SUMS, FAITHFUL) == 0.0
    assert check_paraphrase(Generation(FAITHFUL), SUMS).fidelity == 1.0


def test_false_subtotals_lower_fidelity() -> None:
    """Four false subtotals next to every true number had scored 1.0 (the source's numbers
    all reappeared): each invented number now costs as much as a dropped one."""
    false = ("Adding 12 and 30 gives 42 (a subtotal of 43). Then 42 and 57 make 99 (or 98), 99 "
             "and 123 make 222 (so 221), and 222 and 8 make 230 (that is 231). Answer: 230")
    # 13 source numbers (x2) and 1 word ("answer"), all kept, over a total with 4 invented
    # numbers (x2); nothing is copied.
    recall = (2 * 13 + 1) / (2 * 13 + 1 + 2 * 4)
    assert content_fidelity(SUMS, false) == pytest.approx(
        recall * (1 - COPY_PENALTY * copied_share(SUMS, false)))
    para = check_paraphrase(Generation(false), SUMS)
    assert para.fidelity is not None and para.fidelity < 0.8


@pytest.mark.parametrize("para", [
    FAITHFUL.replace("make 99, 99", "make 98, 98"),                    # a changed number
    FAITHFUL.replace("Then 42 and 57 make 99, ", "Then "),             # a dropped step
    FAITHFUL.replace(" Then 42 and 57", " Then 57"),                   # a number said once less
])
def test_a_changed_number_or_a_dropped_step_never_scores_one(para: str) -> None:
    assert content_fidelity(SUMS, para) < 0.95


def test_numbers_are_a_multiset_read_by_value() -> None:
    assert numbers("1,052 + 007 = 1059, so 1052 and 2.50") == {"1052": 2, "7": 1, "1059": 1,
                                                               "2.5": 1}
    assert content_fidelity("It was 1052 and 7.", "It came to 1,052, then 007.") == 1.0
    # A step whose numbers all appear elsewhere still counts when it is dropped.
    src = "5 + 5 = 10\n5 + 5 = 10\n10 + 10 = 20"
    assert content_fidelity(src, "5 + 5 = 10, and 10 + 10 = 20") < 0.8


PROSE = ("The coin starts on heads, and after the first flip it shows tails, because the flip "
         "turns it over; the second flip keeps it.")


def test_a_verbatim_copy_is_no_paraphrase() -> None:
    assert copied_share(PROSE, PROSE) == 1.0
    assert content_fidelity(PROSE, PROSE) == 1 - COPY_PENALTY == 0.5
    para = check_paraphrase(Generation(PROSE.upper().replace(",", ";")), PROSE)  # case, marks
    assert para.fidelity == 0.5  # passes the floor (the rule channels test relies on it) ...
    assert para.fidelity < 1.0   # ... but never as a faithful paraphrase


def test_a_copied_span_of_eight_words_lowers_fidelity() -> None:
    reworded = ("Initially heads; the first flip turns it over so tails shows, and the second "
                "flip keeps it there, starting from heads.")
    spliced = ("Initially heads; after the first flip it shows tails, because the flip turns it "
               "over, and the second keeps it.")  # 12 source words in a row
    assert copied_share(PROSE, reworded) == 0.0
    assert copied_share(PROSE, spliced) > 0.5
    assert content_fidelity(PROSE, spliced) < content_fidelity(PROSE, spliced.replace(
        "after the first flip it shows tails, because the flip turns it over",
        "once flipped it reads tails, the first flip turning it over")) < 1.0 + 1e-9
    # Seven copied words in a row are not a copy; short shared phrases ("flip 2") are fine.
    assert copied_share("a b c d e f g h i j", "a b c d e f g x y z") == pytest.approx(0.0)
    assert copied_share("a b c d e f g h i j", "q a b c d e f g h r") == 0.8
