"""Inspect AI interop (the optional extra ``faithline[inspect]``): read its logs, write ours as
its logs, and serve our monitors as its scorers.

    faithline monitor --monitor rule:hack LOG.eval --labels misbehavior \\
        --label-from score:side_task_success --out runs/x    # any command reads .eval/.json
    faithline export inspect runs/cf --out cf.eval           # inspect view / read_eval_log
    Task(..., scorer=faithline.inspect.cot_monitor("rule:leak"))

``read.py`` holds the mapping from Inspect samples to contract transcripts, ``export.py`` the
mapping back, ``scorers.py`` the scorers. This package imports without inspect_ai; what needs it
raises an error naming the extra.
"""

from __future__ import annotations

from typing import Any

__all__ = ["cot_monitor", "export_run", "legibility", "read_log"]
_HOMES = {"cot_monitor": "scorers", "legibility": "scorers", "export_run": "export",
          "read_log": "read"}


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module 'faithline.inspect' has no attribute '{name}'")
    import importlib

    from faithline.inspect.read import require_inspect

    require_inspect(f"faithline.inspect.{name}")
    return getattr(importlib.import_module(f"faithline.inspect.{_HOMES[name]}"), name)

from faithline.config import COMMANDS  # noqa: E402
from faithline.io import LOG_READERS  # noqa: E402

COMMANDS.register("export", "faithline.inspect.cli:install")
LOG_READERS.register("inspect", "faithline.inspect.read:reader_for",
                     help="Inspect AI logs (.eval, .json)")
