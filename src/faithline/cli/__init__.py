"""The ``faithline`` command line (see ``cli/main.py``)."""

from faithline.config import COMMANDS

# The demo runs the experiments, above every part, so the top floor registers it.
COMMANDS.register("demo", "faithline.cli.main:install_demo")
