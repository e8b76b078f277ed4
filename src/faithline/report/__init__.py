"""Reports: one self-contained HTML page per run, or one page comparing several runs.

Run ``faithline report RUN [RUN ...] [--out FILE]``, or from Python::

    from faithline.report import write_report
    write_report(["runs/single", "runs/shoggoth-face"], out="runs/compare.html")

Results tables in README.md and docs/ are generated from committed run summaries by
``faithline tables`` (``report/tables.py``).
"""

from faithline.report.html import render_report, write_report

__all__ = ["render_report", "write_report"]

from faithline.config import COMMANDS

COMMANDS.register("report", "faithline.report.cli:install")
COMMANDS.register("tables", "faithline.report.tables:install")
