"""The one ``Model`` protocol every back-end implements, its capabilities, and ``LocalModel``.

A back-end declares what it can do in ``capabilities``; callers use ``require`` so asking for
a missing capability is a clear ``CapabilityError`` naming the back-end, never a silent no-op.

A back-end whose weights are in this process (hf:, gguf:, builtin:) declares
``Capability.ACTIVATIONS`` and implements ``LocalModel``: its tokenizer, its torch module, module
lookup by path, ``capture()`` of module outputs and next-token log-probabilities. Parts reach
it only through ``local_model(model, ...)`` (or ``local_or_none``), which looks under wrappers
(``CachedModel``) and raises a ``CapabilityError`` naming the back-end otherwise; a back-end
that only has its tokenizer here (vllm:) declares ``Capability.TOKENIZER`` (``tokenizer_of``).

    local = local_model(model, Capability.ACTIVATIONS, purpose="interp capture")
    with local.capture(["model.layers.3"]) as store:
        local.model(**local.tokenizer("text", return_tensors="pt").to(local.device))
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from contextlib import AbstractContextManager
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
    ACTIVATIONS = "activations"  # weights in this process: a LocalModel (module paths, capture)
    TOKENIZER = "tokenizer"  # the back-end's own tokenizer is in this process (tokenizer_of)


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


@runtime_checkable
class Tokenized(Model, Protocol):
    """A model whose tokenizer (a transformers tokenizer) is in this process."""

    tokenizer: Any


@runtime_checkable
class LocalModel(Tokenized, Protocol):
    """A model whose weights are in this process (declares ``Capability.ACTIVATIONS``).

    ``model`` is the torch causal LM, ``device`` where its weights are, ``eos_ids`` the token
    ids that end a generation. Module paths are the model's own (``model.layers.3.mlp``).
    """

    model: Any
    device: Any
    eos_ids: set[int]

    def render(self, prompt: Prompt) -> str:
        """The exact text fed to the model: chat template, generation prompt, then prefill."""
        ...

    def module(self, path: str) -> Any:
        """The submodule at ``path``; ``BadInputError`` (with close matches) if unknown."""
        ...

    def capture(self, paths: Sequence[str]) -> AbstractContextManager[dict[str, list[Any]]]:
        """Record each module's output on every forward pass inside the block:
        ``{path: [Float[Tensor, "batch seq d"] per forward pass]}``, detached, on CPU."""
        ...

    def activations(self, prompts: Sequence[Prompt | str],
                    paths: Sequence[str]) -> list[dict[str, Any]]:
        """One forward pass per prompt; for each, ``{path: Float[Tensor, "seq d"]}``."""
        ...

    def next_token_logprobs(self, texts: Sequence[str]) -> Any:
        """Float[Tensor, "batch vocab"] on CPU: log P(next token) after each rendered text."""
        ...


def _missing(model: Model, caps: Sequence[Capability]) -> str | None:
    """Why ``model`` cannot do ``caps`` (the missing ones and what it has), or None if it can."""
    missing = [c.value for c in dict.fromkeys(caps) if c not in model.capabilities]
    if not missing:
        return None
    have = ", ".join(sorted(c.value for c in model.capabilities))
    return f"model '{model.spec}' does not support {', '.join(missing)} (it supports: {have})"


def require(model: Model, *caps: Capability) -> None:
    """Raise ``CapabilityError`` unless ``model`` declares every capability in ``caps``."""
    why = _missing(model, caps)
    if why:
        raise CapabilityError(why)


def unwrap(model: Model) -> Any:
    """The back-end under any wrappers (``CachedModel.inner``)."""
    inner: Any = model
    while hasattr(inner, "inner"):
        inner = inner.inner
    return inner


def local_or_none(model: Model, *caps: Capability) -> LocalModel | None:
    """The ``LocalModel`` under ``model``'s wrappers, or None when ``model`` is not local (or
    lacks one of ``caps``): for callers with another way to do the work."""
    if _missing(model, (Capability.ACTIVATIONS, *caps)):
        return None
    inner = unwrap(model)
    return inner if isinstance(inner, LocalModel) else None


def local_model(model: Model, *caps: Capability, purpose: str = "this") -> LocalModel:
    """The ``LocalModel`` under ``model``'s wrappers; a ``CapabilityError`` that names the
    back-end, the missing capability and ``purpose`` when ``model`` is not local."""
    hint = f"{purpose} needs a local model (hf:, gguf:, builtin:)"
    backend = str(model.spec).partition(":")[0]
    why = _missing(model, (Capability.ACTIVATIONS, *caps))
    if why:
        raise CapabilityError(f"{hint}; {backend} back-end: {why}")
    local = local_or_none(model, *caps)
    if local is None:
        raise CapabilityError(f"{hint}; {backend} back-end: model '{model.spec}' declares "
                              f"activations but {type(unwrap(model)).__name__} is not a "
                              "LocalModel")
    return local


def tokenizer_of(model: Model) -> Any | None:
    """The back-end's own tokenizer under ``model``'s wrappers when it is in this process
    (``Capability.TOKENIZER``), else None."""
    if Capability.TOKENIZER not in model.capabilities:
        return None
    inner = unwrap(model)
    return inner.tokenizer if isinstance(inner, Tokenized) else None


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
