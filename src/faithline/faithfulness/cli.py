"""The ``faithline eval`` command."""

from __future__ import annotations

import argparse

from faithline.config import AddCommand, add_config_args, config_from_args


def cmd_eval(ns: argparse.Namespace) -> int:
    from faithline.faithfulness.evaluate import EvalConfig, run_eval, summary

    run = run_eval(config_from_args(EvalConfig, ns), progress=not ns.quiet)
    print(summary(run))
    print(f"metrics: {run.metrics_path}; report: faithline report {run.path}")
    return 0


def install(add: AddCommand) -> None:
    from faithline.faithfulness import TESTS, evaluate

    doc = f"{evaluate.__doc__}\nTests (--tests):\n{TESTS.help_text()}\n"
    add_config_args(add("eval", cmd_eval, doc), evaluate.EvalConfig)
