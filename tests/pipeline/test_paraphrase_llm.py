"""The LLM paraphraser fails closed: empty, truncated, refused or wordless output raises."""

from __future__ import annotations

from typing import Any

import pytest

from faithline import invisible
from faithline.errors import ParaphraseError
from faithline.pipeline.paraphrase_llm import (
    DEFAULT_MIN_FIDELITY,
    MAX_REPETITION,
    LLMParaphraser,
    check_paraphrase,
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
    assert repetition(para) > MAX_REPETITION and para.fidelity == 1.0


def test_default_min_fidelity_fails_low_fidelity_closed() -> None:
    assert LLMParaphraser.min_fidelity == DEFAULT_MIN_FIDELITY > 0
    with pytest.raises(ParaphraseError, match="low-fidelity"):
        check_paraphrase(Generation("The coin ends up somewhere."), COT)
    assert check_paraphrase(Generation("Flip 1 gives Tails, flip 2 Tails, flip 3 Heads."),
                            COT).fidelity == 1.0
