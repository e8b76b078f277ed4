"""The ``openai:`` back-end against a real faithline server and tiny scripted servers."""

from __future__ import annotations

import math
import socket
import time
from collections.abc import Callable
from typing import Any

import pytest

from faithline.errors import BackendError, BackendUnavailableError, BadInputError, CapabilityError
from faithline.models import Capability, load_model, require
from faithline.models.openai import OpenAIModel
from faithline.types import GenParams, Message, Prompt

QUESTION = Prompt.user("What is the capital of France?")
PREFILLED = QUESTION.with_prefill("The capital of France is")
MakeStub = Callable[..., Any]


@pytest.fixture(scope="module")
def remote(server_url: str) -> Any:
    model = load_model(f"openai:builtin:smollm2-135m@{server_url}")
    yield model
    model.close()


def chat_reply(text: str = "ok", n: int = 1) -> dict[str, Any]:
    """A minimal valid chat-completions answer."""
    return {"object": "chat.completion", "choices": [
        {"index": i, "message": {"role": "assistant", "content": text},
         "finish_reason": "stop"} for i in range(n)]}


def stub_model(url: str, **kwargs: Any) -> OpenAIModel:
    return OpenAIModel("stub", url, f"openai:stub@{url}", backoff=0.01, **kwargs)


# ----- specs and reachability --------------------------------------------------------------------
@pytest.mark.parametrize("spec", ["openai:x", "openai:x@", "openai:@http://127.0.0.1:1/v1",
                                  "openai:x@ftp://127.0.0.1/v1", "openai:x@127.0.0.1:8000"])
def test_bad_specs_are_bad_input(spec: str) -> None:
    with pytest.raises(BadInputError):
        load_model(spec)


def test_unreachable_server_fails_fast() -> None:
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    start = time.monotonic()
    with pytest.raises(BackendUnavailableError, match=f"127.0.0.1:{port}"):
        load_model(f"openai:m@http://127.0.0.1:{port}/v1")
    assert time.monotonic() - start < 5


def test_capabilities_and_info(remote: Any, server_url: str) -> None:
    require(remote, Capability.PREFILL, Capability.LOGPROBS, Capability.SCORE)
    with pytest.raises(CapabilityError):
        require(remote, Capability.ACTIVATIONS)
    assert remote.info() == {"spec": f"openai:builtin:smollm2-135m@{server_url}",
                             "backend": "openai", "model": "builtin:smollm2-135m",
                             "base_url": server_url}


# ----- against the real faithline server ---------------------------------------------------------
def test_greedy_generation_matches_the_local_model(remote: Any, local_model: Any) -> None:
    prompts = [QUESTION, Prompt.user("Name a colour.")]
    params = GenParams(max_new_tokens=10)
    first, second = remote.generate(prompts, params), remote.generate(prompts, params)
    assert [g[0].text for g in first] == [g[0].text for g in second]
    assert all(g[0].text.strip() for g in first)
    assert [g[0].text for g in first] == [g[0].text for g in local_model.generate(prompts, params)]


def test_n_samples(remote: Any) -> None:
    out = remote.generate([QUESTION], GenParams(max_new_tokens=8, temperature=1.0, n=2, seed=3))
    assert len(out) == 1 and len(out[0]) == 2
    assert all(g.text.strip() for g in out[0])


def test_stop_strings_truncate(remote: Any) -> None:
    full = remote.generate([QUESTION], GenParams(max_new_tokens=16))[0][0].text
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    cut = remote.generate([QUESTION], GenParams(max_new_tokens=16, stop=(stop,)))[0][0]
    assert cut.text == full[: full.find(stop)]
    assert cut.finish_reason == "stop"


def test_prefill_reaches_the_server(remote: Any, local_model: Any) -> None:
    params = GenParams(max_new_tokens=8)
    text = remote.generate([PREFILLED], params)[0][0].text
    assert "Paris" in text
    assert text == local_model.generate([PREFILLED], params)[0][0].text
    assert text != remote.generate([QUESTION], params)[0][0].text


def test_logprobs_one_per_token(remote: Any) -> None:
    gen = remote.generate([QUESTION], GenParams(max_new_tokens=8, logprobs=True))[0][0]
    assert gen.tokens is not None and gen.logprobs is not None
    assert 0 < len(gen.tokens) == len(gen.logprobs) <= 8
    assert all(lp <= 0 for lp in gen.logprobs)
    assert "".join(gen.tokens) == gen.text


def test_score_single_tokens(remote: Any, local_model: Any) -> None:
    paris, london = remote.score(PREFILLED, [" Paris", " London"])
    assert math.isfinite(paris) and math.isfinite(london)
    assert paris > london
    assert paris == pytest.approx(local_model.score(PREFILLED, [" Paris"])[0], abs=1e-3)
    # without the leading space it still matches, preferring the exact token when both exist
    assert remote.score(PREFILLED, ["London"]) == [london]
    assert remote.score(PREFILLED, [" zebra"]) == [-math.inf]  # absent from the top 20


def test_score_multi_token_raises_capability_error(remote: Any) -> None:
    with pytest.raises(CapabilityError, match="single-token"):
        remote.score(QUESTION, ["Paris is the capital"])


def test_server_400_becomes_backend_error(remote: Any) -> None:
    with pytest.raises(BackendError, match=r"400.*'messages' must be a non-empty list") as info:
        remote.generate([Prompt(messages=())], GenParams(max_new_tokens=4))
    assert "openai:builtin:smollm2-135m" in str(info.value)
    with pytest.raises(BackendError, match="role must be"):
        remote.generate([Prompt((Message("tool", "x"),))],  # type: ignore[arg-type]
                        GenParams(max_new_tokens=4))


# ----- against scripted servers ------------------------------------------------------------------
def test_retries_after_503_then_succeeds(stub_server: MakeStub) -> None:
    stub = stub_server(lambda k, _: (503, {"error": {"message": "busy"}}) if k == 0
                       else (200, chat_reply("fine")))
    out = stub_model(stub.url).generate([QUESTION], GenParams(max_new_tokens=4))
    assert out[0][0].text == "fine"
    assert len(stub.bodies) == 2


def test_gives_up_after_max_tries(stub_server: MakeStub) -> None:
    stub = stub_server(lambda k, _: (429, {"error": {"message": "slow down"}}))
    with pytest.raises(BackendError, match=r"4 times.*429: slow down"):
        stub_model(stub.url).generate([QUESTION], GenParams(max_new_tokens=4))
    assert len(stub.bodies) == 4


def test_client_errors_are_not_retried(stub_server: MakeStub) -> None:
    stub = stub_server(lambda k, _: (400, {"error": {"message": "bad temperature"}}))
    with pytest.raises(BackendError, match=r"openai:stub@.*400: bad temperature"):
        stub_model(stub.url).generate([QUESTION], GenParams(max_new_tokens=4))
    assert len(stub.bodies) == 1


def test_timeouts_are_retried(stub_server: MakeStub) -> None:
    def respond(k: int, _: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        if k == 0:
            time.sleep(1.0)
        return 200, chat_reply("late")

    stub = stub_server(respond)
    out = stub_model(stub.url, timeout=0.3).generate([QUESTION], GenParams(max_new_tokens=4))
    assert out[0][0].text == "late" and len(stub.bodies) == 2


def test_concurrency_limit_and_order(stub_server: MakeStub) -> None:
    def respond(k: int, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        time.sleep(0.1)
        return 200, chat_reply(body["messages"][-1]["content"].upper())

    stub = stub_server(respond)
    prompts = [Prompt.user(f"q{i}") for i in range(6)]
    out = stub_model(stub.url, concurrency=2).generate(prompts, GenParams(max_new_tokens=4))
    assert [g[0].text for g in out] == [f"Q{i}" for i in range(6)]
    assert stub.max_in_flight == 2


def test_request_body_prefill_and_api_key(stub_server: MakeStub,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OPENAI_API_KEY", "sk-secret")
    stub = stub_server(lambda k, body: (200, chat_reply("x", n=body["n"])))
    model = stub_model(stub.url)
    model.generate([PREFILLED], GenParams(max_new_tokens=5, n=2, stop=("\n",), seed=1))
    body = stub.bodies[0]
    assert body["messages"][-1] == {"role": "assistant", "content": "The capital of France is"}
    assert body["continue_final_message"] is True and body["add_generation_prompt"] is False
    assert (body["n"], body["max_tokens"], body["stop"], body["seed"]) == (2, 5, ["\n"], 1)
    assert stub.auth == ["Bearer sk-secret"]
    assert "sk-secret" not in repr(model.info())


def test_missing_choices_is_a_backend_error(stub_server: MakeStub) -> None:
    stub = stub_server(lambda k, _: (200, chat_reply("one", n=1)))
    with pytest.raises(BackendError, match="n=2"):
        stub_model(stub.url).generate([QUESTION], GenParams(max_new_tokens=4, n=2))


def test_url_credentials_never_show(stub_server: MakeStub,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OPENAI_API_KEY", raising=False)
    stub = stub_server(lambda k, _: (500, {"error": {"message": "down"}}))
    url = stub.url.replace("http://", "http://user:hunter2@")
    model = OpenAIModel("m", url, f"openai:m@{url}", backoff=0.01, max_tries=1)
    assert model.info()["base_url"] == stub.url and "hunter2" not in repr(model.info())
    with pytest.raises(BackendError, match="down") as info:
        model.generate([QUESTION], GenParams(max_new_tokens=4))
    assert "hunter2" not in str(info.value)
