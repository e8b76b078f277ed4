"""The one ``Model`` protocol every back-end implements, and its capabilities.

A back-end declares what it can do in ``capabilities``; callers use ``require`` so asking for
a missing capability is a clear ``CapabilityError`` naming the back-end, never a silent no-op.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from typing import Any, Protocol, runtime_checkable

from faithline.errors import CapabilityError
from faithline.types import Generation, GenParams, Prompt


class Capability(str, enum.Enum):
    GENERATE = "generate"
    N_SAMPLES = "n_samples"
    SAMPLING = "sampling"  # temperature / top-p
    STOP = "stop"
    PREFILL = "prefill"  # continue a given partial assistant turn
    LOGPROBS = "logprobs"  # per-token logprobs of generated text
    SCORE = "score"  # logprob of given continuations
    SCORE_MULTITOKEN = "score_multitoken"
    ACTIVATIONS = "activations"  # read activations at named module paths


@runtime_checkable
class Model(Protocol):
    """What every back-end offers. ``spec`` is the string it was loaded from."""

    spec: str
    capabilities: frozenset[Capability]

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Generation]]:
        """``params.n`` generations for each prompt, in order."""
        ...

    def score(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        """Total log-probability of each continuation right after ``prompt`` (incl. prefill)."""
        ...

    def info(self) -> dict[str, Any]:
        """What to record in run.json about this model (spec, dtype, device, files...)."""
        ...


def require(model: Model, *caps: Capability) -> None:
    """Raise ``CapabilityError`` unless ``model`` declares every capability in ``caps``."""
    missing = [c.value for c in caps if c not in model.capabilities]
    if missing:
        have = ", ".join(sorted(c.value for c in model.capabilities))
        raise CapabilityError(
            f"model '{model.spec}' does not support {', '.join(missing)} (it supports: {have})"
        )


def check_params(model: Model, params: GenParams) -> None:
    """Check that ``params`` only asks for what ``model`` supports."""
    caps: list[Capability] = [Capability.GENERATE]
    if params.n > 1:
        caps.append(Capability.N_SAMPLES)
    if params.temperature > 0 or params.top_p < 1:
        caps.append(Capability.SAMPLING)
    if params.stop:
        caps.append(Capability.STOP)
    if params.logprobs:
        caps.append(Capability.LOGPROBS)
    require(model, *caps)
