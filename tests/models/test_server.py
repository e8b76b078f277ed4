"""The OpenAI-compatible server, over HTTP, serving builtin:smollm2-135m in a subprocess."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from faithline.types import GenParams, Prompt

QUESTION = "What is the capital of France?"
USER = [{"role": "user", "content": QUESTION}]


def post(url: str, path: str, body: dict[str, Any], status: int = 200) -> dict[str, Any]:
    r = httpx.post(f"{url}{path}", json=body, timeout=60)
    assert r.status_code == status, r.text
    data: dict[str, Any] = r.json()
    return data


def chat(url: str, **body: Any) -> dict[str, Any]:
    return post(url, "/chat/completions", {"messages": USER, "max_tokens": 12,
                                           "temperature": 0, **body})


def content(answer: dict[str, Any], i: int = 0) -> str:
    text: str = answer["choices"][i]["message"]["content"]
    return text


def test_models_lists_the_served_spec(server_url: str) -> None:
    r = httpx.get(f"{server_url}/models", timeout=10)
    assert r.status_code == 200
    assert [m["id"] for m in r.json()["data"]] == ["builtin:smollm2-135m"]


def test_chat_completion_shape_and_usage(server_url: str) -> None:
    answer = chat(server_url, max_tokens=8)
    assert answer["object"] == "chat.completion"
    choice = answer["choices"][0]
    assert choice["index"] == 0 and choice["message"]["role"] == "assistant"
    assert content(answer).strip()
    assert choice["finish_reason"] in ("stop", "length")
    usage = answer["usage"]
    assert usage["prompt_tokens"] > 5 and 0 < usage["completion_tokens"] <= 8
    assert usage["total_tokens"] == usage["prompt_tokens"] + usage["completion_tokens"]


def test_greedy_is_deterministic_and_matches_the_local_model(server_url: str,
                                                              local_model: Any) -> None:
    first, second = content(chat(server_url)), content(chat(server_url))
    assert first == second
    local = local_model.generate([Prompt.user(QUESTION)], GenParams(max_new_tokens=12))
    assert first == local[0][0].text


def test_n_samples_with_a_seed_are_reproducible(server_url: str) -> None:
    body = {"n": 2, "temperature": 1.0, "seed": 7, "max_tokens": 10}
    answer = chat(server_url, **body)
    assert [c["index"] for c in answer["choices"]] == [0, 1]
    texts = [content(answer, i) for i in range(2)]
    assert all(t.strip() for t in texts)
    again = chat(server_url, **body)
    assert [content(again, i) for i in range(2)] == texts


def test_stop_string_truncates(server_url: str) -> None:
    full = content(chat(server_url, max_tokens=16))
    stop = full[len(full) // 2 : len(full) // 2 + 3]
    answer = chat(server_url, max_tokens=16, stop=[stop, "@@never@@"])
    assert content(answer) == full[: full.find(stop)]
    assert answer["choices"][0]["finish_reason"] == "stop"


def test_prefill_continues_the_assistant_turn(server_url: str, local_model: Any) -> None:
    prefill = "The capital of France is"
    answer = chat(server_url, max_tokens=8, continue_final_message=True,
                  add_generation_prompt=False,
                  messages=[*USER, {"role": "assistant", "content": prefill}])
    assert "Paris" in content(answer)
    local = local_model.generate([Prompt.user(QUESTION, prefill=prefill)],
                                 GenParams(max_new_tokens=8))
    assert content(answer) == local[0][0].text


def test_logprobs_and_top_logprobs(server_url: str) -> None:
    answer = chat(server_url, max_tokens=8, logprobs=True, top_logprobs=3)
    entries = answer["choices"][0]["logprobs"]["content"]
    assert len(entries) == answer["usage"]["completion_tokens"] > 0
    for e in entries:
        assert e["logprob"] <= 0
        assert bytes(e["bytes"]).decode("utf-8", errors="replace") == e["token"]
        top = e["top_logprobs"]
        assert len(top) == 3
        assert [t["logprob"] for t in top] == sorted((t["logprob"] for t in top), reverse=True)
        assert top[0]["token"] == e["token"]  # greedy: the chosen token is the top one
        assert top[0]["logprob"] == pytest.approx(e["logprob"], abs=1e-4)
    assert b"".join(bytes(e["bytes"]) for e in entries).decode() == content(answer)


def test_raw_completion_matches_chat(server_url: str, local_model: Any) -> None:
    text = local_model.render(Prompt.user(QUESTION))
    raw = post(server_url, "/completions", {"prompt": text, "max_tokens": 8, "temperature": 0})
    assert raw["object"] == "text_completion"
    assert raw["choices"][0]["text"] == content(chat(server_url, max_tokens=8))


def test_echo_gives_prompt_logprobs(server_url: str) -> None:
    def prompt_logprobs(text: str) -> dict[str, Any]:
        body = {"prompt": text, "max_tokens": 0, "echo": True, "logprobs": 2}
        choice = post(server_url, "/completions", body)["choices"][0]
        assert choice["text"] == text
        logprobs: dict[str, Any] = choice["logprobs"]
        return logprobs

    good = prompt_logprobs("The capital of France is Paris")
    bad = prompt_logprobs("The capital of France is Banana")
    assert "".join(good["tokens"]) == "The capital of France is Paris"
    assert good["token_logprobs"][0] is None
    assert all(lp <= 0 for lp in good["token_logprobs"][1:])
    assert good["text_offset"][:2] == [0, len(good["tokens"][0])]
    assert sum(good["token_logprobs"][1:]) > sum(bad["token_logprobs"][1:])


@pytest.mark.parametrize(("body", "needle"), [
    ({"messages": USER, "temperature": -1}, "temperature"),
    ({"messages": USER, "n": 0}, "'n'"),
    ({"messages": USER, "max_tokens": "x"}, "max_tokens"),
    ({"messages": USER, "stop": 3}, "stop"),
    ({"messages": USER, "stream": True}, "stream"),
    ({"messages": USER, "top_logprobs": 2}, "top_logprobs"),
    ({"messages": USER, "continue_final_message": True}, "final assistant"),
    ({"messages": [{"role": "tool", "content": "x"}]}, "role"),
    ({"messages": []}, "messages"),
])
def test_bad_chat_params_answer_400(server_url: str, body: dict[str, Any], needle: str) -> None:
    error = post(server_url, "/chat/completions", body, status=400)["error"]
    assert error["type"] == "invalid_request_error"
    assert needle in error["message"]


@pytest.mark.parametrize("raw", [b"{bad json", b"[1, 2]", b""])
def test_malformed_json_answers_400(server_url: str, raw: bytes) -> None:
    r = httpx.post(f"{server_url}/chat/completions", content=raw, timeout=10)
    assert r.status_code == 400
    assert r.json()["error"]["type"] == "invalid_request_error"
    assert "JSON" in r.json()["error"]["message"]


def test_unknown_route_is_404_and_wrong_method_405(server_url: str) -> None:
    assert httpx.get(f"{server_url}/nope", timeout=10).status_code == 404
    assert httpx.post(f"{server_url}/embeddings", json={}, timeout=10).status_code == 404
    assert httpx.get(f"{server_url}/chat/completions", timeout=10).status_code == 405


def test_concurrent_requests_all_succeed_alike(server_url: str) -> None:
    expected = content(chat(server_url, max_tokens=6))
    with ThreadPoolExecutor(4) as pool:
        answers = list(pool.map(lambda _: content(chat(server_url, max_tokens=6)), range(4)))
    assert answers == [expected] * 4
