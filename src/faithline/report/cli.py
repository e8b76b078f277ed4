"""The ``faithline report`` command."""

from __future__ import annotations

import argparse

from faithline.config import AddCommand

DOC = """Write a self-contained HTML report of one or more runs.

    faithline report runs/cf                  # runs/cf/report.html
    faithline report runs/a runs/b --out cmp.html
"""


def cmd_report(ns: argparse.Namespace) -> int:
    from faithline.report import write_report

    print(write_report(ns.runs, ns.out))
    return 0


def install(add: AddCommand) -> None:
    rep = add("report", cmd_report, DOC)
    rep.add_argument("runs", nargs="+", help="run directories")
    rep.add_argument("--out", default=None, help="output file (required for several runs)")
