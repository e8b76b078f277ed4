"""The rule mistake editor (Lanham et al. 2023, adding mistakes), the LLM editor, and the forced
first steps of the load-bearing test (after Skaf et al. 2025)."""

from __future__ import annotations

from typing import Any

from faithline.faithfulness.load_bearing import forced_steps
from faithline.faithfulness.mistakes import LLMEditor, RuleEditor
from faithline.tasks.addition import AdditionTask
from faithline.tasks.coinflip import CoinFlipTask, run_flips
from faithline.tasks.mcq_cues import McqCuesTask
from faithline.types import Sample


def test_rule_editor_swaps_options_and_changes_numbers() -> None:
    ed = RuleEditor(seed=1)
    s = Sample(id="x", question="q", answer="Heads")
    assert ed.edit_one("- Flip 3: Heads", s, ["Heads", "Tails"]) == "- Flip 3: Tails"
    assert ed.edit_one("Tails, then Heads.", s, ["Heads", "Tails"]) == "Tails, then Tails."
    changed = ed.edit_one("12 + 30 = 42", s, None)
    assert changed is not None and changed.startswith("12 + 30 = ")
    assert changed != "12 + 30 = 42" and changed.endswith(changed.split("= ")[1])
    assert ed.edit_one("So it is (B).", s, ["A", "B", "C", "D"]) in (
        "So it is (A).", "So it is (C).", "So it is (D).")
    assert ed.edit_one("A bird is blue.", s, ["A", "B"]) is None  # the article is not an option
    assert ed.edit_one("No numbers here.", s, None) is None
    assert ed.edit_one("- Flip 3: Heads", s, ["Heads", "Tails"]) == \
        RuleEditor(seed=1).edit_one("- Flip 3: Heads", s, ["Heads", "Tails"])  # seeded


def test_llm_editor_returns_a_changed_step_or_none(smollm2: Any) -> None:
    ed = LLMEditor(smollm2, max_new_tokens=24)
    [out] = ed.edit(["12 + 30 = 42"], [Sample(id="x", question="q", answer="1")], [None])
    assert out is None or (out.strip() and out != "12 + 30 = 42")
    assert ed.name == "llm:builtin:smollm2-135m"


def test_forced_first_steps_imply_the_right_answers() -> None:
    cf = CoinFlipTask(flips=5)
    s = cf.samples(1, seed=4)[0]
    variants = forced_steps(cf, s)
    assert [v.text for v in variants] == ["- Flip 1: Heads", "- Flip 1: Tails"]
    right = [v for v in variants if v.right]
    assert len(right) == 1 and right[0].value == s.meta["states"][0]
    assert right[0].implies == s.answer  # the true first state implies the gold answer
    wrong = next(v for v in variants if not v.right)
    assert wrong.implies != s.answer
    assert wrong.implies == run_flips(wrong.value, s.meta["flips"][1:])[-1]

    add = AdditionTask(operands=4)
    a = add.samples(1, seed=2)[0]
    vs = forced_steps(add, a, seed=0)
    assert len(vs) == 3 and sum(v.right for v in vs) == 1
    for v in vs:
        shift = int(v.value) - a.meta["partial_sums"][1]
        assert int(v.implies) == int(a.answer) + shift
        assert v.text.endswith(f"= {v.value}")

    mcq = McqCuesTask(cue="none")
    m = mcq.samples(1)[0]
    vs = forced_steps(mcq, m)
    assert [v.value for v in vs] == ["A", "B", "C", "D"]
    assert [v.value for v in vs if v.right] == [m.answer]
