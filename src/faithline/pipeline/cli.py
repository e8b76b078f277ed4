"""The ``faithline generate`` and ``faithline paraphrase`` commands."""

from __future__ import annotations

import argparse
import importlib
import sys

from faithline.config import AddCommand, add_config_args, config_from_args


def cmd_generate(ns: argparse.Namespace) -> int:
    from faithline.pipeline.generate import GenerateConfig, generate

    run = generate(config_from_args(GenerateConfig, ns), progress=not ns.quiet)
    m = run.metrics()
    acc = m.get("accuracy", {})
    print(f"{run.path}: {m.get('transcripts')} transcripts, {m.get('failed')} failed; "
          f"accuracy {acc.get('value', float('nan')):.2f} "
          f"[{acc.get('ci_low', float('nan')):.2f}, {acc.get('ci_high', float('nan')):.2f}]")
    if m.get("failed"):
        print(f"{m['failed']} sample(s) failed closed; see {run.failures_path} "
              "(re-run the command to retry them)", file=sys.stderr)
    return 0


def cmd_paraphrase(ns: argparse.Namespace) -> int:
    from faithline.pipeline.paraphrase_command import ParaphraseConfig, paraphrase_file

    cfg = config_from_args(ParaphraseConfig, ns)
    counts = paraphrase_file(cfg, progress=not ns.quiet)
    print(f"{cfg.out}: {counts['written']} written, {counts['skipped']} already there, "
          f"{counts['failed']} failed closed")
    if counts["failed"]:
        print(f"failures (not written): {cfg.out}.failures.jsonl", file=sys.stderr)
    return 0


def install_generate(add: AddCommand) -> None:
    from faithline.models import BACKENDS
    from faithline.tasks import TASKS

    mod = importlib.import_module("faithline.pipeline.generate")  # the package's generate()
    doc = (f"{mod.__doc__}\nModel specs (--model):\n{BACKENDS.help_text()}\n\n"
           f"Task specs (--task; or a Task JSONL file):\n{TASKS.help_text()}\n")
    add_config_args(add("generate", cmd_generate, doc), mod.GenerateConfig)  # shadows it


def install_paraphrase(add: AddCommand) -> None:
    from faithline.pipeline import paraphrase_command as mod
    from faithline.pipeline.paraphrase_specs import PARAPHRASERS

    doc = f"{mod.__doc__}\nParaphraser specs (--paraphraser):\n{PARAPHRASERS.help_text()}\n"
    p = add("paraphrase", cmd_paraphrase, doc)
    p.add_argument("input", help="Transcript JSONL file")
    add_config_args(p, mod.ParaphraseConfig, skip=("input",))
