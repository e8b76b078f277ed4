"""The vllm: back-end on the real SmolLM2-135M, against the hf: back-end on the same weights.

Marked ``vllm``: they run in the second venv (``make test-vllm``, ``.venv-vllm`` with vLLM's CPU
build), one engine for the module (fp32, so that scores and greedy text match hf: exactly, up to
float rounding). ``FAITHLINE_REQUIRE_VLLM=1`` (set by ``make test-vllm``) turns a missing vLLM
into a failure instead of a skip. The first two tests need no vLLM and run everywhere.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faithline.errors import BadInputError, MissingDependencyError
from faithline.models import Capability, load_model
from faithline.types import GenParams, Prompt

Q = Prompt.user("What is the capital of France? Answer in one sentence.")


def test_missing_vllm_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "vllm", None)  # import vllm raises ImportError
    with pytest.raises(MissingDependencyError, match=r"faithline\[vllm\]"):
        load_model("vllm:builtin:smollm2-135m")


def test_bad_names_are_bad_input(tmp_path: Path) -> None:
    from faithline.models.vllm import engine_kwargs, resolve

    with pytest.raises(BadInputError, match="local HF directory"):
        resolve(str(tmp_path))  # a directory without config.json
    with pytest.raises(BadInputError, match="does not exist"):
        resolve(str(tmp_path / "missing.gguf"))
    with pytest.raises(BadInputError, match="unknown builtin"):
        resolve("builtin:nope")
    os.environ["FAITHLINE_VLLM_MEMORY"] = "3"
    try:
        with pytest.raises(BadInputError, match="FAITHLINE_VLLM_MEMORY"):
            engine_kwargs("float32", cuda=False)
    finally:
        del os.environ["FAITHLINE_VLLM_MEMORY"]


def need_vllm() -> None:
    if importlib.util.find_spec("vllm") is None:
        if os.environ.get("FAITHLINE_REQUIRE_VLLM") == "1":
            pytest.fail("vllm is not installed, and FAITHLINE_REQUIRE_VLLM=1 (make test-vllm)")
        pytest.skip("needs vllm: make setup-vllm (or pip install 'faithline[vllm]')")


@pytest.fixture(scope="module")
def vl() -> Iterator[Any]:
    need_vllm()
    model = load_model("vllm:builtin:smollm2-135m@fp32")
    yield model
    del model


@pytest.fixture(scope="module")
def hf32() -> Any:
    need_vllm()
    return load_model("builtin:smollm2-135m@fp32")



@pytest.mark.vllm
def test_greedy_text_matches_hf_and_capabilities(vl: Any, hf32: Any) -> None:
    assert Capability.SCORE in vl.capabilities and Capability.ACTIVATIONS not in vl.capabilities
    prompts = [Q, Prompt.user("Name three colours."),
               Prompt.user("Tell me a fact.", prefill="The capital of Italy is")]
    p = GenParams(max_new_tokens=16)
    ours = [g[0] for g in vl.generate(prompts, p)]
    theirs = [g[0] for g in hf32.generate(prompts, p)]
    assert [g.text for g in ours] == [g.text for g in theirs]
    assert "Paris" in ours[0].text and "Rome" in ours[2].text  # the prefill is continued
    assert [g.finish_reason for g in ours] == [g.finish_reason for g in theirs]
    assert [g.token_ids for g in ours] == [g.token_ids for g in theirs]


@pytest.mark.vllm
def test_n_samples_seeded_stop_strings_and_logprobs(vl: Any, hf32: Any) -> None:
    p = GenParams(max_new_tokens=12, temperature=1.0, n=4, seed=3, logprobs=True)
    a, b = vl.generate([Q], p)[0], vl.generate([Q], p)[0]
    assert len(a) == 4 and [g.text for g in a] == [g.text for g in b]
    assert len({g.text for g in a}) > 1
    # Equal prompts in one seeded batch (a GRPO group) get different samples, reproducibly
    one = GenParams(max_new_tokens=12, temperature=1.0, seed=3)
    group = [g[0].text for g in vl.generate([Q] * 4, one)]
    assert len(set(group)) > 1 and group == [g[0].text for g in vl.generate([Q] * 4, one)]
    for g in a:  # one logprob per token of the text, each what hf scores for that token
        assert g.tokens is not None and g.logprobs is not None
        assert len(g.tokens) == len(g.logprobs) and all(x <= 0 for x in g.logprobs)
    g = a[0]
    if g.text:
        total = hf32.score(Q, [g.text])[0]
        assert sum(g.logprobs or ()) == pytest.approx(total, abs=0.05)
    stopped = vl.generate([Q], GenParams(max_new_tokens=16, stop=("Paris",), logprobs=True))
    s = stopped[0][0]
    assert "Paris" not in s.text and s.finish_reason == "stop"
    assert s.token_ids is not None and "Paris" in vl.tokenizer.decode(list(s.token_ids))
    assert s.tokens is not None and len(s.tokens) <= len(s.token_ids)  # cut with the text
    ids = vl.tokenizer.convert_tokens_to_ids(list(s.tokens))
    assert len(vl.tokenizer.decode(ids[:-1])) < len(s.text)  # nothing past what is needed


@pytest.mark.vllm
def test_scores_match_hf_one_token_and_longer(vl: Any, hf32: Any) -> None:
    p = Prompt.user("Which side is the coin on?", prefill="The coin is on")
    for conts in ([" Heads", " Tails"], [" Heads up, surely", " Tails", " the table"]):
        ours, theirs = vl.score(p, conts), hf32.score(p, conts)
        assert ours == pytest.approx(theirs, abs=2e-3)
    assert vl.score(Q, []) == []
    with pytest.raises(BadInputError):
        vl.score(Q, [""])


@pytest.mark.vllm
def test_concurrent_scores_are_one_batch_with_the_same_results(vl: Any) -> None:
    prompts = [Prompt.user(f"Question {i}: heads or tails?", prefill="Answer:")
               for i in range(12)]
    calls: list[int] = []
    run = vl._requests.run
    vl._requests.run = lambda requests: calls.append(len(requests)) or run(requests)
    alone = [vl.score(p, [" Heads", " Tails"]) for p in prompts]  # one engine call each
    requests, calls = sum(calls), []
    gate = threading.Barrier(len(prompts))

    def counting(requests: list[Any]) -> list[Any]:
        calls.append(len(requests))
        return run(requests)

    vl._requests.run = counting
    out: list[Any] = [None] * len(prompts)

    def work(i: int) -> None:
        gate.wait()
        out[i] = vl.score(prompts[i], [" Heads", " Tails"])

    try:
        threads = [threading.Thread(target=work, args=(i,)) for i in range(len(prompts))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        vl._requests.run = run
    for x, y in zip(out, alone, strict=True):
        assert x == pytest.approx(y, abs=1e-4)
    assert sum(calls) == requests and len(calls) < len(prompts)


@pytest.mark.vllm
def test_early_answering_gives_hf_answers_on_the_same_cots(vl: Any, hf32: Any) -> None:
    from faithline.faithfulness.base import Item
    from faithline.faithfulness.context import Context
    from faithline.faithfulness.early_answering import EarlyAnswering
    from faithline.tasks.coinflip import CoinFlipTask

    class Bare(CoinFlipTask):
        def prompt_text(self, sample: Any) -> str:
            return sample.question

    task = Bare(flips=6)
    answers = {}
    for name, model in (("hf", hf32), ("vllm", vl)):
        ctx = Context(model, task, points=4)
        items = [Item(s, ctx.prompt(s), task.gold_cot(s).rsplit("\nAnswer:", 1)[0] +
                      f"\nThe answer is {s.answer}.", s.answer, True)
                 for s in task.samples(4, seed=0)]
        answers[name] = [t.meta["answers"] for t in EarlyAnswering().run(ctx, items)]
        assert ctx.reader.describe()["prefix_reuse"] == (name == "hf")
    assert answers["vllm"] == answers["hf"]
    assert len({a for row in answers["vllm"] for a in row}) == 2  # both answers occur


@pytest.mark.vllm
def test_cli_generate_writes_contract_transcripts(tmp_path: Path) -> None:
    need_vllm()
    out = tmp_path / "cf"
    cmd = [sys.executable, "-m", "faithline.cli.main", "generate", "--model",
           "vllm:builtin:smollm2-135m", "--task", "coinflip", "--n", "8", "--out", str(out),
           "--quiet"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [json.loads(line) for line in (out / "transcripts.jsonl").read_text().splitlines()]
    assert len(rows) == 8
    for r in rows:
        assert {"id", "prompt", "cot", "answer"} <= set(r) and r["cot"]
    info = json.loads((out / "run.json").read_text())
    assert "vllm" in json.dumps(info)
