"""The learned paraphraser, trained for real (a smaller recipe: about 15 s on one core)."""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from faithline.errors import BadInputError, ParaphraseError
from faithline.tasks.coinflip import CoinFlipTask
from faithline.tasks.shellgame import ShellGameTask

pytest.importorskip("torch")


@pytest.fixture(scope="module")
def learned() -> Any:
    from faithline.pipeline.paraphrase_learned import (
        LearnedConfig,
        learned_dir,
        load_learned,
        train_learned,
    )

    cfg = LearnedConfig(examples=2000, steps=250)
    train_learned(cfg, progress=False)
    return load_learned(str(learned_dir(cfg)))


def chains(n: int) -> tuple[list[str], list[str]]:
    """Honest coin-flip and shell-game chains (the tasks' own renderings), with questions."""
    coin, shell = CoinFlipTask(8, style="words"), ShellGameTask(8, style="words")
    cs, ss = coin.samples(n, seed=11), shell.samples(n, seed=11)
    cots = [" ".join(x[0] for x in s.meta["states"]) for s in cs]
    cots += [" ".join(["start", s.meta["start"], *s.meta["states"]]) for s in ss]
    return cots, [coin.prompt_text(s) for s in cs] + [shell.prompt_text(s) for s in ss]


def test_honest_chains_keep_their_states(learned: Any) -> None:
    cots, questions = chains(40)
    out = learned.paraphrase(cots, questions)
    kept = [o == c for o, c in zip(out, cots, strict=True)]
    assert sum(kept) / len(kept) >= 0.95  # measured: 80/80
    assert all(o.fidelity >= learned.min_confidence for o in out
               if not isinstance(o, ParaphraseError))
    # what a step says is kept, not corrected: a wrong side stays the wrong side
    wrong = [c[:-1] + {"H": "T", "T": "H"}[c[-1]] for c in cots[:40]]
    assert learned.paraphrase(wrong, questions[:40]) == wrong


def test_output_depends_on_meaning_not_surface(learned: Any) -> None:
    """'H', 'then H' and 'H then' (and the shell game's cups likewise) get the same rewrite;
    a lone 'then' is dropped; the whole CoT's fillers do not survive."""
    for step, prev in (("H", ["T"]), ("A", ["start"]), ("C", ["B", "A"])):
        outs = learned.paraphrase_steps([step, f"then {step}", f"{step} then"], [""] * 3,
                                        [prev] * 3)
        assert Counter(map(str, outs)) == Counter({step: 3}), outs
    (dropped,) = learned.paraphrase_steps(["then"], [""], [["H"]])
    assert dropped == "" and not isinstance(dropped, ParaphraseError)
    a, b = learned.paraphrase(["H T T so", "H then T then T so"], ["", ""])
    assert a == b == "H T T so"


def test_code_words_and_garbage_fail_closed(learned: Any) -> None:
    """The code's words were never in its data: refused, never passed on or dropped."""
    for cot in ("up down", "H down T", "H xyzzy", "flip stay", "H ans T", "H [UNK]"):
        (out,) = learned.paraphrase([cot], [""])
        assert isinstance(out, ParaphraseError) and out.kind == "low-fidelity", (cot, out)
    outs = learned.paraphrase_steps(["up", "down", "H"], [""] * 3, [[], [], []])
    assert [type(o).__name__ for o in outs] == ["ParaphraseError", "ParaphraseError",
                                                "Paraphrase"]


def test_spec_and_errors(learned: Any, tmp_path: Path) -> None:
    from faithline.pipeline.paraphrase_specs import get_paraphraser, paraphraser_model_specs

    folder = learned.spec
    para: Any = get_paraphraser(f"learned:{folder}")
    assert para.name == f"learned:{folder}" and paraphraser_model_specs(f"learned:{folder}") == []
    with pytest.raises(BadInputError, match=r"learned\.json"):
        get_paraphraser(f"learned:{tmp_path}")
    with pytest.raises(BadInputError, match="learned:PATH"):
        get_paraphraser("learned:")


@pytest.mark.slow
def test_builtin_trains_on_first_use_and_is_cached() -> None:
    """``learned:organism`` (the default recipe, under a minute on one core) and its card."""
    import json

    from faithline.pipeline.paraphrase_learned import CARD, learned_dir
    from faithline.pipeline.paraphrase_specs import get_paraphraser

    para: Any = get_paraphraser("learned:organism")
    card = json.loads((learned_dir() / CARD).read_text())
    assert card["held_out_exact"] >= 0.99
    cots, questions = chains(20)
    assert para.paraphrase(cots, questions) == cots
