"""The ``faithline export`` command (plugged into cli/main.py)."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import Any

from faithline.config import add_config_args, config_from_args


def cmd_export(ns: argparse.Namespace) -> int:
    from faithline.inspect.export import ExportConfig, export_run

    cfg = config_from_args(ExportConfig, ns)
    out = export_run(cfg.run, cfg.out)
    print(f"{out}: Inspect log of {cfg.run} (open it with: inspect view --log-dir "
          f"{out.parent})")
    return 0


def register(add: Callable[[str, Any, str | None], argparse.ArgumentParser]) -> None:
    from faithline.inspect import export

    p = add("export", cmd_export, export.__doc__)
    p.add_argument("format", choices=export.FORMATS, help="what to write: inspect")
    p.add_argument("run", metavar="RUN", help="run directory to export")
    add_config_args(p, export.ExportConfig, skip=("format", "run"))
