"""The ``faithline`` command: one subcommand per part of DESIGN.md.

    faithline demo
    faithline generate --model builtin:smollm2-135m --task coinflip --n 4 --out runs/cf
    faithline eval --model builtin:smollm2-135m --task mcq-cues --n 20 --out runs/faith
    faithline paraphrase runs/cf/transcripts.jsonl --paraphraser canonical --out para.jsonl
    faithline stego-capacity --out runs/stego
    faithline report runs/cf
    faithline export inspect runs/cf --out cf.eval
    faithline serve --model builtin:smollm2-135m --port 8000

Exit codes: 0 success, 2 bad input (one line on stderr), 1 internal failure (a bug).
"""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Callable, Sequence
from typing import NoReturn

from faithline import __version__
from faithline.config import add_config_args, config_from_args
from faithline.errors import FaithlineError

Handler = Callable[[argparse.Namespace], int]
AddCommand = Callable[[str, Handler, "str | None"], argparse.ArgumentParser]

# Subcommands that live next to their part of the package. Each module defines
# ``register(add: AddCommand) -> None`` and calls ``add(name, handler, doc)`` for its commands.
# One line per module; keep this list sorted.
PLUGGED_COMMANDS: tuple[str, ...] = (
    "faithline.inspect.cli",
    "faithline.interp.cli",
    "faithline.legibility.cli",
    "faithline.monitors.cli",
    "faithline.train.cli",
)


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: the reason and a pointer to ``--help`` (argparse
    prints the whole usage block, which buries the reason)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see '{self.prog} --help')\n")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


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


def cmd_report(ns: argparse.Namespace) -> int:
    from faithline.report import write_report

    print(write_report(ns.runs, ns.out))
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


def cmd_eval(ns: argparse.Namespace) -> int:
    from faithline.faithfulness.evaluate import EvalConfig, run_eval, summary

    run = run_eval(config_from_args(EvalConfig, ns), progress=not ns.quiet)
    print(summary(run))
    print(f"metrics: {run.metrics_path}; report: faithline report {run.path}")
    return 0


def cmd_stego(ns: argparse.Namespace) -> int:
    from faithline.stego.capacity import StegoConfig, run_stego_capacity

    run = run_stego_capacity(config_from_args(StegoConfig, ns), progress=not ns.quiet)
    table = run.path / "capacity.md"
    print(table.read_text() if table.is_file() else f"{run.path}: done")
    return 0


def cmd_demo(ns: argparse.Namespace) -> int:
    from faithline.demo import DemoConfig, run_demo

    path = run_demo(config_from_args(DemoConfig, ns), progress=not ns.quiet)
    print(f"report: {path}")
    return 0


def cmd_serve(ns: argparse.Namespace) -> int:
    from faithline.models import load_model
    from faithline.models.server import serve

    serve(load_model(ns.model), ns.host, ns.port)
    return 0


def build_parser() -> argparse.ArgumentParser:
    from faithline.demo import DemoConfig
    from faithline.pipeline.generate import GenerateConfig

    parser = Parser(prog="faithline", description=__doc__, formatter_class=_formatter)
    parser.add_argument("--version", action="version", version=f"faithline {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, doc: str | None) -> argparse.ArgumentParser:
        summary = (doc or "").strip().splitlines()[0] if doc else ""
        p = sub.add_parser(name, help=summary, description=doc, formatter_class=_formatter)
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.set_defaults(handler=handler)
        return p

    from faithline import demo

    generate_mod = importlib.import_module("faithline.pipeline.generate")

    add_config_args(add("demo", cmd_demo, demo.__doc__), DemoConfig)
    add_config_args(add("generate", cmd_generate, generate_mod.__doc__), GenerateConfig)
    for name, handler, module, cls in (
        ("eval", cmd_eval, "faithline.faithfulness.evaluate", "EvalConfig"),
        ("stego-capacity", cmd_stego, "faithline.stego.capacity", "StegoConfig"),
    ):
        mod = importlib.import_module(module)
        add_config_args(add(name, handler, mod.__doc__), getattr(mod, cls))
    para_mod = importlib.import_module("faithline.pipeline.paraphrase_command")
    para = add("paraphrase", cmd_paraphrase, para_mod.__doc__)
    para.add_argument("input", help="Transcript JSONL file")
    add_config_args(para, para_mod.ParaphraseConfig, skip=("input",))
    rep = add("report", cmd_report, "Write a self-contained HTML report of one or more runs.\n\n"
              "    faithline report runs/cf                  # runs/cf/report.html\n"
              "    faithline report runs/a runs/b --out cmp.html")
    rep.add_argument("runs", nargs="+", help="run directories")
    rep.add_argument("--out", default=None, help="output file (required for several runs)")
    srv = add("serve", cmd_serve, "Serve a local model over the OpenAI API (chat and "
              "completions).\n\n    faithline serve --model builtin:smollm2-135m --port 8000\n"
              "    # then: --model openai:smollm2@http://127.0.0.1:8000/v1")
    srv.add_argument("--model", required=True, help="model spec to serve")
    srv.add_argument("--host", default="127.0.0.1", help="address to bind")
    srv.add_argument("--port", type=int, default=8000, help="port (0 = any free port)")
    for module_name in PLUGGED_COMMANDS:
        importlib.import_module(module_name).register(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    ns = parser.parse_args(argv)
    try:
        return int(ns.handler(ns))
    except FaithlineError as e:
        print(f"faithline {ns.command}: error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"faithline {ns.command}: interrupted; re-run the same command to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
