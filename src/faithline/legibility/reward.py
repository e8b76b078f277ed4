"""The legibility regulariser: a TRL reward term that keeps the CoT close to readable language.

The reward of a completion is ``weight * mean_t max(log p_ref(token_t | context), clip_min)``:
the per-token log-likelihood of the CoT under a frozen reference LM, each token's log-prob
clipped from below (one impossible token must not decide the reward), times a weight. It lies in
``[weight * clip_min, 0]``; legible text scores near 0, a private code far below. With
``context="prompt"`` (default) the CoT is scored after the prompt exactly as the policy saw it
(the reference's judgement of this CoT for this question); ``"none"`` scores it on its own.

The reference is a spec (``builtin:smollm2-135m``), a loaded ``HFModel``, a
``ReferenceScorer`` or a torch causal LM with its ``tokenizer``: for the model organism, whose
language SmolLM2 cannot read, the frozen warm-up checkpoint is the reference::

    from faithline.legibility.reward import LegibilityReward, LegibilityRewardConfig
    reg = LegibilityReward(warmup_model, tokenizer=tok, config=LegibilityRewardConfig(weight=0.2))
    trainer = GRPOTrainer(..., reward_funcs=[task_reward, reg])

It follows TRL's reward-function signature ``fn(prompts, completions, **kwargs) -> list[float]``
(plain or conversational prompts and completions), runs batched under ``inference_mode``, and
logs the unweighted mean log-likelihood through TRL's ``log_metric`` when TRL passes it.
``cot_of`` picks the CoT out of a completion (default: the whole completion); an empty CoT gets
the floor, ``weight * clip_min``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faithline.errors import BadInputError
from faithline.legibility.metrics import DEFAULT_REFERENCE, get_scorer

CONTEXTS = ("prompt", "none")


@dataclass(frozen=True)
class LegibilityRewardConfig:
    """Settings of the legibility regulariser (stored whole with a training run)."""

    weight: float = field(default=0.1, metadata={
        "help": "weight of the legibility reward (0 turns it off)"})
    clip_min: float = field(default=-10.0, metadata={
        "help": "each token's log-probability is clipped from below at this value (nats)"})
    context: str = field(default="prompt", metadata={
        "help": "score the CoT after the prompt ('prompt') or on its own ('none')"})
    reference: str = field(default=DEFAULT_REFERENCE, metadata={
        "help": "reference model spec, used when no loaded reference is given"})
    batch_tokens: int = field(default=8192, metadata={
        "help": "padded tokens per scoring batch"})

    def __post_init__(self) -> None:
        if self.context not in CONTEXTS:
            raise BadInputError(f"legibility reward context must be one of {CONTEXTS}")
        if self.clip_min >= 0:
            raise BadInputError(f"clip_min must be < 0, got {self.clip_min}")
        if self.weight < 0:
            raise BadInputError(f"weight must be >= 0, got {self.weight}")


def _completion_text(completion: Any) -> str:
    """A TRL completion as text: a string, or the content of conversational messages."""
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Sequence):
        return "".join(str(m.get("content", "")) for m in completion if isinstance(m, dict))
    raise BadInputError(f"legibility reward: cannot read a completion of type "
                        f"{type(completion).__name__}")


class LegibilityReward:
    """A TRL reward function: ``weight`` x clipped mean token log-likelihood under a reference."""

    __name__ = "legibility"

    def __init__(self, reference: Any = None, tokenizer: Any = None,
                 config: LegibilityRewardConfig | None = None,
                 cot_of: Callable[[str], str] | None = None) -> None:
        self.config = config or LegibilityRewardConfig()
        ref = reference if reference is not None else self.config.reference
        self.scorer = get_scorer(ref, tokenizer, batch_tokens=self.config.batch_tokens)
        self.cot_of = cot_of

    def _prompt_text(self, prompt: Any) -> str:
        if isinstance(prompt, str):
            return prompt
        tok = self.scorer.tokenizer
        if getattr(tok, "chat_template", None):
            return str(tok.apply_chat_template(list(prompt), tokenize=False,
                                               add_generation_prompt=True))
        return "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in prompt) + \
            "Assistant: "

    def log_likelihoods(self, completions: Sequence[Any],
                        prompts: Sequence[Any] | None = None) -> list[float]:
        """The clipped mean token log-likelihood of each completion's CoT (no weight)."""
        texts = [_completion_text(c) for c in completions]
        cots = [self.cot_of(t) if self.cot_of else t for t in texts]
        contexts = None
        if self.config.context == "prompt" and prompts is not None:
            if len(prompts) != len(cots):
                raise BadInputError("legibility reward: one prompt per completion")
            contexts = [self._prompt_text(p) for p in prompts]
        scored = self.scorer.token_logprobs(cots, contexts)
        floor = self.config.clip_min
        return [float(np.maximum(s.logprobs, floor).mean()) if s.tokens else floor
                for s in scored]

    def __call__(self, prompts: Sequence[Any] | None = None,
                 completions: Sequence[Any] | None = None, **kwargs: Any) -> list[float]:
        if completions is None:
            raise BadInputError("legibility reward: no completions given")
        lls = self.log_likelihoods(completions, prompts)
        log_metric = kwargs.get("log_metric")
        if callable(log_metric) and lls:
            log_metric("legibility/mean_logprob", float(np.mean(lls)))
        return [self.config.weight * ll for ll in lls]
