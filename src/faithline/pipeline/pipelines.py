"""The two CoT pipelines: one model, and Shoggoth -> Paraphraser -> Face.

Single model: the model reads the task prompt and writes its reasoning and a final answer.
If it writes no answer (e.g. it hit the token limit) the answer is forced: the output so far is
prefilled, followed by ``Answer:``, and a short continuation is read.

Shoggoth -> Paraphraser -> Face (Kokotajlo's design; Drori et al. 2025 "Mind & Face"): the
Shoggoth writes the CoT (generation stops where the answer would start), the paraphraser
rewrites it, and the Face sees the task prompt with the *paraphrased* CoT prefilled as its own
reasoning, then writes the answer. Each role takes any model. A failed paraphrase fails the
sample closed: it is returned as a ``SampleFailure`` and the Face never runs on it.
With ``max_steps`` (``--paraphrase-steps``) the paraphraser sits in the Shoggoth's own loop
instead: it rewrites each step before the Shoggoth writes the next (pipeline/steps.py), and the
Face reads the paraphrased steps.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from faithline.errors import BadInputError, ParaphraseError
from faithline.models.base import Capability, Model, require
from faithline.pipeline.format import CotFormat, clean_cot
from faithline.pipeline.paraphrase_llm import Paraphraser
from faithline.pipeline.steps import StepChain, run_steps, step_rule
from faithline.tasks.base import Task
from faithline.types import Generation, GenParams, Prompt, Sample, Transcript


@dataclass(frozen=True)
class SampleFailure:
    """A sample that could not be completed; recorded in the run, retried on resume."""

    id: str
    stage: str
    kind: str
    error: str
    detail: dict[str, Any] = field(default_factory=dict)


Outcome = Transcript | SampleFailure


@dataclass(frozen=True)
class Settings:
    """Generation settings shared by both pipelines."""

    max_cot_tokens: int = 384
    max_answer_tokens: int = 16
    temperature: float = 0.0
    top_p: float = 1.0
    seed: int = 0
    format: str = "answer-line"
    # Forced answers (and the Face's): 0 reads the best option / greedy text; above 0 samples
    # (from the softmax of the option scores where the task has a closed answer set).
    answer_temperature: float = 0.0


class BasePipeline:
    name = "base"

    def __init__(self, task: Task, settings: Settings) -> None:
        self.task = task
        self.settings = settings
        self.fmt = CotFormat(settings.format)

    def prompt(self, sample: Sample) -> Prompt:
        text = self.task.prompt_text(sample)
        extra = self.fmt.instruction()
        return Prompt.user(f"{text}\n\n{extra}" if extra else text, prefill=self.fmt.prefill)

    def cot_params(self, stop: tuple[str, ...] = ()) -> GenParams:
        s = self.settings
        return GenParams(max_new_tokens=s.max_cot_tokens, temperature=s.temperature,
                         top_p=s.top_p, seed=s.seed, stop=stop)

    def answer_params(self) -> GenParams:
        return GenParams(max_new_tokens=self.settings.max_answer_tokens, stop=("\n",),
                         seed=self.settings.seed, temperature=self.settings.answer_temperature)

    def pick_option(self, sample: Sample, options: Sequence[str], scores: Sequence[float]) -> str:
        """The best-scored option, or one drawn from their softmax at ``answer_temperature``
        (seeded by the sample, so a resumed run draws the same)."""
        t = self.settings.answer_temperature
        if t <= 0:
            return options[scores.index(max(scores))]
        top = max(scores)
        weights = [math.exp((x - top) / t) for x in scores]
        rng = random.Random(f"{self.settings.seed}:{sample.id}")
        return rng.choices(list(options), weights=weights)[0]

    def force_answers(self, model: Model, samples: Sequence[Sample], prompts: Sequence[Prompt],
                      cots: Sequence[str]) -> list[str]:
        """Answer text after each CoT: prefill the CoT and the answer cue, then read the answer.

        With a closed answer set (``task.answer_options``) and a scoring model, the answer is
        the option the model scores highest; otherwise a short greedy continuation.
        """
        forced = [p.with_prefill(p.prefill + cot + self.fmt.answer_cue)
                  for p, cot in zip(prompts, cots, strict=True)]
        answers: list[str] = []
        gen_idx = []
        for i, (s, p) in enumerate(zip(samples, forced, strict=True)):
            options = self.task.answer_options(s)
            if options and Capability.SCORE_MULTITOKEN in model.capabilities:
                scores = model.score(p, [" " + o for o in options])
                answers.append("Answer: " + self.pick_option(s, options, scores))
            else:
                answers.append("")
                gen_idx.append(i)
        gens = model.generate([forced[i] for i in gen_idx], self.answer_params())
        for i, g in zip(gen_idx, gens, strict=True):
            answers[i] = "Answer:" + g[0].text
        return answers

    def transcript(self, sample: Sample, prompt: Prompt, cot: str, answer_text: str,
                   meta: dict[str, Any]) -> Transcript:
        answer = self.task.extract(answer_text, sample)
        return Transcript(
            id=sample.id,
            prompt=prompt.messages[-1].content,
            cot=cot,
            answer=answer if answer is not None else "",
            gold=sample.answer,
            correct=self.task.verify(answer, sample),
            label=self.task.label(sample, cot, answer),
            meta={"pipeline": self.name, "task": self.task.name, "answer_text": answer_text,
                  "sample": dict(sample.meta), **meta},
        )

    def run(self, samples: Sequence[Sample]) -> list[Outcome]:
        raise NotImplementedError


class SinglePipeline(BasePipeline):
    """One model writes the CoT and the answer."""

    name = "single"

    def __init__(self, model: Model, task: Task, settings: Settings) -> None:
        super().__init__(task, settings)
        require(model, Capability.GENERATE, Capability.PREFILL, Capability.STOP)
        self.model = model

    def run(self, samples: Sequence[Sample]) -> list[Outcome]:
        prompts = [self.prompt(s) for s in samples]
        gens = [g[0] for g in self.model.generate(prompts, self.cot_params())]
        split = [self.fmt.split(g.text) for g in gens]
        need = [i for i, (_, ans) in enumerate(split) if ans is None or
                self.task.extract(ans, samples[i]) is None]
        forced = self.force_answers(self.model, [samples[i] for i in need],
                                    [prompts[i] for i in need],
                                    [gens[i].text.rstrip() for i in need])
        answers = dict(zip(need, forced, strict=True))
        out: list[Outcome] = []
        for i, (s, (cot, ans)) in enumerate(zip(samples, split, strict=True)):
            meta = {"models": {"model": self.model.spec}, "raw_output": gens[i].text,
                    "finish_reason": gens[i].finish_reason, "answer_forced": i in answers}
            out.append(self.transcript(s, prompts[i], cot, answers.get(i, ans or ""), meta))
        return out


class ShoggothFacePipeline(BasePipeline):
    """Shoggoth writes the CoT, the paraphraser (optional) rewrites it, the Face answers."""

    name = "shoggoth-face"

    def __init__(self, shoggoth: Model, face: Model, paraphraser: Paraphraser | None,
                 task: Task, settings: Settings, max_steps: int = 0) -> None:
        super().__init__(task, settings)
        require(shoggoth, Capability.GENERATE, Capability.STOP)
        require(face, Capability.GENERATE, Capability.PREFILL)
        if max_steps and paraphraser is None:
            raise BadInputError("per-step paraphrasing (max_steps) needs a paraphraser")
        if max_steps:
            require(shoggoth, Capability.PREFILL)
        self.shoggoth, self.face, self.paraphraser = shoggoth, face, paraphraser
        self.max_steps = max_steps
        if max_steps:
            self.name = "shoggoth-face-steps"

    def steps(self, prompts: Sequence[Prompt], samples: Sequence[Sample]) -> list[StepChain]:
        """Each CoT step by step, the Shoggoth continuing from the paraphrased steps
        (prefilled)."""
        assert self.paraphraser is not None

        def generate(contexts: list[Prompt], params: GenParams) -> list[Any]:
            return [g[0] for g in self.shoggoth.generate(contexts, params)]

        return run_steps(list(prompts), generate,
                         lambda p, text: p.with_prefill(p.prefill + text), self.paraphraser,
                         [s.question for s in samples], step_rule(self.fmt), self.cot_params(),
                         self.fmt.cot_stops, self.max_steps)

    def run(self, samples: Sequence[Sample]) -> list[Outcome]:
        prompts = [self.prompt(s) for s in samples]
        chains: list[StepChain] = []
        if self.max_steps:
            chains = self.steps(prompts, samples)
            cots = [c.cot for c in chains]
            gens = [Generation(c.cot, "stop" if c.finish == "stop" else "length")
                    for c in chains]
            shown: list[str | ParaphraseError] = [c.error or c.shown for c in chains]
        else:
            gens = [g[0] for g in self.shoggoth.generate(prompts,
                                                         self.cot_params(self.fmt.cot_stops))]
            cots = [clean_cot(g.text) for g in gens]
            shown = list(cots)
            if self.paraphraser is not None:
                shown = self.paraphraser.paraphrase(cots, [s.question for s in samples])
        ok = [i for i, p in enumerate(shown) if isinstance(p, str)]
        forced = self.force_answers(self.face, [samples[i] for i in ok],
                                    [prompts[i] for i in ok], [str(shown[i]) for i in ok])
        answers = dict(zip(ok, forced, strict=True))
        out: list[Outcome] = []
        for i, s in enumerate(samples):
            para = shown[i]
            if isinstance(para, ParaphraseError):
                detail: dict[str, Any] = {"cot": cots[i]}
                if chains:
                    detail["steps"] = chains[i].to_meta()
                out.append(SampleFailure(s.id, "paraphrase", para.kind, str(para), detail))
                continue
            meta: dict[str, Any] = {"models": self.roles(), "raw_output": gens[i].text,
                                    "finish_reason": gens[i].finish_reason}
            if chains:
                meta["steps"] = chains[i].to_meta()
            t = self.transcript(s, prompts[i], cots[i], answers[i], meta)
            if self.paraphraser is not None:
                t.paraphrased_cot = str(para)
                t.meta["paraphrase_fidelity"] = getattr(para, "fidelity", None)
            out.append(t)
        return out

    def roles(self) -> dict[str, str]:
        roles = {"shoggoth": self.shoggoth.spec, "face": self.face.spec}
        if self.paraphraser is not None:
            roles["paraphraser"] = self.paraphraser.name
            if self.max_steps:
                roles["paraphrase_placement"] = "step"
        return roles
