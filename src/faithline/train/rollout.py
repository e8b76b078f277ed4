"""One GRPO step's rollouts of an arm: TRL's ``rollout_func``, and nothing TRL can do itself.

For each prompt TRL hands over (already repeated ``num_generations`` times) the policy samples a
completion with the one sampler (``HFModel.generate_texts``, temperature 1, no top-k or top-p:
the policy's own distribution, as GRPO needs); with ``vllm`` (``train rl --vllm``) it samples on
TRL's colocated vLLM engine instead, which TRL loads with the policy's weights before every
step, and the engine's logprobs go back to TRL, which corrects the loss for the engine/trainer
mismatch (importance sampling). The Face then samples on the same engine, its weights swapped in
for its answers and the policy's loaded back after (``FaceOnEngine``).

In the Face arms the policy is the Shoggoth: it stops where the answer would start (the format's
``cot_stops``), the arm's paraphraser rewrites the CoT (failing closed: a CoT whose paraphrase
failed is never shown to the Face, and its row is unscorable), and the Face (train/face.py)
answers and takes its own GRPO step, its reward being
the task's grade minus, where the arm says so, the monitor penalty.

With per-step placement (arms with ``paraphrase=step``, ``--paraphrase-steps SPEC``) the
Shoggoth writes one step at a time and continues from the paraphrase of each
(pipeline/steps.py: the context is spliced as token ids). A rollout is then no longer one
(prompt, completion) pair: the step sampled from context ``prompt + p_1..p_{k-1}`` is trained in
that context, never after its own raw earlier steps. So each rollout becomes ``max_steps`` TRL
rows, row k = prompt, then completion ``p_1..p_{k-1}`` (the paraphrases, ``env_mask`` 0: context
only, TRL's mask for environment tokens) followed by the ids the Shoggoth sampled for step k
(``env_mask`` 1); rollouts with fewer steps are padded with a one-token row of mask 0. TRL sees
``num_generations`` = G * max_steps (train/setup.py), every row of a rollout carries its reward
columns, so the group mean is the G rollouts' mean; the group's standard deviation is the
rollouts' times ``sqrt(K(G-1)/(GK-1))`` (a constant: advantages about 6% larger at G=8, K=16).
Under TRL's default ``dapo`` loss (a sum over trained tokens divided by their count) every
sampled token counts once, as in one row per rollout.

Each rollout is also a contract ``Transcript`` (exact ``label``s from the task, the pressure
monitor's verdict, ``meta``), so training-time metrics are computed by the same code as the
final evaluation's (train/metrics.py). The policy's own rewards are TRL reward functions
(train/rewards.py), fed the per-completion columns returned here.
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from typing import Any, cast

from faithline.errors import ParaphraseError
from faithline.models.hf import HFModel
from faithline.monitors.base import Monitor, Verdict
from faithline.pipeline.format import CotFormat, clean_cot
from faithline.pipeline.paraphrase_llm import Paraphraser
from faithline.pipeline.steps import StepChain, StepRule, run_steps, step_rule
from faithline.tasks.leak import LeakTask
from faithline.train.arms import Arm
from faithline.train.face import FaceLearner
from faithline.train.rewards import MonitorPenalty, UserReward
from faithline.types import GenParams, Sample, Transcript


class ArmRollout:
    """TRL ``rollout_func`` for one arm; ``last`` holds the step's rollouts as transcripts."""

    def __init__(self, arm: Arm, task: LeakTask, fmt: CotFormat,
                 samples: Mapping[str, Sample],
                 policy: HFModel, max_new_tokens: int, penalty: MonitorPenalty,
                 penalty_weight: float = 1.0, face: FaceLearner | None = None,
                 paraphraser: Paraphraser | None = None, seed: int = 0,
                 reward: UserReward | None = None, vllm: bool = False,
                 max_steps: int = 0) -> None:
        self.arm, self.task, self.fmt = arm, task, fmt
        self.samples = samples  # rendered prompt text -> sample
        self.policy, self.max_new_tokens, self.seed = policy, max_new_tokens, seed
        self.penalty, self.penalty_weight = penalty, penalty_weight
        self.face, self.paraphraser = face, paraphraser
        self.reward = reward  # a user's reward in place of the task's grade (policy and Face)
        self.last: list[Transcript] = []
        self.seconds = 0.0
        self.vllm = vllm
        self.engine: Any = None  # the VLLMModel on TRL's engine, made at the first rollout
        self.max_steps = max_steps if arm.steps else 0  # TRL rows per rollout (per-step)
        self.rule: StepRule = step_rule(fmt)
        self.chains: list[StepChain] = []  # the last step's chains (per-step placement)

    @property
    def monitor(self) -> Monitor:
        return self.penalty.monitor

    def sample(self, texts: Sequence[str], step: int, trainer: Any = None
               ) -> list[tuple[list[int], str, list[float] | None]]:
        """(sampled token ids, text, the engine's logprobs or None) of the policy for each
        rendered prompt, seeded by the run's seed and the training step (so a resumed run samples
        what an uninterrupted one did)."""
        stops = self.fmt.cot_stops if self.arm.face else ()
        params = GenParams(max_new_tokens=self.max_new_tokens, temperature=1.0, stop=stops,
                           seed=self.seed * 100_003 + step)
        if self.vllm:
            return list(self.on_engine(trainer).sample_ids(texts, params))
        model = self.policy.model
        model.eval()
        gens = [g[0] for g in self.policy.generate_texts(texts, params)]
        model.train()
        return [(list(g.token_ids or ()), g.text, None) for g in gens]

    def on_engine(self, trainer: Any) -> Any:
        """The ``VLLMModel`` on TRL's colocated engine (the Face's sampler moves there too)."""
        if self.engine is None:
            from faithline.models.vllm import VLLMModel

            self.engine = VLLMModel(trainer.vllm_generation.llm, "vllm:policy (training)", {})
        if self.face is not None and not self.face.single_token and \
                not isinstance(self.face.sampler, FaceOnEngine):
            self.face.sampler = cast(Any, FaceOnEngine(
                self.engine, self.face.model, trainer.vllm_generation.sync_weights))
        return self.engine

    def sample_steps(self, texts: Sequence[str], samples: Sequence[Sample], step: int,
                     trainer: Any = None) -> list[StepChain]:
        """Each rollout's CoT step by step, each step paraphrased before the next is sampled
        (pipeline/steps.py), from token ids spliced together; seeded as :meth:`sample`."""
        assert self.paraphraser is not None
        tok = self.policy.tokenizer
        # logprobs on both back-ends: TRL's importance sampling reads the engine's, and the
        # HF sampler's let a test check that TRL re-scores each step in its sampling context
        params = GenParams(max_new_tokens=self.max_new_tokens, temperature=1.0,
                           seed=self.seed * 100_003 + step, logprobs=True)
        engine = self.on_engine(trainer) if self.vllm else None
        model = self.policy.model

        def generate(contexts: list[list[int]], p: GenParams) -> list[Any]:
            if engine is not None:
                return list(engine.sample_steps(contexts, p))
            model.eval()
            try:
                return [g[0] for g in self.policy.generate_ids(contexts, p)]
            finally:
                model.train()

        def extend(ids: list[int], text: str) -> list[int]:
            return ids + list(tok(text, add_special_tokens=False)["input_ids"]) if text else ids

        prompt_ids = tok(list(texts), add_special_tokens=False)["input_ids"]
        return run_steps([list(p) for p in prompt_ids], generate, extend, self.paraphraser,
                         [s.question for s in samples], self.rule, params, self.fmt.cot_stops,
                         self.max_steps)

    def __call__(self, prompts: list[Any], trainer: Any) -> dict[str, Any]:
        t0 = time.perf_counter()
        texts = [str(p) for p in prompts]
        rows = self.max_steps or 1  # TRL rows per rollout
        texts = texts[::rows]  # TRL repeats each prompt G * rows times: G rollouts of each
        samples = [self.samples[t] for t in texts]
        step = int(trainer.state.global_step) + 1  # the step these rollouts train
        if self.max_steps:
            self.chains = self.sample_steps(texts, samples, step, trainer)
            ts = [self.transcript(s, c.cot) for s, c in zip(samples, self.chains, strict=True)]
            for t, c in zip(ts, self.chains, strict=True):
                t.meta["steps"] = c.to_meta()
            self.answer_with_face(samples, texts, ts, step,
                                  shown=[c.error or c.shown for c in self.chains])
        else:
            sampled = self.sample(texts, step, trainer)
            ts = [self.transcript(s, text)
                  for s, (_, text, _) in zip(samples, sampled, strict=True)]
            if self.arm.face:
                self.answer_with_face(samples, texts, ts, step)
        verdicts = self.penalty.verdicts(ts)
        for t, v in zip(ts, verdicts, strict=True):
            t.monitor = {self.monitor.name: v.to_dict()}
        columns: dict[str, Any] = {
            "sample_id": [s.id for s in samples], "cot": [t.cot for t in ts],
            "answer": [t.answer or None for t in ts],
            "answer_text": [t.meta["answer_text"] for t in ts],
            "monitor_prompt": [t.prompt for t in ts],
            "scorable": [bool(t.meta["scorable"]) for t in ts]}
        if self.max_steps:  # what the Shoggoth wrote: for a user's reward, not the row's text
            columns["rollout_completion"] = [c.cot for c in self.chains]
        if self.face is not None:
            base = self.reward(texts, columns["answer_text"], **columns) if self.reward \
                else [t.meta["grade"] for t in ts]
            self.face.update(self.face_rewards(ts, verdicts, base),
                             trainer.num_generations // rows,
                             rows=[i for i, t in enumerate(ts) if t.meta["scorable"]])
        self.last, self.seconds = ts, time.perf_counter() - t0
        enc = self.policy.tokenizer(texts, add_special_tokens=False)["input_ids"]
        if self.max_steps:
            return self.step_rows(enc, columns)
        logprobs = [lps for _, _, lps in sampled] if self.vllm else None
        return {"prompt_ids": enc, "completion_ids": [ids for ids, _, _ in sampled],
                "logprobs": logprobs, **columns}

    def step_rows(self, prompt_ids: Sequence[list[int]], columns: dict[str, Any]
                  ) -> dict[str, Any]:
        """``max_steps`` TRL rows per rollout (see the module docstring): row k is the prompt,
        then the paraphrases before step k (``env_mask`` 0) and the ids the Shoggoth sampled
        for step k from exactly that context (``env_mask`` 1)."""
        pad = self.policy.tokenizer.eos_token_id
        pad = pad if isinstance(pad, int) else self.policy.tokenizer.pad_token_id
        out: dict[str, list[Any]] = {"prompt_ids": [], "completion_ids": [], "env_mask": [],
                                     "logprobs": []}
        for r, (chain, prompt) in enumerate(zip(self.chains, prompt_ids, strict=True)):
            for k in range(self.max_steps):
                step = chain.steps[k] if k < len(chain.steps) else None
                if step is None or not step.ids:  # padding: one token, trained on nothing
                    completion, mask, lps = [pad], [0], [0.0]
                else:
                    context = list(step.context)
                    if context[:len(prompt)] != list(prompt):
                        raise AssertionError("a step's context does not start with its prompt")
                    shown = context[len(prompt):]
                    completion, mask = shown + list(step.ids), [0] * len(shown) + \
                        [1] * len(step.ids)
                    lps = [0.0] * len(shown) + list(step.logprobs or [0.0] * len(step.ids))
                out["prompt_ids"].append(list(prompt))
                out["completion_ids"].append(completion)
                out["env_mask"].append(mask)
                out["logprobs"].append(lps)
                for key, values in columns.items():
                    out.setdefault(key, []).append(values[r])
        if not self.vllm:
            out["logprobs"] = None  # type: ignore[assignment]
        return out

    def transcript(self, sample: Sample, text: str) -> Transcript:
        """The policy's completion as a transcript (answered by the policy, or not yet)."""
        if self.arm.face:
            cot, answer_text = clean_cot(text), None
        else:
            cot, answer_text = self.fmt.split(text)
        answer = self.task.extract(answer_text, sample) if answer_text else None
        t = Transcript(id=sample.id, prompt=self.task.prompt_text(sample), cot=cot,
                       answer=answer or "", gold=sample.answer,
                       meta={"completion": text, "answer_text": answer_text or "",
                             "scorable": True, "paraphrase_failed": False})
        return t if self.arm.face else self.finish(t, sample)  # the Face's answer comes later

    def finish(self, t: Transcript, sample: Sample) -> Transcript:
        """Correctness, exact labels and the grade, from the transcript's answer."""
        answer = t.answer or None
        t.correct = self.task.verify(answer, sample)
        t.label = self.task.label(sample, t.cot, answer)
        t.meta.update(self.task.outcome(sample, t.cot, answer))
        return t

    def answer_with_face(self, samples: Sequence[Sample], texts: Sequence[str],
                         ts: list[Transcript], step: int,
                         shown: Sequence[str | ParaphraseError] | None = None) -> None:
        """Paraphrase (fail closed; ``shown``: already paraphrased, step by step), then the
        Face answers each CoT it may see."""
        assert self.face is not None
        if shown is None:
            shown = [t.cot for t in ts]
            if self.paraphraser is not None:
                shown = self.paraphraser.paraphrase([t.cot for t in ts],
                                                    [s.question for s in samples])
        ok = [i for i, p in enumerate(shown) if not isinstance(p, ParaphraseError)]
        # The rendered prompt already ends with the format's prefill: the Face reads it, the
        # CoT it may see, then the answer cue (HFModel.render of the prefilled prompt).
        inputs = [texts[i] + str(shown[i]) + self.fmt.answer_cue for i in ok]
        answers = dict(zip(ok, self.face.sample(inputs, step), strict=True))
        for i, (s, t) in enumerate(zip(samples, ts, strict=True)):
            if i not in answers:  # no answer: labelled as such, and unscorable
                t.meta.update(scorable=False, paraphrase_failed=True,
                              paraphrase_error=str(shown[i]))
                self.finish(t, s)
                continue
            if self.paraphraser is not None:
                t.paraphrased_cot = str(shown[i])
            t.meta["answer_text"] = "Answer: " + answers[i].strip()
            t.answer = self.task.extract(t.meta["answer_text"], s) or ""
            self.finish(t, s)

    def face_rewards(self, ts: Sequence[Transcript], verdicts: Sequence[Verdict],
                     base: Sequence[float | None]) -> list[float | None]:
        """The Face's reward: ``base`` (the task's grade, or the user's reward of the Face's
        answer), minus the penalty where the arm puts it on the Face."""
        out: list[float | None] = []
        for t, v, b in zip(ts, verdicts, base, strict=True):
            if not t.meta["scorable"] or b is None:
                out.append(None)
                continue
            penalty = self.penalty.penalty(v) if self.arm.penalty == "face" else 0.0
            out.append(float(b) - self.penalty_weight * penalty)
        return out


class FaceOnEngine:
    """The Face's sampler on the policy's engine: its weights swapped in for its answers, then
    the policy's loaded back (one engine, two sets of weights; see bench/bench_vllm.py)."""

    def __init__(self, engine: Any, face_model: Any, restore: Any) -> None:
        self.engine, self.face_model, self.restore = engine, face_model, restore
        self.swap_seconds = 0.0

    def generate_texts(self, texts: Sequence[str], params: GenParams) -> list[list[Any]]:
        t0 = time.perf_counter()
        self.engine.load_weights(self.face_model.named_parameters())
        swapped = time.perf_counter()
        try:
            return list(self.engine.generate_texts(texts, params))
        finally:
            t1 = time.perf_counter()
            self.restore()
            self.swap_seconds = (swapped - t0) + (time.perf_counter() - t1)
