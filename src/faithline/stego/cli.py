"""The ``faithline stego-capacity`` command."""

from __future__ import annotations

import argparse

from faithline.config import AddCommand, add_config_args, config_from_args


def cmd_stego(ns: argparse.Namespace) -> int:
    from faithline.stego.capacity import StegoConfig, run_stego_capacity

    run = run_stego_capacity(config_from_args(StegoConfig, ns), progress=not ns.quiet)
    table = run.path / "capacity.md"
    print(table.read_text() if table.is_file() else f"{run.path}: done")
    return 0


def install(add: AddCommand) -> None:
    from faithline.stego import capacity

    add_config_args(add("stego-capacity", cmd_stego, capacity.__doc__), capacity.StegoConfig)
