"""The ``openai:<model>@<base_url>`` back-end: any OpenAI-compatible chat-completions server.

    load_model("openai:Qwen/Qwen3-8B@http://localhost:8000/v1")      # vLLM, llama.cpp, Ollama...
    load_model("openai:builtin:smollm2-135m@http://127.0.0.1:8000/v1")  # `faithline serve`

The spec splits on its first '@'. The key comes from ``OPENAI_API_KEY`` (sent as a Bearer
token when set). Requests go through ``httpx``: one chat completion per prompt, several at once
(``concurrency``), retried with exponential backoff on connection errors, timeouts, 429 and 5xx.

Limits, by design:
- Prefill sends the prefill as a final assistant message with vLLM's
  ``continue_final_message: true, add_generation_prompt: false`` (vLLM and ``faithline serve``
  honour it; the hosted OpenAI API does not support prefill and refuses or ignores it).
- ``score`` reads the top-20 logprobs of the first answer token, so it handles single-token
  continuations only: a continuation matching a top-20 token (as given, or with its leading
  space added or removed) gets that token's logprob; one absent from the top 20 gets
  ``float('-inf')`` (the client has no tokenizer, so it cannot tell a rare token from a
  multi-token word); a continuation of several words raises ``CapabilityError``.
- ``max_tokens`` is sent (not ``max_completion_tokens``): the name every compatible server knows.
"""

from __future__ import annotations

import logging
import math
import os
import random
import threading
import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from typing import Any
from urllib.parse import urlparse

import httpx

from faithline.errors import BackendError, BackendUnavailableError, BadInputError, CapabilityError
from faithline.models.base import Capability, check_params
from faithline.types import FinishReason, Generation, GenParams, Prompt

log = logging.getLogger(__name__)

CAPABILITIES = frozenset({
    Capability.GENERATE, Capability.N_SAMPLES, Capability.SAMPLING, Capability.STOP,
    Capability.PREFILL, Capability.LOGPROBS, Capability.SCORE,
})
SCORE_TOP = 20


class OpenAIModel:
    """A model behind an OpenAI-compatible ``/chat/completions`` endpoint."""

    capabilities = CAPABILITIES

    def __init__(self, model: str, base_url: str, spec: str, *, concurrency: int = 8,
                 timeout: float = 120.0, max_tries: int = 4, backoff: float = 1.0,
                 connect_timeout: float = 5.0) -> None:
        if concurrency < 1 or max_tries < 1:
            raise BadInputError("concurrency and max_tries must be >= 1")
        self.model, self.spec = model, spec
        self.base_url = base_url.rstrip("/")
        self.public_url = redact(self.base_url)  # for messages and info: no user:password
        self.label = spec.replace(base_url, self.public_url)
        self.concurrency, self.max_tries, self.backoff = concurrency, max_tries, backoff
        self._slots = threading.BoundedSemaphore(concurrency)
        key = os.environ.get("OPENAI_API_KEY")
        self._client = httpx.Client(
            timeout=httpx.Timeout(timeout, connect=min(connect_timeout, timeout)),
            headers={"Authorization": f"Bearer {key}"} if key else {},
        )
        self._check_reachable(connect_timeout)

    def _check_reachable(self, timeout: float) -> None:
        url, shown = f"{self.base_url}/models", f"{self.public_url}/models"
        try:
            r = self._client.get(url, timeout=timeout)
        except httpx.TransportError as e:
            self._client.close()
            raise BackendUnavailableError(
                f"model '{self.label}': cannot reach the server at {shown} ({type(e).__name__}: "
                f"{str(e) or 'no answer'})") from None
        if r.status_code in (401, 403):
            self._client.close()
            raise BackendError(f"model '{self.label}': {shown} refused the API key (HTTP "
                               f"{r.status_code}: {server_message(r)}); check OPENAI_API_KEY")
        if r.status_code == 404:
            log.warning("%s: %s answered 404; is the base URL right (it usually ends in /v1)?",
                        self.label, shown)

    def close(self) -> None:
        self._client.close()

    # ----- HTTP ------------------------------------------------------------------------------
    def _post(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST with retries on connection errors, timeouts, 429 and 5xx; JSON answer."""
        url, shown = f"{self.base_url}{path}", f"{self.public_url}{path}"
        failure, unreachable = "", False
        for attempt in range(self.max_tries):
            wait = self.backoff * 2**attempt * (1 + random.random() / 4)
            try:
                with self._slots:
                    r = self._client.post(url, json=body)
            except httpx.TransportError as e:
                failure = f"{type(e).__name__}: {str(e) or 'no answer'}"
                unreachable = isinstance(e, httpx.ConnectError)
            else:
                if r.is_success:
                    return self._json(r, shown)
                failure = f"HTTP {r.status_code}: {server_message(r)}"
                if r.status_code != 429 and r.status_code < 500:
                    raise BackendError(f"model '{self.label}': {shown} answered {failure}")
                unreachable = False
                wait = max(wait, retry_after(r))
            if attempt + 1 < self.max_tries:
                log.warning("%s: %s failed (%s); retry %d in %.1fs", self.label, shown, failure,
                            attempt + 1, wait)
                time.sleep(wait)
        error = BackendUnavailableError if unreachable else BackendError
        raise error(f"model '{self.label}': {shown} failed {self.max_tries} times; last: {failure}")

    def _json(self, r: httpx.Response, url: str) -> dict[str, Any]:
        try:
            data = r.json()
        except ValueError:
            data = None
        if not isinstance(data, dict):
            raise BackendError(f"model '{self.label}': {url} answered non-JSON: {r.text[:200]!r}")
        return data

    def _chat_body(self, prompt: Prompt, params: GenParams) -> dict[str, Any]:
        messages = [m.to_dict() for m in prompt.messages]
        body: dict[str, Any] = {
            "model": self.model, "messages": messages, "max_tokens": params.max_new_tokens,
            "temperature": params.temperature, "top_p": params.top_p, "n": params.n,
        }
        if prompt.prefill:
            messages.append({"role": "assistant", "content": prompt.prefill})
            body.update(continue_final_message=True, add_generation_prompt=False)
        if params.stop:
            body["stop"] = list(params.stop)
        if params.seed is not None:
            body["seed"] = params.seed
        if params.logprobs:
            body["logprobs"] = True
        return body

    # ----- the Model protocol ----------------------------------------------------------------
    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Generation]]:
        check_params(self, params)
        if not prompts:
            return []
        pool = ThreadPoolExecutor(max_workers=min(self.concurrency, len(prompts)))
        try:
            return list(pool.map(lambda p: self._generate_one(p, params), prompts))
        finally:
            pool.shutdown(wait=True, cancel_futures=True)

    def _generate_one(self, prompt: Prompt, params: GenParams) -> list[Generation]:
        data = self._post("/chat/completions", self._chat_body(prompt, params))
        choices = sorted(data.get("choices") or [], key=lambda c: c.get("index", 0))
        if len(choices) != params.n:
            raise BackendError(f"model '{self.label}': asked for n={params.n} choices, got "
                               f"{len(choices)} (does the server support n?)")
        return [self._generation(c, params.logprobs) for c in choices]

    def _generation(self, choice: dict[str, Any], logprobs: bool) -> Generation:
        text = (choice.get("message") or {}).get("content") or ""
        finish: FinishReason = "length" if choice.get("finish_reason") == "length" else "stop"
        if not logprobs:
            return Generation(text=text, finish_reason=finish)
        try:
            content = choice["logprobs"]["content"]
            tokens = tuple(str(e["token"]) for e in content)
            lps = tuple(float(e["logprob"]) for e in content)
        except (KeyError, TypeError, ValueError):
            raise BackendError(f"model '{self.label}': logprobs were asked for but the server "
                               f"returned none") from None
        return Generation(text=text, finish_reason=finish, tokens=tokens, logprobs=lps)

    def score(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        """Logprob of each single-token continuation from the first token's top-20 logprobs."""
        for c in continuations:
            if not c:
                raise BadInputError("score: every continuation must be non-empty")
            if len(c.split()) > 1:
                raise CapabilityError(
                    f"model '{self.label}' scores single-token continuations only (from the "
                    f"top-{SCORE_TOP} logprobs); '{c}' has several words")
        if not continuations:
            return []
        params = GenParams(max_new_tokens=1, temperature=0.0, logprobs=True)
        body = {**self._chat_body(prompt, params), "top_logprobs": SCORE_TOP}
        data = self._post("/chat/completions", body)
        try:
            first = data["choices"][0]["logprobs"]["content"][0]["top_logprobs"]
            top = {str(e["token"]): float(e["logprob"]) for e in first}
        except (KeyError, IndexError, TypeError, ValueError):
            raise BackendError(f"model '{self.label}': the server returned no top logprobs "
                               f"(needed by score)") from None
        return [match_token(top, c) for c in continuations]

    def info(self) -> dict[str, Any]:
        return {"spec": self.label, "backend": "openai", "model": self.model,
                "base_url": self.public_url}


def match_token(top: dict[str, float], continuation: str) -> float:
    """The logprob of ``continuation`` among ``top`` tokens, tried as given, then with its
    leading space toggled; ``-inf`` when absent."""
    toggled = continuation[1:] if continuation.startswith(" ") else f" {continuation}"
    for candidate in (continuation, toggled):
        if candidate in top:
            return top[candidate]
    return -math.inf


def server_message(r: httpx.Response) -> str:
    """The error message in a server's answer (OpenAI, vLLM, FastAPI or plain text shapes)."""
    try:
        data = r.json()
    except ValueError:
        return r.text.strip()[:300] or r.reason_phrase
    if isinstance(data, dict):
        err = data.get("error")
        if isinstance(err, dict) and "message" in err:
            return str(err["message"])
        for value in (err, data.get("message"), data.get("detail")):
            if value:
                return str(value)[:300]
    return str(data)[:300]


def redact(url: str) -> str:
    """``url`` without any ``user:password@`` part."""
    parts = urlparse(url)
    if "@" not in parts.netloc:
        return url
    return parts._replace(netloc=parts.netloc.rpartition("@")[2]).geturl()


def retry_after(r: httpx.Response) -> float:
    """Seconds a ``Retry-After`` header asks to wait (capped at 60), else 0."""
    try:
        return min(float(r.headers.get("Retry-After", 0)), 60.0)
    except ValueError:
        return 0.0


def parse_openai_spec(rest: str, spec: str) -> tuple[str, str]:
    """``<model>@<base_url>`` -> (model, base_url), split on the first '@'."""
    model, at, url = rest.partition("@")
    usage = "use openai:<model>@<base_url>, e.g. openai:my-model@http://localhost:8000/v1"
    if not at or not url:
        raise BadInputError(f"model spec '{spec}' has no base URL; {usage}")
    if not model:
        raise BadInputError(f"model spec '{spec}' has no model name; {usage}")
    parsed = urlparse(url)
    if parsed.scheme not in ("http", "https") or not parsed.netloc:
        raise BadInputError(f"model spec '{spec}': base URL '{url}' is not http(s)://host...")
    return model, url


def load_openai(rest: str, spec: str) -> OpenAIModel:
    """``openai:<model>@<base_url>``; raises ``BackendUnavailableError`` if nothing answers."""
    model, url = parse_openai_spec(rest, spec)
    return OpenAIModel(model, url, spec)
