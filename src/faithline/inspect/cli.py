"""The ``faithline export`` command."""

from __future__ import annotations

import argparse

from faithline.config import AddCommand, add_config_args, config_from_args


def cmd_export(ns: argparse.Namespace) -> int:
    from faithline.inspect.export import ExportConfig, export_run

    cfg = config_from_args(ExportConfig, ns)
    out = export_run(cfg.run, cfg.out)
    print(f"{out}: Inspect log of {cfg.run} (open it with: inspect view --log-dir "
          f"{out.parent})")
    return 0


def install(add: AddCommand) -> None:
    from faithline.inspect import export

    p = add("export", cmd_export, export.__doc__)
    p.add_argument("format", choices=export.FORMATS, help="what to write: inspect")
    p.add_argument("run", metavar="RUN", help="run directory to export")
    add_config_args(p, export.ExportConfig, skip=("format", "run"))
