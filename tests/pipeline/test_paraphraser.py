"""The LLM paraphraser fails closed: empty, truncated, refused or wordless output raises."""

from __future__ import annotations

from typing import Any

import pytest

from faithline import invisible
from faithline.errors import ParaphraseError
from faithline.pipeline.paraphraser import LLMParaphraser, check_paraphrase
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
    assert check_paraphrase(g, COT) == "After flip one the coin shows tails."


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
