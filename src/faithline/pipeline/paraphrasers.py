"""Paraphraser specs, chains and ensembles: ``get_paraphraser("canonical")``.

Spec strings (``--paraphraser``):
    ``none``                  identity: the no-paraphraser baseline (fidelity 1)
    ``llm:<model spec>``      standard LLM paraphrase, the model does not see the question
    ``context:<model spec>``  context-aware: sees the question, keeps task-relevant content
    ``canonical``             canonicaliser for formal CoTs (parse, re-render at random)
    ``canonical:organism``    the same for the model organism's CoTs (``T H so``, ``use leak T``)
    ``chain:A|B|...``         A's output is B's input; the first failure fails the item
    ``ensemble:A|B|...``      each CoT goes to one member drawn at random (seeded)
    ``<model spec>``          anything else is a model spec, as ``llm:<model spec>``
"""

from __future__ import annotations

import random
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass, field

from faithline.errors import BadInputError, ParaphraseError
from faithline.models import Model, load_model
from faithline.pipeline.canonicalizer import Canonicalizer
from faithline.pipeline.paraphraser import (
    ContextAwareParaphraser,
    LLMParaphraser,
    Paraphrase,
    Paraphraser,
)

KINDS = ("none", "llm", "context", "canonical", "chain", "ensemble")


@dataclass
class Identity:
    """Returns every CoT unchanged: the baseline that measures what survives no paraphraser."""

    @property
    def name(self) -> str:
        return "none"

    def paraphrase(self, cots: Sequence[str],
                   questions: Sequence[str] | None = None) -> list[str | ParaphraseError]:
        return [Paraphrase(c, fidelity=1.0) for c in cots]


@dataclass
class Chain:
    """Apply members in order; an item that fails anywhere stays failed."""

    members: list[Paraphraser]

    @property
    def name(self) -> str:
        return "chain:" + "|".join(m.name for m in self.members)

    def paraphrase(self, cots: Sequence[str],
                   questions: Sequence[str] | None = None) -> list[str | ParaphraseError]:
        current: list[str | ParaphraseError] = list(cots)
        for member in self.members:
            live = [i for i, c in enumerate(current) if not isinstance(c, ParaphraseError)]
            qs = [questions[i] for i in live] if questions else None
            out = member.paraphrase([str(current[i]) for i in live], qs)
            for i, o in zip(live, out, strict=True):
                current[i] = o
        return current


@dataclass
class Ensemble:
    """Send each CoT to one member chosen at random, so an encoder cannot target one of them."""

    members: list[Paraphraser]
    seed: int = 0
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @property
    def name(self) -> str:
        return "ensemble:" + "|".join(m.name for m in self.members)

    def paraphrase(self, cots: Sequence[str],
                   questions: Sequence[str] | None = None) -> list[str | ParaphraseError]:
        pick = [self.rng.randrange(len(self.members)) for _ in cots]
        out: list[str | ParaphraseError] = [ParaphraseError("empty", "not run") for _ in cots]
        for k, member in enumerate(self.members):
            idx = [i for i, p in enumerate(pick) if p == k]
            if idx:
                qs = [questions[i] for i in idx] if questions else None
                for i, o in zip(idx, member.paraphrase([cots[i] for i in idx], qs), strict=True):
                    out[i] = o
        return out


def get_paraphraser(spec: str, pool: MutableMapping[str, Model] | None = None, seed: int = 0,
                    max_new_tokens: int = 512, min_fidelity: float = 0.0) -> Paraphraser:
    """Build the paraphraser a spec names (see the module docstring); models come from ``pool``."""
    pool = {} if pool is None else pool
    kind, _, rest = spec.partition(":")
    if kind == "none" and not rest:
        return Identity()
    if kind == "canonical":
        return Canonicalizer(seed=seed, grammar=rest or "steps")
    if kind in ("chain", "ensemble"):
        parts = [p for p in rest.split("|") if p]
        if not parts:
            raise BadInputError(f"paraphraser spec '{spec}' names no members (A|B|...)")
        members = [get_paraphraser(p, pool, seed, max_new_tokens, min_fidelity) for p in parts]
        return Chain(members) if kind == "chain" else Ensemble(members, seed=seed)
    cls: type[LLMParaphraser] = LLMParaphraser
    model_spec = spec
    if kind in ("llm", "context"):
        cls = ContextAwareParaphraser if kind == "context" else LLMParaphraser
        model_spec = rest
    if not model_spec:
        raise BadInputError(f"paraphraser spec '{spec}' needs a model spec after '{kind}:'")
    if model_spec not in pool:
        pool[model_spec] = load_model(model_spec)
    return cls(pool[model_spec], max_new_tokens=max_new_tokens, seed=seed,
               min_fidelity=min_fidelity)


def paraphraser_model_specs(spec: str) -> list[str]:
    """The model specs a paraphraser spec will load (to validate or share them up front)."""
    kind, _, rest = spec.partition(":")
    if (kind == "none" and not rest) or kind == "canonical":
        return []
    if kind in ("chain", "ensemble"):
        return [m for p in rest.split("|") if p for m in paraphraser_model_specs(p)]
    return [rest if kind in ("llm", "context") else spec]
