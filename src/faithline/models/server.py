"""An OpenAI-compatible HTTP server over any faithline ``Model`` (stdlib only).

Serve a local model, then reach it from anywhere through the ``openai:`` back-end:

    python -m faithline.models.server --model builtin:smollm2-135m --port 8000
    # or: faithline serve --model builtin:smollm2-135m --port 8000
    load_model("openai:smollm2@http://127.0.0.1:8000/v1")

Endpoints:
    ``GET  /v1/models``            the one served model (its id is its spec string).
    ``POST /v1/chat/completions``  messages, max_tokens / max_completion_tokens (default 256),
        temperature (default 1.0, as in the OpenAI API), top_p, n, stop, seed, logprobs,
        top_logprobs, and vLLM's ``continue_final_message`` / ``add_generation_prompt``: with
        ``continue_final_message`` the final assistant message becomes the prefill.
    ``POST /v1/completions``       raw ``prompt`` text (a string or a list of strings), no chat
        template; max_tokens (default 16, may be 0), echo, logprobs (an int: top-k).

Notes: one model serves every request and a lock serialises its calls. The request's ``model``
field is not checked. Top-k alternatives and prompt logprobs (``echo`` with ``logprobs``) come
from one extra forward pass and need a local ``HFModel``; for other models ``top_logprobs``
lists stay empty and echoed logprobs are refused. Streaming, tools, penalties and logit bias
are refused with HTTP 400, never silently ignored. On CPU cores shared with other work, run
with ``OMP_NUM_THREADS=1``: contended OpenMP threads slow torch down many times over.
"""

from __future__ import annotations

import argparse
import json
import sys
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from faithline.errors import BadInputError, CapabilityError, FaithlineError
from faithline.models.base import Model, check_params
from faithline.models.hf import HFModel
from faithline.types import Generation, GenParams, Message, Prompt, Role

CHAT_MAX_TOKENS = 256
COMPLETION_MAX_TOKENS = 16
MAX_TOP_LOGPROBS = 20
ROLES: dict[Any, Role] = {"system": "system", "developer": "system", "user": "user",
                          "assistant": "assistant"}
MIN_LOGPROB = -9999.0  # JSON has no -inf; vLLM clamps the same way
UNSUPPORTED = {"stream": False, "tools": None, "functions": None, "logit_bias": None,
               "presence_penalty": 0, "frequency_penalty": 0, "suffix": None, "best_of": 1}


class ApiError(Exception):
    """An error answered to the client as ``{"error": {"message", "type"}}``."""

    def __init__(self, status: int, message: str, kind: str = "invalid_request_error") -> None:
        super().__init__(message)
        self.status, self.message, self.kind = status, message, kind

    def payload(self) -> dict[str, Any]:
        return {"error": {"message": self.message, "type": self.kind, "code": self.status}}


# ----- request fields ---------------------------------------------------------------------------
def field(body: dict[str, Any], key: str, types: type | tuple[type, ...], default: Any) -> Any:
    """``body[key]`` checked against ``types`` (a bool is not a number); ``default`` if absent."""
    value = body.get(key)
    if value is None:
        return default
    allowed = types if isinstance(types, tuple) else (types,)
    if not isinstance(value, allowed) or (isinstance(value, bool) and bool not in allowed):
        names = " or ".join(t.__name__ for t in allowed)
        raise ApiError(400, f"'{key}' must be {names}, got {json.dumps(value)[:40]}")
    return value


def int_field(body: dict[str, Any], key: str, default: int, lo: int, hi: int) -> int:
    value: int = field(body, key, int, default)
    if not lo <= value <= hi:
        raise ApiError(400, f"'{key}' must be between {lo} and {hi}, got {value}")
    return value


def stop_field(body: dict[str, Any]) -> tuple[str, ...]:
    stop = body.get("stop")
    if stop is None:
        return ()
    stops = [stop] if isinstance(stop, str) else stop
    if not isinstance(stops, list) or not all(isinstance(s, str) and s for s in stops):
        raise ApiError(400, "'stop' must be a non-empty string or a list of them")
    return tuple(stops)


def reject_unsupported(body: dict[str, Any]) -> None:
    """Refuse what this server would otherwise silently ignore."""
    for key, neutral in UNSUPPORTED.items():
        if body.get(key) not in (None, neutral, "", [], {}):
            raise ApiError(400, f"'{key}' is not supported by the faithline server")
    if body.get("response_format") not in (None, {"type": "text"}):
        raise ApiError(400, "'response_format' is not supported by the faithline server")


def gen_params(body: dict[str, Any], max_tokens: int, logprobs: bool) -> GenParams:
    """The ``GenParams`` a request asks for; ``max_tokens`` 0 is validated as 1."""
    try:
        return GenParams(
            max_new_tokens=max(max_tokens, 1),
            temperature=float(field(body, "temperature", (int, float), 1.0)),
            top_p=float(field(body, "top_p", (int, float), 1.0)),
            n=int_field(body, "n", 1, 1, 128),
            stop=stop_field(body),
            seed=field(body, "seed", int, None),
            logprobs=logprobs,
        )
    except BadInputError as e:
        raise ApiError(400, str(e)) from None


def message_text(content: Any, where: str) -> str:
    if content is None:
        return ""
    if isinstance(content, str):
        return content
    if isinstance(content, list) and all(isinstance(p, dict) and p.get("type") == "text"
                                         and isinstance(p.get("text"), str) for p in content):
        return "".join(p["text"] for p in content)
    raise ApiError(400, f"{where}: content must be a string or a list of text parts")


def parse_prompt(body: dict[str, Any]) -> Prompt:
    """Chat messages as a ``Prompt``; ``continue_final_message`` makes the last one the prefill."""
    raw = body.get("messages")
    if not isinstance(raw, list) or not raw:
        raise ApiError(400, "'messages' must be a non-empty list")
    messages = []
    for i, m in enumerate(raw):
        role = ROLES.get(m.get("role")) if isinstance(m, dict) else None
        if role is None:
            raise ApiError(400, f"messages[{i}]: role must be system, user or assistant")
        messages.append(Message(role, message_text(m.get("content"), f"messages[{i}]")))
    cont = field(body, "continue_final_message", bool, False)
    add = field(body, "add_generation_prompt", bool, not cont)
    if cont and add:
        raise ApiError(400, "continue_final_message and add_generation_prompt can't both be true")
    if cont:
        if messages[-1].role != "assistant":
            raise ApiError(400, "continue_final_message needs a final assistant message")
        return Prompt(tuple(messages[:-1]), prefill=messages[-1].content)
    if not add:
        raise ApiError(400, "add_generation_prompt=false is only supported with "
                            "continue_final_message=true")
    return Prompt(tuple(messages))


# ----- the engine: model calls, token views, response bodies -------------------------------------
class Engine:
    """Answers API requests with one model; ``lock`` serialises the model's calls."""

    def __init__(self, model: Model) -> None:
        self.model = model
        self.local = model if isinstance(model, HFModel) else None
        self.lock = threading.Lock()
        self.created = int(time.time())
        self.byte_decoder = byte_level_decoder(self.local.tokenizer) if self.local else None

    # tokens ------------------------------------------------------------------------------------
    def encode(self, text: str) -> list[int]:
        if self.local is None:
            return []
        return list(self.local.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_view(self, token: str) -> tuple[str, list[int]]:
        """A token's text and its exact bytes (byte-level BPE) or its text's UTF-8 bytes."""
        if self.byte_decoder is not None and all(c in self.byte_decoder for c in token):
            raw = bytes(self.byte_decoder[c] for c in token)
            return raw.decode("utf-8", errors="replace"), list(raw)
        text = self.local.tokenizer.convert_tokens_to_string([token]) if self.local else token
        return text, list(text.encode("utf-8"))

    def entry(self, token: str, logprob: float,
              alts: list[tuple[str, float]] | None = None) -> dict[str, Any]:
        """``{token, logprob, bytes}``, plus ``top_logprobs`` when ``alts`` is given."""
        text, raw = self.token_view(token)
        out: dict[str, Any] = {"token": text, "logprob": max(logprob, MIN_LOGPROB), "bytes": raw}
        if alts is not None:
            out["top_logprobs"] = [self.entry(t, lp) for t, lp in alts]
        return out

    def next_token_logprobs(self, ids: list[int], start: int = 0) -> Any:
        """Row r: log-probabilities of the token after ``ids[:start+r+1]`` (one forward pass)."""
        import torch

        assert self.local is not None
        with torch.inference_mode():
            out = self.local.model(input_ids=torch.tensor([ids], device=self.local.device))
        return torch.log_softmax(out.logits[0, start:-1].float(), dim=-1).cpu()

    def top_k(self, row: Any, k: int) -> list[tuple[str, float]]:
        assert self.local is not None
        values, ids = row.topk(k)
        tokens = self.local.tokenizer.convert_ids_to_tokens(ids.tolist())
        return list(zip(tokens, values.tolist(), strict=True))

    def token_entries(self, context: str, gen: Generation, top: int) -> list[dict[str, Any]]:
        """OpenAI logprob entries for ``gen``; with ``top`` > 0 and a local model, re-scored by
        one forward pass over ``context`` + the tokens, which also gives the top-k alternatives."""
        tokens, lps = list(gen.tokens or ()), list(gen.logprobs or ())
        alts: list[list[tuple[str, float]]] = [[] for _ in tokens]
        if top and self.local is not None and tokens:
            prefix = self.encode(context)
            ids = list(self.local.tokenizer.convert_tokens_to_ids(tokens))
            rows = self.next_token_logprobs(prefix + ids, start=len(prefix) - 1)
            lps = [float(rows[j, t]) for j, t in enumerate(ids)]
            alts = [self.top_k(rows[j], top) for j in range(len(ids))]
        return [self.entry(t, lp, a) for t, lp, a in zip(tokens, lps, alts, strict=True)]

    def prompt_entries(self, text: str, top: int) -> list[dict[str, Any]]:
        """Logprob entries of the prompt's own tokens; the first token has none."""
        if self.local is None:
            raise ApiError(400, "prompt logprobs (echo with logprobs) need a local model")
        ids = self.encode(text)
        tokens = self.local.tokenizer.convert_ids_to_tokens(ids)
        entries = [{**self.entry(t, 0.0, []), "logprob": None} for t in tokens[:1]]
        if len(ids) < 2:
            return entries
        rows = self.next_token_logprobs(ids)
        for k in range(1, len(ids)):
            alts = self.top_k(rows[k - 1], top) if top else []
            entries.append(self.entry(tokens[k], float(rows[k - 1, ids[k]]), alts))
        return entries

    def completion_tokens(self, gens: list[Generation]) -> int:
        return sum(len(g.tokens) if g.tokens is not None else len(self.encode(g.text))
                   for g in gens)

    # endpoints ---------------------------------------------------------------------------------
    def models(self, _body: dict[str, Any]) -> dict[str, Any]:
        return {"object": "list", "data": [{"id": self.model.spec, "object": "model",
                                            "created": self.created, "owned_by": "faithline"}]}

    def chat(self, body: dict[str, Any]) -> dict[str, Any]:
        reject_unsupported(body)
        prompt = parse_prompt(body)
        logprobs = field(body, "logprobs", bool, False)
        top = int_field(body, "top_logprobs", 0, 0, MAX_TOP_LOGPROBS)
        if top and not logprobs:
            raise ApiError(400, "'top_logprobs' needs 'logprobs': true")
        key = "max_tokens" if body.get("max_completion_tokens") is None else "max_completion_tokens"
        params = gen_params(body, int_field(body, key, CHAT_MAX_TOKENS, 1, 1 << 20), logprobs)
        with self.lock:  # tokenizers are not thread-safe either: everything under the lock
            gens = self.call(lambda: self.model.generate([prompt], params)[0])
            context = self.local.render(prompt) if self.local else ""
            entries = [self.token_entries(context, g, top) if logprobs else None for g in gens]
            usage = len(self.encode(context)), self.completion_tokens(gens)
        choices = [{"index": i, "message": {"role": "assistant", "content": g.text},
                    "logprobs": {"content": e, "refusal": None} if e is not None else None,
                    "finish_reason": g.finish_reason}
                   for i, (g, e) in enumerate(zip(gens, entries, strict=True))]
        return self.answer("chat.completion", "chatcmpl", choices, *usage)

    def completions(self, body: dict[str, Any]) -> dict[str, Any]:
        reject_unsupported(body)
        if self.local is None:
            raise ApiError(400, f"raw-text completions need a local model; "
                                f"'{self.model.spec}' serves /v1/chat/completions only")
        prompt = body.get("prompt")
        texts = [prompt] if isinstance(prompt, str) else prompt
        if not isinstance(texts, list) or not texts or not all(
                isinstance(t, str) and t for t in texts):
            raise ApiError(400, "'prompt' must be a non-empty string or a list of them")
        max_tokens = int_field(body, "max_tokens", COMPLETION_MAX_TOKENS, 0, 1 << 20)
        echo = field(body, "echo", bool, False)
        top: int | None = field(body, "logprobs", int, None)
        if top is not None and not 0 <= top <= MAX_TOP_LOGPROBS:
            raise ApiError(400, f"'logprobs' must be between 0 and {MAX_TOP_LOGPROBS}")
        params = gen_params(body, max_tokens, top is not None)
        choices: list[dict[str, Any]] = []
        prompt_tokens = completion_tokens = 0
        with self.lock:
            for text in texts:
                gens = self.generate_raw(text, params, max_tokens)
                prompt_tokens += len(self.encode(text))
                completion_tokens += self.completion_tokens(gens)
                for g in gens:
                    choices.append(self.completion_choice(len(choices), text, g, echo, top))
        return self.answer("text_completion", "cmpl", choices, prompt_tokens, completion_tokens)

    def generate_raw(self, text: str, params: GenParams, max_tokens: int) -> list[Generation]:
        """Generations for raw ``text`` (no chat template); ``max_tokens`` 0 generates nothing."""
        local = self.local
        assert local is not None

        def run() -> list[Generation]:
            check_params(local, params)
            return local.generate_texts([text], params)[0]

        if max_tokens == 0:
            return [Generation("", "length", (), ()) for _ in range(params.n)]
        return self.call(run)

    def completion_choice(self, index: int, text: str, gen: Generation, echo: bool,
                          top: int | None) -> dict[str, Any]:
        logprobs = None
        if top is not None:
            entries = self.prompt_entries(text, top) if echo else []
            entries += self.token_entries(text, gen, top)
            logprobs = legacy_logprobs(entries)
        return {"index": index, "text": (text if echo else "") + gen.text,
                "logprobs": logprobs, "finish_reason": gen.finish_reason}

    def answer(self, kind: str, prefix: str, choices: list[dict[str, Any]], prompt_tokens: int,
               completion_tokens: int) -> dict[str, Any]:
        return {"id": f"{prefix}-{uuid.uuid4().hex}", "object": kind, "created": int(time.time()),
                "model": self.model.spec, "choices": choices,
                "usage": {"prompt_tokens": prompt_tokens, "completion_tokens": completion_tokens,
                          "total_tokens": prompt_tokens + completion_tokens}}

    @staticmethod
    def call(fn: Callable[[], list[Generation]]) -> list[Generation]:
        """Run a model call; faithline's input and capability errors become HTTP 400."""
        try:
            return fn()
        except (BadInputError, CapabilityError) as e:
            raise ApiError(400, str(e)) from None


def legacy_logprobs(entries: list[dict[str, Any]]) -> dict[str, Any]:
    """The ``/v1/completions`` logprobs shape: parallel lists plus character offsets."""
    offsets, at = [], 0
    for e in entries:
        offsets.append(at)
        at += len(e["token"])
    return {"tokens": [e["token"] for e in entries],
            "token_logprobs": [e["logprob"] for e in entries],
            "top_logprobs": [None if e["logprob"] is None else
                             {**{a["token"]: a["logprob"] for a in e["top_logprobs"]},
                              e["token"]: e["logprob"]} for e in entries],
            "text_offset": offsets}


def byte_level_decoder(tokenizer: Any) -> dict[str, int] | None:
    """GPT-2 byte-level BPE: the map from a token's characters back to its bytes, else None."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    if "ByteLevel" not in str(getattr(backend, "decoder", "")):
        return None
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    chars = {b: b for b in printable}
    for extra, b in enumerate(b for b in range(256) if b not in chars):
        chars[b] = 256 + extra
    return {chr(c): b for b, c in chars.items()}


# ----- HTTP ---------------------------------------------------------------------------------------
Route = Callable[[Engine, dict[str, Any]], dict[str, Any]]
ROUTES: dict[str, tuple[str, Route]] = {
    "/v1/models": ("GET", Engine.models),
    "/v1/chat/completions": ("POST", Engine.chat),
    "/v1/completions": ("POST", Engine.completions),
}


class ModelServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, address: tuple[str, int], engine: Engine) -> None:
        super().__init__(address, Handler)
        self.engine = engine


class Handler(BaseHTTPRequestHandler):
    """Routes a request to the engine and writes its JSON answer."""

    server: ModelServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        self.dispatch("POST")

    def dispatch(self, method: str) -> None:
        try:
            raw = self.read_body() if method == "POST" else b""
            path = self.path.split("?", 1)[0].rstrip("/")
            if path not in ROUTES:
                raise ApiError(404, f"unknown route {method} {path}", "not_found_error")
            want, route = ROUTES[path]
            if method != want:
                raise ApiError(405, f"{path} takes {want}, not {method}")
            self.send_json(200, route(self.server.engine, parse_json(raw) if want == "POST"
                                      else {}))
        except ApiError as e:
            self.send_json(e.status, e.payload())
        except Exception as e:  # a bug: answer 500, keep serving
            traceback.print_exc(file=sys.stderr)
            self.send_json(500, ApiError(500, f"internal error: {e}", "server_error").payload())

    def read_body(self) -> bytes:
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            self.close_connection = True
            raise ApiError(400, "bad Content-Length header") from None
        return self.rfile.read(length) if length > 0 else b""

    def send_json(self, status: int, payload: dict[str, Any]) -> None:
        data = json.dumps(payload, ensure_ascii=False).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)


def parse_json(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError) as e:
        raise ApiError(400, f"request body is not valid JSON: {e}") from None
    if not isinstance(body, dict):
        raise ApiError(400, "request body must be a JSON object")
    return body


def make_server(model: Model, host: str = "127.0.0.1", port: int = 0) -> ThreadingHTTPServer:
    """A ready (not yet serving) HTTP server for ``model``; port 0 picks a free port."""
    return ModelServer((host, port), Engine(model))


def serve(model: Model, host: str = "127.0.0.1", port: int = 8000) -> None:
    """Serve ``model`` until interrupted; prints one 'listening on' line first."""
    server = make_server(model, host, port)
    bound_host, bound_port = server.server_address[:2]
    print(f"faithline serve: listening on http://{bound_host!s}:{bound_port}/v1 "
          f"(model {model.spec})", flush=True)
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m faithline.models.server",
        description="Serve a faithline model over the OpenAI API.\n\n  python -m "
                    "faithline.models.server --model builtin:smollm2-135m --port 8000",
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", required=True, help="model spec, e.g. builtin:smollm2-135m")
    parser.add_argument("--host", default="127.0.0.1", help="address to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8000, help="port (0: any free port)")
    ns = parser.parse_args(argv)
    from faithline.models import load_model

    try:
        serve(load_model(ns.model), ns.host, ns.port)
    except (FaithlineError, OSError) as e:
        print(f"faithline serve: {e}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
