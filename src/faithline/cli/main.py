"""The ``faithline`` command: one subcommand per part of DESIGN.md.

    faithline demo
    faithline generate --model builtin:smollm2-135m --task coinflip --n 4 --out runs/cf
    faithline eval --model builtin:smollm2-135m --task mcq-cues --n 20 --out runs/faith
    faithline paraphrase runs/cf/transcripts.jsonl --paraphraser canonical --out para.jsonl
    faithline stego-capacity --out runs/stego
    faithline report runs/cf
    faithline export inspect runs/cf --out cf.eval
    faithline serve --model builtin:smollm2-135m --port 8000

Exit codes: 0 success, 2 bad input (one line on stderr), 1 internal failure (a bug), 130 and
143 interrupted by Ctrl-C or SIGTERM (re-run the same command to resume). Control and invisible
characters are shown as marks on the terminal (``faithline.cli.terminal``).
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from typing import NoReturn

from faithline import __version__
from faithline.cli.terminal import Terminated, guarded
from faithline.config import COMMANDS, AddCommand, Handler, add_config_args, config_from_args
from faithline.errors import FaithlineError
from faithline.invisible import for_terminal


class Parser(argparse.ArgumentParser):
    """argparse with one-line usage errors: the reason and a pointer to ``--help`` (argparse
    prints the whole usage block, which buries the reason)."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {for_terminal(message)} (see '{self.prog} --help')\n")


def _formatter(prog: str) -> argparse.HelpFormatter:
    return argparse.RawDescriptionHelpFormatter(prog, max_help_position=32)


def cmd_demo(ns: argparse.Namespace) -> int:
    from faithline.demo import DemoConfig, run_demo
    from faithline.report.tables import run_tables_text

    path = run_demo(config_from_args(DemoConfig, ns), progress=not ns.quiet)
    text = run_tables_text(path.parent)  # the seed-level tables, as `faithline tables` writes
    if text:
        print(text)
    print(f"report: {path}")
    return 0


def install_demo(add: AddCommand) -> None:
    from faithline import demo

    doc = f"{demo.__doc__}\nExperiments (--experiment):\n{demo.EXPERIMENTS.help_text()}\n"
    add_config_args(add("demo", cmd_demo, doc), demo.DemoConfig)


def build_parser() -> argparse.ArgumentParser:
    """One subcommand per entry of ``faithline.config.COMMANDS``, in name order."""
    parser = Parser(prog="faithline", description=__doc__, formatter_class=_formatter)
    parser.add_argument("--version", action="version", version=f"faithline {__version__}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def add(name: str, handler: Handler, doc: str | None) -> argparse.ArgumentParser:
        summary = (doc or "").strip().splitlines()[0] if doc else ""
        p = sub.add_parser(name, help=summary, description=doc, formatter_class=_formatter)
        p.add_argument("--quiet", action="store_true", help="no progress bars")
        p.set_defaults(handler=handler)
        return p

    for name in COMMANDS.names():
        COMMANDS.get(name)(add)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    with guarded():
        parser = build_parser()
        ns = parser.parse_args(argv)
        try:
            return int(ns.handler(ns))
        except FaithlineError as e:
            print(f"faithline {ns.command}: error: {for_terminal(str(e))}", file=sys.stderr)
            return 2
        except KeyboardInterrupt as e:
            how = "terminated (SIGTERM)" if isinstance(e, Terminated) else "interrupted"
            print(f"faithline {ns.command}: {how}; re-run the same command to resume",
                  file=sys.stderr)
            return Terminated.exit_code if isinstance(e, Terminated) else 130


if __name__ == "__main__":
    sys.exit(main())
