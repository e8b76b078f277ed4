"""The ``LocalModel`` protocol: the hf back-end (the real SmolLM2) implements it, wrappers are
looked under, and a model whose weights are elsewhere (a real ``openai:`` back-end talking to a
tiny local HTTP server) gets a ``CapabilityError`` naming its back-end, the missing capability
and the part that asked."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

from faithline.errors import CapabilityError
from faithline.models import base
from faithline.models.base import Capability, LocalModel, Tokenized
from faithline.models.cache import CachedModel, CallCache
from faithline.models.openai import OpenAIModel
from faithline.types import Generation, GenParams, Prompt, Transcript

Q = Prompt.user("What is the capital of France? Answer in one word.")


@pytest.fixture
def remote(stub_server: Callable[..., Any]) -> OpenAIModel:
    """A real ``openai:`` model; its server answers only the reachability check."""
    stub = stub_server(lambda k, body: (500, {}))
    return OpenAIModel("stub", stub.url, f"openai:stub@{stub.url}")


class Forwarding:
    """A wrapper that copies its model's capabilities but is no ``CachedModel`` (no ``inner``),
    like the recording wrappers of the pipeline tests: it is no local model."""

    def __init__(self, model: Any) -> None:
        self.wrapped, self.spec, self.capabilities = model, model.spec, model.capabilities

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Generation]]:
        return self.wrapped.generate(prompts, params)

    def score(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        return self.wrapped.score(prompt, continuations)

    def info(self) -> dict[str, Any]:
        return self.wrapped.info()


def test_the_hf_back_end_is_a_local_model(smollm2: Any) -> None:
    pytest.importorskip("torch")
    assert isinstance(smollm2, LocalModel) and isinstance(smollm2, Tokenized)
    assert {Capability.ACTIVATIONS, Capability.TOKENIZER} <= smollm2.capabilities
    assert base.local_model(smollm2, Capability.ACTIVATIONS, purpose="a test") is smollm2
    assert base.local_or_none(smollm2, Capability.SCORE) is smollm2
    assert base.tokenizer_of(smollm2) is smollm2.tokenizer


def test_next_token_logprobs_agree_with_score_and_ignore_padding(smollm2: Any) -> None:
    import torch

    local = base.local_model(smollm2)
    prompt = Q.with_prefill("The capital of France is")
    (paris,) = local.tokenizer(" Paris", add_special_tokens=False)["input_ids"]
    texts = [local.render(prompt), local.render(Prompt.user("Name a colour."))]
    batched = local.next_token_logprobs(texts)  # the second text is left-padded
    assert batched.shape == (2, len(local.tokenizer)) and batched.device.type == "cpu"
    assert torch.allclose(batched.exp().sum(-1), torch.ones(2), atol=1e-3)
    assert float(batched[0, paris]) == pytest.approx(smollm2.score(prompt, [" Paris"])[0],
                                                     abs=0.3)  # bf16 on CPU
    assert int(batched[0].argmax()) == paris
    (alone,) = local.next_token_logprobs(texts[1:])
    assert int(alone.argmax()) == int(batched[1].argmax())
    assert float(alone.max()) == pytest.approx(float(batched[1].max()), abs=0.3)


def test_capture_through_the_protocol_matches_activations(smollm2: Any) -> None:
    import torch

    local = base.local_model(smollm2, Capability.ACTIVATIONS)
    text = local.render(Q)
    enc = local.tokenizer(text, return_tensors="pt", add_special_tokens=False).to(local.device)
    with local.capture(["model.layers.2"]) as store, torch.inference_mode():
        local.model(**enc)
    (acts,) = local.activations([text], ["model.layers.2"])
    assert torch.equal(store["model.layers.2"][0][0], acts["model.layers.2"])
    assert local.module("model.layers.2") is dict(local.model.named_modules())["model.layers.2"]


def test_wrappers_are_looked_under(smollm2: Any, tmp_path: Path) -> None:
    cached = CachedModel(smollm2, CallCache(tmp_path / "calls.sqlite"))
    assert base.unwrap(cached) is smollm2
    assert base.local_model(cached, Capability.ACTIVATIONS, purpose="a test") is smollm2
    assert base.local_or_none(cached) is smollm2
    assert base.tokenizer_of(cached) is smollm2.tokenizer
    forwarding = Forwarding(smollm2)  # declares what it wraps, but is no LocalModel
    assert base.local_or_none(forwarding) is None and base.tokenizer_of(forwarding) is None
    with pytest.raises(CapabilityError, match="declares activations but Forwarding is not a "
                                              "LocalModel"):
        base.local_model(forwarding, purpose="a test")


def test_a_remote_model_is_not_local(remote: OpenAIModel, tmp_path: Path) -> None:
    assert not isinstance(remote, LocalModel)
    assert base.local_or_none(remote) is None and base.tokenizer_of(remote) is None
    assert base.local_or_none(CachedModel(remote, CallCache(tmp_path / "c.sqlite"))) is None
    with pytest.raises(CapabilityError, match=r"^interp capture needs a local model \(hf:, "
                       r"gguf:, builtin:\); openai back-end: model 'openai:stub@http://\S+' "
                       r"does not support activations \(it supports: generate,"):
        base.local_model(remote, Capability.ACTIVATIONS, purpose="interp capture")


def test_parts_that_need_a_local_model_name_the_back_end(remote: OpenAIModel,
                                                          tmp_path: Path) -> None:
    """interp capture, classifier embedding features and the legibility reference."""
    pytest.importorskip("sklearn")
    from faithline.interp.capture import CaptureConfig, capture_transcripts
    from faithline.legibility.scoring import ReferenceScorer
    from faithline.monitors.classifier import Embedder

    t = Transcript(id="a", prompt="p", cot="c", answer="x")
    cfg = CaptureConfig(model=remote.spec, out=str(tmp_path / "acts"))
    calls: list[tuple[str, Callable[[], Any]]] = [
        ("interp capture", lambda: capture_transcripts(remote, [t], cfg, progress=False)),
        ("embedding features", lambda: Embedder(remote).transform(["some text"])),
        ("a reference scored token by token", lambda: ReferenceScorer.load(remote)),
    ]
    for purpose, call in calls:
        with pytest.raises(CapabilityError, match=rf"^{purpose} needs a local model .*openai "
                                                  r"back-end.*does not support activations"):
            call()
    assert not (tmp_path / "acts").exists()  # refused before anything was written
