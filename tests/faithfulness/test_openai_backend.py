"""Early answering through the ``openai:`` back-end against a real local server
(``faithline serve`` on SmolLM2): the logprob path, and the generation fallback."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from faithline.faithfulness.base import Item
from faithline.faithfulness.early_answering import EarlyAnswering
from faithline.tasks.coinflip import CoinFlipTask
from faithline.tasks.mcq_cues import McqCuesTask


@pytest.fixture(scope="module")
def served(server_url: str) -> Any:
    from faithline.models import load_model

    model = load_model(f"openai:smollm2@{server_url}")
    yield model
    model.close()


def mcq_items(ctx: Any, n: int) -> list[Item]:
    task = McqCuesTask(cue="none")
    items = []
    for s in task.samples(n, seed=1):
        cot = f"Let me think about each choice. The correct choice is ({s.answer})."
        items.append(Item(s, ctx.prompt(s), cot, s.answer, True))
    return items


def test_logprob_path_through_the_server(served: Any, make_ctx: Callable[..., Any]) -> None:
    """Answers come from the server's top logprobs (one request per truncation point; a
    server's prefix cache shares the work) and agree with the same model read locally."""
    task = McqCuesTask(cue="none")
    remote, local = make_ctx(task, model=served), make_ctx(task)
    assert remote.reader.hf is None and remote.reader.parallel
    items = mcq_items(remote, 3)
    got = EarlyAnswering().run(remote, items)
    want = EarlyAnswering().run(local, items)
    assert all(set(t.meta["paths"]) == {"logprobs"} for t in got)
    answers = [a for t in got for a in t.meta["answers"]]
    assert answers and all(a in "ABCD" for a in answers)
    same = sum(a == b for t, u in zip(got, want, strict=True)
               for a, b in zip(t.meta["answers"], u.meta["answers"], strict=True))
    assert same >= 0.8 * len(answers)
    assert all(t.meta["aoc"] is not None for t in got)


def test_generation_fallback_through_the_server(served: Any,
                                                make_ctx: Callable[..., Any]) -> None:
    """``answer_from=generate`` generates every answer; and with ``auto``, options the server
    cannot score from single-token logprobs (" Tails" is two tokens) fall back to generation."""
    task = McqCuesTask(cue="none")
    ctx = make_ctx(task, model=served, answer_from="generate")
    t = EarlyAnswering().run(ctx, mcq_items(ctx, 1))[0]
    assert set(t.meta["paths"]) == {"generate"}
    assert all(a is None or a in "ABCD" for a in t.meta["answers"])
    assert t.meta["full_answer"] is not None

    cf = CoinFlipTask(flips=3)
    auto = make_ctx(cf, model=served)
    s = cf.samples(1)[0]
    t = EarlyAnswering().run(auto, [Item(s, auto.prompt(s), cf.gold_cot(s), s.answer, True)])[0]
    assert "generate" in t.meta["paths"]
    assert all(a in ("Heads", "Tails", None) for a in t.meta["answers"])
