"""Training: the organism's warm-up, GRPO arms through TRL, the Face, known-answer organisms.

Registers the ``faithline train`` command and the organisms as builtin models
(``builtin:organism``, ``builtin:organism-shellgame``, ``builtin:organism-<kind>`` for every
kind in ``standards.KINDS``).
"""

from __future__ import annotations

from collections.abc import Callable

from faithline.config import COMMANDS
from faithline.models.builtin import BUILTINS, Checkpoint
from faithline.report.tables import TABLES
from faithline.train.standards import KINDS


def _organism(language: str = "coinflip") -> Callable[[], Checkpoint]:
    def load() -> Checkpoint:
        from faithline.train.organism import load_organism_dir

        path = load_organism_dir(language)
        return Checkpoint(path, path, dtype="float32")

    return load


def _standard(kind: str) -> Callable[[], Checkpoint]:
    def load() -> Checkpoint:
        from faithline.train.standards import load_standard_dir

        path = load_standard_dir(kind)
        return Checkpoint(path, path, dtype="float32")

    return load


COMMANDS.register("train", "faithline.train.cli:install")
TABLES.register("hold-the-line", "faithline.train.seeds:render_arms",
                help="faithline demo: the arms over seeds, and each minus outcome-only")
TABLES.register("reproducibility", "faithline.train.reproducibility:render",
                help="bench/reproducibility.py: the card and one arm per kernel setting")
BUILTINS.register("organism", _organism(),
                  help="our coin-flip model organism (faithline train organism)")
BUILTINS.register("organism-shellgame", _organism("shellgame"),
                  help="the shell-game organism, whose hacks need a chain (faithline train "
                       "organism --language shellgame; the demo trains it)")
for _kind in KINDS:
    BUILTINS.register(f"organism-{_kind}", _standard(_kind),
                      help=f"the known-answer organism '{_kind}' (faithline train organism "
                           f"--kind {_kind})")
