"""Run directories: incremental, atomic, resumable results on disk (see ``runs/run.py``)."""

from faithline.runs.run import SCHEMA, Run

__all__ = ["SCHEMA", "Run"]
