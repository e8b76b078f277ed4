"""Fixtures for the monitor tests: labelled transcripts on disk, a scripted judge server.

``judge_server(reply)`` is a tiny real OpenAI-compatible HTTP server whose chat completions say
``reply`` (with top logprobs when given): the one way to get a judge that reliably answers
nonsense, for the fail-closed tests. Everything else runs on real monitors and SmolLM2.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest

from faithline.monitors.synthetic import labelled_transcripts
from faithline.types import Transcript


@pytest.fixture(scope="session")
def english() -> list[Transcript]:
    """240 labelled natural-language coin-flip transcripts (about 70 hacks)."""
    return labelled_transcripts(240, seed=11)


@pytest.fixture(scope="session")
def organism() -> list[Transcript]:
    """120 labelled transcripts in the organism's word language."""
    return labelled_transcripts(120, seed=12, style="organism")


class JudgeServer:
    """``GET /v1/models`` answers 200; every chat completion says ``text`` (with
    ``top_logprobs`` for its first token when given)."""

    def __init__(self, text: str, top_logprobs: dict[str, float] | None = None) -> None:
        self.text, self.top = text, top_logprobs
        self.requests = 0
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def reply(self, body: dict[str, Any]) -> dict[str, Any]:
        choice: dict[str, Any] = {"index": 0, "finish_reason": "stop",
                                  "message": {"role": "assistant", "content": self.text}}
        if body.get("logprobs") and self.top is not None:
            choice["logprobs"] = {"content": [{"token": self.text, "logprob": -0.1,
                                               "top_logprobs": [{"token": k, "logprob": v}
                                                                for k, v in self.top.items()]}]}
        return {"object": "chat.completion", "choices": [choice]}

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send({"object": "list", "data": [{"id": "judge"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                server.requests += 1
                self.send(server.reply(body))

            def send(self, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

        return Handler

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def judge_server() -> Iterator[Callable[..., JudgeServer]]:
    servers: list[JudgeServer] = []

    def make(text: str, top_logprobs: dict[str, float] | None = None) -> JudgeServer:
        servers.append(JudgeServer(text, top_logprobs))
        return servers[-1]

    yield make
    for s in servers:
        s.close()
