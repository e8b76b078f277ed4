"""The ``faithline legibility`` command."""

from __future__ import annotations

import argparse

from faithline.config import AddCommand, add_config_args, config_from_args


def cmd_legibility(ns: argparse.Namespace) -> int:
    from faithline.legibility.alarms import Thresholds
    from faithline.legibility.evaluate import LegibilityConfig, run_legibility, summary

    run = run_legibility(config_from_args(LegibilityConfig, ns),
                         config_from_args(Thresholds, ns), progress=not ns.quiet)
    print(summary(run))
    print(f"report: {run.path / 'report.html'}")
    return 0


def install(add: AddCommand) -> None:
    from faithline.legibility import evaluate
    from faithline.legibility.alarms import Thresholds

    p = add("legibility", cmd_legibility, evaluate.__doc__)
    p.add_argument("a", metavar="A.jsonl", help="Transcript JSONL under test")
    p.add_argument("b", metavar="B.jsonl", nargs="?", default=None,
                   help="baseline Transcript JSONL (optional)")
    add_config_args(p, evaluate.LegibilityConfig, skip=("a", "b"))
    group = p.add_argument_group("alarm thresholds")
    add_config_args(group, Thresholds)  # type: ignore[arg-type]
