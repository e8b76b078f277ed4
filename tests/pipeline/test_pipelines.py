"""Both pipelines on the real SmolLM2-135M, including the fail-closed path."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faithline.pipeline.paraphrase_llm import LLMParaphraser
from faithline.pipeline.pipelines import (
    SampleFailure,
    Settings,
    ShoggothFacePipeline,
    SinglePipeline,
)
from faithline.tasks import get_task
from faithline.types import Generation, GenParams, Prompt, Transcript

SETTINGS = Settings(max_cot_tokens=48, max_answer_tokens=8)


class Spy:
    """Forwards to a real model and records every prompt it was given."""

    def __init__(self, model: Any) -> None:
        self.model = model
        self.spec = model.spec
        self.capabilities = model.capabilities
        self.prompts: list[Prompt] = []

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Generation]]:
        self.prompts.extend(prompts)
        return self.model.generate(prompts, params)  # type: ignore[no-any-return]

    def score(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        self.prompts.append(prompt)
        return self.model.score(prompt, continuations)  # type: ignore[no-any-return]


def test_single_pipeline_writes_contract_transcripts(smollm2: Any) -> None:
    task = get_task("coinflip:flips=3")
    samples = task.samples(2, seed=1)
    out = SinglePipeline(smollm2, task, SETTINGS).run(samples)
    assert all(isinstance(t, Transcript) for t in out)
    for t, s in zip(out, samples, strict=True):
        assert isinstance(t, Transcript)
        assert t.id == s.id and t.gold == s.answer
        assert t.cot.strip()
        assert t.answer in {"Heads", "Tails"}  # forced when the CoT ran out of tokens
        assert t.correct == (t.answer == s.answer)
        assert set(t.to_dict()) >= {"id", "prompt", "cot", "answer"}


def test_shoggoth_paraphraser_face(smollm2: Any) -> None:
    task = get_task("addition:operands=2")
    samples = task.samples(2, seed=0)
    face = Spy(smollm2)
    para = LLMParaphraser(smollm2, max_new_tokens=128)
    out = ShoggothFacePipeline(smollm2, face, para, task, SETTINGS).run(samples)  # type: ignore[arg-type]
    for t in out:
        assert isinstance(t, Transcript)
        assert t.paraphrased_cot and t.paraphrased_cot != t.cot
        assert t.meta["models"] == {"shoggoth": smollm2.spec, "face": smollm2.spec,
                                    "paraphraser": f"llm:{smollm2.spec}"}
    # The Face saw the paraphrase as its own reasoning, never the Shoggoth's raw CoT.
    for prompt, t in zip(face.prompts, out, strict=True):
        assert isinstance(t, Transcript) and t.paraphrased_cot
        assert t.paraphrased_cot in prompt.prefill
        assert t.cot not in prompt.prefill


def test_failed_paraphrase_never_reaches_the_face(smollm2: Any) -> None:
    task = get_task("coinflip:flips=3")
    samples = task.samples(2, seed=2)
    face = Spy(smollm2)
    para = LLMParaphraser(smollm2, max_new_tokens=2, retries=0)  # always truncated
    out = ShoggothFacePipeline(smollm2, face, para, task, SETTINGS).run(samples)  # type: ignore[arg-type]
    assert all(isinstance(o, SampleFailure) for o in out)
    assert {o.kind for o in out if isinstance(o, SampleFailure)} == {"truncated"}
    assert face.prompts == []


class Upper:
    """A paraphraser whose output is easy to recognise: each step in capitals."""

    name = "upper"

    def paraphrase(self, cots: Sequence[str], questions: Any = None) -> list[Any]:
        from faithline.pipeline.paraphrase_llm import Paraphrase

        return [Paraphrase(c.upper(), 1.0) for c in cots]


def test_per_step_placement_continues_from_the_paraphrased_steps(smollm2: Any) -> None:
    """``max_steps`` (``--paraphrase-steps``): the Shoggoth writes every step after the first
    from the paraphrased steps, never its own raw ones, and the Face reads the paraphrases."""
    task = get_task("coinflip:flips=3")
    samples = task.samples(2, seed=3)
    shoggoth, face = Spy(smollm2), Spy(smollm2)
    pipe = ShoggothFacePipeline(shoggoth, face, Upper(), task,  # type: ignore[arg-type]
                                Settings(max_cot_tokens=60, max_answer_tokens=8), max_steps=3)
    out = pipe.run(samples)
    assert all(isinstance(t, Transcript) for t in out)
    for t in out:
        assert isinstance(t, Transcript)
        steps = t.meta["steps"]
        assert 1 <= len(steps["raw"]) <= 3 and t.meta["models"]["paraphrase_placement"] == "step"
        assert steps["shown"] == [s.upper() for s in steps["raw"]]
        assert t.paraphrased_cot == "\n".join(s for s in steps["shown"] if s)
        # every later step was sampled from a prefill of the earlier paraphrases
        for k in range(1, len(steps["raw"])):
            prefill = "".join(s + "\n" for s in steps["shown"][:k])
            assert any(p.prefill.endswith(prefill) for p in shoggoth.prompts)
    for prompt in face.prompts:  # the Face's reasoning is the paraphrase
        assert any(isinstance(t, Transcript) and t.paraphrased_cot and
                   t.paraphrased_cot in prompt.prefill for t in out)
