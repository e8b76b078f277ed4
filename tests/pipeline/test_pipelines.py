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
