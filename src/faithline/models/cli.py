"""The ``faithline serve`` command."""

from __future__ import annotations

import argparse

from faithline.config import AddCommand

DOC = """Serve a local model over the OpenAI API (chat and completions).

    faithline serve --model builtin:smollm2-135m --port 8000
    # then: --model openai:smollm2@http://127.0.0.1:8000/v1
"""


def cmd_serve(ns: argparse.Namespace) -> int:
    from faithline.models import load_model
    from faithline.models.server import serve

    serve(load_model(ns.model), ns.host, ns.port)
    return 0


def install(add: AddCommand) -> None:
    srv = add("serve", cmd_serve, DOC)
    srv.add_argument("--model", required=True, help="model spec to serve")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind")
    srv.add_argument("--port", type=int, default=8000, help="port (0 = any free port)")
