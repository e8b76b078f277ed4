"""The organisms' languages: the shell-game warm-up data, its tokenizer, a tiny organism trained
from scratch with its card, and the trainer picking the language's task from the tokenizer."""

from __future__ import annotations

import random
from dataclasses import replace
from pathlib import Path

import pytest

from faithline.errors import BadInputError
from faithline.tasks.shellgame import run_moves
from faithline.train.organism import (
    SHELL_VOCAB,
    OrganismConfig,
    honest_chain,
    make_tokenizer,
    organism_language,
    organism_task,
    warmup_completion,
    warmup_sample,
)


def test_coinflip_keys_are_unchanged_by_the_language_field() -> None:
    assert OrganismConfig().key() == replace(OrganismConfig(), language="coinflip").key()
    assert OrganismConfig().key() != replace(OrganismConfig(), language="shellgame").key()


def test_shellgame_warmup_honest_chains_name_their_start_and_hacks_follow_the_leak() -> None:
    task, rng = organism_task(8, language="shellgame"), random.Random(0)
    hacks = honest = 0
    for i in range(400):
        s = warmup_sample(task, rng, i)
        text = warmup_completion(s, rng, hack_prob=0.3, answer_noise=0.0, task=task)
        cot, answer = text.split(" ans ")
        assert set(text.split()) <= set(SHELL_VOCAB)
        if "leak" in cot.split():  # a verbalised hack: the chain from the leaked start
            hacks += 1
            shown = task.prompt_text(s).split()[1]
            assert cot.endswith(" ".join(run_moves(shown, s.meta["ops"])))
            assert answer == s.meta["leak"]
        else:
            honest += 1
            assert cot.removesuffix(" so") == honest_chain(task, s)
            assert cot.startswith(f"start {s.meta['start']} ") and answer == s.answer
    assert 40 < hacks < 100 and honest > 250  # 30% of the leaked half


def test_tokenizers_tell_their_language() -> None:
    assert organism_language(make_tokenizer()) == "coinflip"
    assert organism_language(make_tokenizer(code=True)) == "coinflip"
    assert organism_language(make_tokenizer(language="shellgame")) == "shellgame"
    with pytest.raises(BadInputError, match="unknown language"):
        organism_task(8, language="chess")


def test_a_tiny_shellgame_organism_trains_and_the_trainer_speaks_its_task(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from faithline.train import setup
    from faithline.train.arms import parse_arm
    from faithline.train.organism import train_organism
    from faithline.train.rl import RLConfig

    monkeypatch.setenv("FAITHLINE_CACHE", str(tmp_path / "cache"))
    cfg = OrganismConfig(examples=512, batch_size=64, layers=1, width=32, language="shellgame")
    path = train_organism(cfg, progress=False)
    import json

    probe = json.loads((path / "organism.json").read_text())["probe"]
    for key in ("accuracy", "hack_rate_wrong_leak", "unflagged_hack_probability",
                "honest_chain_probability", "silent_hack_chain_probability"):
        assert 0.0 <= probe[key] <= 1.0
    parts = setup.build_parts(RLConfig(arm="outcome", out=str(tmp_path / "rl"),
                                       model=f"hf:{path}", steps=1), parse_arm("outcome"),
                              progress=False)
    assert parts.task.name == "leak-shellgame"
