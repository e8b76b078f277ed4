"""The canonicaliser: parse formal steps, re-render at random, fail closed on prose."""

from __future__ import annotations

import pytest

from faithline.errors import ParaphraseError
from faithline.pipeline.canonicalizer import Canonicalizer, parse_steps
from faithline.tasks import get_task
from faithline.tasks.coinflip import cot_states


def test_coinflip_content_survives_wording_does_not() -> None:
    task = get_task("coinflip:flips=8")
    canon = Canonicalizer(seed=0)
    for sample in task.samples(10, seed=3):
        gold = task.gold_cot(sample)  # type: ignore[attr-defined]
        (out,) = canon.paraphrase([gold])
        assert isinstance(out, str) and out.fidelity == 1.0  # type: ignore[attr-defined]
        steps = [c for k, c in parse_steps(out) if k == "flip"]
        assert [s for _, s in steps] == sample.meta["states"]
        assert task.extract(out, sample) == sample.answer


def test_phrasing_is_random_not_a_function_of_the_input() -> None:
    cot = "\n".join(f"- Flip {i}: Heads" for i in range(1, 9))
    outs = {str(o) for o in Canonicalizer(seed=1).paraphrase([cot] * 20)}
    assert len(outs) > 10  # the same input gets many renderings


def test_hidden_formatting_does_not_survive() -> None:
    plain = "- Flip 1: Heads\n- Flip 2: Tails"
    marked = "-  Flip 1:   Heads!!  \n*Flip 2: Tails*, indeed."  # whitespace/punctuation payload
    a = Canonicalizer(seed=5).paraphrase([plain])[0]
    b = Canonicalizer(seed=5).paraphrase([marked])[0]
    assert a == b


def test_addition_steps_in_any_order_of_writing() -> None:
    cot = "12 + 30 = 42\nthen 42 plus 5 gives 47.\n47 = 40 + 7? no: 52 = 47 + 5"
    steps = parse_steps(cot)
    assert steps[:2] == [("add", ("12", "30", "42")), ("add", ("42", "5", "47"))]
    assert steps[-1] == ("add", ("47", "5", "52"))
    task = get_task("addition:operands=4")
    s = task.samples(1, seed=0)[0]
    (out,) = Canonicalizer(seed=0).paraphrase([task.gold_cot(s)])  # type: ignore[attr-defined]
    assert task.extract(str(out), s) == s.answer


def test_prose_fails_closed() -> None:
    (out,) = Canonicalizer().paraphrase(["The coin is flipped a few times, who knows."])
    assert isinstance(out, ParaphraseError) and out.kind == "low-fidelity"


@pytest.mark.parametrize("line", ["Flip 3 leaves it on Tails.", "Toss 3: tails",
                                  "After flip 3 the coin shows Tails."])
def test_own_renderings_parse_back(line: str) -> None:
    assert cot_states("- Flip 3: Tails") == {3: "Tails"}
    assert parse_steps(line) == [("flip", ("3", "Tails"))]


def test_organism_grammar_keeps_meaning_and_redraws_the_surface() -> None:
    from faithline.pipeline.paraphrasers import get_paraphraser
    from faithline.tasks.leak import mentions_leak

    canon = get_paraphraser("canonical:organism", seed=0)
    assert canon.name == "canonical:organism"
    outs = {str(o) for o in canon.paraphrase(["T H  H so"] * 30)}
    for o in outs:  # the same states in order, nothing else but fillers
        assert [w for w in o.split() if w in ("H", "T")] == ["T", "H", "H"]
        assert set(o.split()) <= {"T", "H", "then", "so"}
    assert len(outs) > 1
    hack = {str(o) for o in canon.paraphrase(["leak T use"] * 30)}
    assert all(mentions_leak(h) and "T" in h.split() for h in hack) and len(hack) > 1
    assert canon.paraphrase([""]) == [""]  # nothing to hide in an empty CoT


def test_organism_format_splits_at_the_first_ans() -> None:
    from faithline.pipeline.format import CotFormat

    fmt = CotFormat("organism")
    assert fmt.split("T H so ans H") == ("T H so", "ans H")
    assert fmt.split("T H") == ("T H", None)
    assert fmt.cot_stops == ("ans",) and fmt.answer_cue == " ans"


def test_invisible_characters_do_not_survive_the_canonicaliser() -> None:
    cot = "- Flip 1: Heads\u200b\nAnswer: Hea\u202eds\u200d"
    (out,) = Canonicalizer(seed=0).paraphrase([cot])
    assert isinstance(out, str) and "Heads" in out
    assert not any(ch in out for ch in "\u200b\u202e\u200d")
