"""The resampling paraphraser on real organisms: keeps honest states, fails closed, ignores surface.

``reader`` is a coin-flip organism warmed up with the encoded demo's code (code words 5% of the
time) that trains in about 20 s and reads its chains (chain intact about 75%): the demo's quick
organism does not (its answer ignores the CoT), so a paraphraser that reads meaning through it
accepts any plausible step.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

import pytest

from faithline.errors import BadInputError, ParaphraseError
from faithline.pipeline.paraphrase_llm import Paraphrase
from faithline.tasks.coinflip import CoinFlipTask
from faithline.tasks.leak import LeakTask

pytest.importorskip("torch")

# the demo's quick organism is too small to read its chains; this one does, in ~20 s
READER = {"examples": 16384, "layers": 2, "width": 128, "batch_size": 128, "lr": 3e-3,
          "code_prob": 0.05}


@pytest.fixture(scope="module")
def reader() -> Any:
    from faithline.models import load_model
    from faithline.train.organism import OrganismConfig, train_organism

    return load_model(f"hf:{train_organism(OrganismConfig(**READER), progress=False)}")


@pytest.fixture(scope="module")
def quick() -> Any:
    from faithline.demo import QUICK_ORGANISM
    from faithline.models import load_model
    from faithline.train.organism import train_organism

    return load_model(f"hf:{train_organism(QUICK_ORGANISM, progress=False)}")


def honest(n: int, seed: int = 5) -> tuple[list[str], list[list[str]]]:
    task = LeakTask(CoinFlipTask(flips=8, style="words"), leak_prob=0.0)
    samples = task.samples(n, seed=seed)
    return [task.prompt_text(s) for s in samples], [[x[0] for x in s.meta["states"]]
                                                    for s in samples]


def side(word: str) -> str:
    from faithline.train.organism import CODEBOOK

    return {v: k for k, v in CODEBOOK.items()}.get(word, word)


def test_honest_chains_keep_their_states(reader: Any) -> None:
    from faithline.pipeline.paraphrase_resample import ResampleParaphraser

    questions, chains = honest(48)
    para = ResampleParaphraser(reader, seed=0)
    out = para.paraphrase([" ".join(c) for c in chains], questions)
    kept = [not isinstance(o, ParaphraseError) and [side(w) for w in o.split()] == c
            for o, c in zip(out, chains, strict=True)]
    assert sum(kept) / len(kept) >= 0.9  # measured: 48/48
    assert all(o.fidelity is not None and o.fidelity >= 0.9 for o in out
               if not isinstance(o, ParaphraseError))
    # the code, read by the warm-up that learned it, keeps its meaning too
    coded = [" ".join({"H": "up", "T": "down"}[s] for s in c) for c in chains]
    out = para.paraphrase(coded, questions)
    kept = [not isinstance(o, ParaphraseError) and [side(w) for w in o.split()] == c
            for o, c in zip(out, chains, strict=True)]
    assert sum(kept) / len(kept) >= 0.8


def test_output_depends_on_meaning_not_surface(reader: Any) -> None:
    """'T' and its code word 'down' mean the same to the warm-up: their paraphrases are drawn
    from the same distribution (mostly 'T', 'down' at about the warm-up's 5%)."""
    from faithline.pipeline.paraphrase_resample import ResampleParaphraser

    questions, chains = honest(1, seed=0)
    n = 300
    counts = []
    for step in ("T", "down"):
        word = chains[0][0]
        step = step if word == "T" else {"T": "H", "down": "up"}[step]
        para = ResampleParaphraser(reader, seed=1)
        out = para.paraphrase_steps([step] * n, questions * n, [[]] * n)
        counts.append(Counter(str(o) for o in out))
    a, b = counts
    assert set(a) == set(b) and len(a) == 2, counts
    for word in a:
        assert abs(a[word] - b[word]) / n < 0.06, counts


def test_unreadable_steps_fail_closed(reader: Any) -> None:
    """A word it does not know is refused; words the warm-up never writes in a chain are
    refused or read as a step it does write (what they do to its predictions), never handed
    back as they are."""
    from faithline.pipeline.paraphrase_resample import ResampleParaphraser

    questions, chains = honest(8)
    para = ResampleParaphraser(reader, seed=0)
    (out,) = para.paraphrase_steps(["xyzzy"], questions[:1], [chains[0][:3]])
    assert isinstance(out, ParaphraseError) and out.kind == "low-fidelity"
    for step in ("flip", "stay", "then", "start", "ans", "use"):
        outs = para.paraphrase_steps([step] * 8, questions, [c[:3] for c in chains])
        for out in outs:
            assert isinstance(out, ParaphraseError) or out in ("", "H", "T", "up", "down", "so"), \
                (step, out)
    (out,) = para.paraphrase([f"{chains[0][0]} xyzzy {chains[0][1]}"], questions[:1])
    assert isinstance(out, ParaphraseError) and "step 2" in str(out)


def test_a_step_the_warm_up_would_not_write_fails_closed(reader: Any) -> None:
    """It writes only what the frozen model writes there: a wrong state is refused, not
    corrected and not passed on (the price of knowing no language of its own)."""
    from faithline.pipeline.paraphrase_resample import ResampleParaphraser

    questions, chains = honest(16)
    wrong = [{"H": "T", "T": "H"}[c[0]] for c in chains]
    outs = ResampleParaphraser(reader).paraphrase_steps(wrong, questions, [[]] * 16)
    assert sum(isinstance(o, ParaphraseError) for o in outs) >= 14
    assert not any(o == w for o, w in zip(outs, wrong, strict=True))


def test_fast_on_the_quick_organism(quick: Any) -> None:
    """The demo's quick organism (seconds to train): the interface, the seed, the failures."""
    from faithline.pipeline.paraphrase_resample import ResampleParaphraser

    questions, chains = honest(8)
    a = ResampleParaphraser(quick, seed=3).paraphrase([" ".join(c) for c in chains], questions)
    b = ResampleParaphraser(quick, seed=3).paraphrase([" ".join(c) for c in chains], questions)
    assert [str(x) for x in a] == [str(x) for x in b]  # seeded
    out = ResampleParaphraser(quick).paraphrase_steps(["", "qq"], questions[:2], [[], []])
    assert isinstance(out[0], Paraphrase) and out[0] == "" and out[0].fidelity == 1.0
    assert isinstance(out[1], ParaphraseError)
    with pytest.raises(BadInputError, match="questions"):
        ResampleParaphraser(quick).paraphrase(["H T"])


def test_spec(quick: Any, tmp_path: Path) -> None:
    from faithline.pipeline.paraphrase_specs import get_paraphraser, paraphraser_model_specs

    spec = "hf:/some/organism@float32"
    assert paraphraser_model_specs(f"resample:{spec}@n=4") == [spec]
    para: Any = get_paraphraser("resample:q@n=4", pool={"q": quick}, seed=2)
    assert para.n == 4 and para.seed == 2 and para.name == f"resample:{quick.spec}@n=4"
    with pytest.raises(BadInputError, match="resample:MODEL_SPEC"):
        get_paraphraser("resample:")
