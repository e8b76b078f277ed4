"""The ``faithline serve`` command."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from faithline.config import AddCommand, add_config_args, check_config, config_from_args
from faithline.config import help_meta as _help

DOC = """Serve a local model over the OpenAI API (chat and completions).

    faithline serve --model builtin:smollm2-135m --port 8000
    # then: --model openai:smollm2@http://127.0.0.1:8000/v1
"""


@dataclass(frozen=True)
class ServeConfig:
    """Settings of ``faithline serve``."""

    model: str = field(metadata=_help("model spec to serve"))
    host: str = field(default="127.0.0.1", metadata=_help("address to bind"))
    port: int = field(default=8000, metadata=_help("port (0 = any free port)", ge=0, le=65535))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above


def cmd_serve(ns: argparse.Namespace) -> int:
    from faithline.models import load_model
    from faithline.models.server import serve

    cfg = config_from_args(ServeConfig, ns)
    serve(load_model(cfg.model), cfg.host, cfg.port)
    return 0


def install(add: AddCommand) -> None:
    add_config_args(add("serve", cmd_serve, DOC), ServeConfig)
