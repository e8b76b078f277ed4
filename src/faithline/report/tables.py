"""Results tables in the docs, generated from committed run summaries: ``faithline tables``.

A number in README.md or docs/ comes from run data, never from a hand edit. An experiment
writes ``metrics["tables"] = {NAME: {"command", "provenance", "summary"}}`` into its run's
``metrics.json``; ``faithline tables --save RUN`` commits that as ``docs/results/NAME.json``
(schema ``faithline.table/1``); a renderer registered in ``TABLES`` turns the summary into a
markdown table, which ``faithline tables`` writes between the lines::

    <!-- table:NAME -->
    (generated: the table, a blank line, then an italic line with the command and provenance)
    <!-- /table:NAME -->

``NAME@VARIANT`` (e.g. ``hold-the-line@default``, the same experiment under
``ATEN_CPU_CAPABILITY=default``) is a table of its own, rendered by NAME's renderer.

A run directory is read as every command reads one: its ``run.json`` and ``metrics.json`` must
be of a schema this faithline reads (``runs.run.check_schema``), else exit 2 naming both.

``faithline tables --check`` (CI) fails with a diff when a block differs from what its committed
summary renders. A part registers its renderer where it registers its other parts, e.g. in its
package ``__init__``::

    from faithline.report.tables import TABLES
    TABLES.register("arms", "faithline.experiments.arms:arms_table", help="RL arms over seeds")
"""

from __future__ import annotations

import argparse
import difflib
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faithline.config import AddCommand
from faithline.errors import BadInputError
from faithline.io import read_json, write_json_atomic, write_text_atomic
from faithline.provenance import ENV_KEYS, provenance_line
from faithline.registry import Registry
from faithline.runs.run import Run, check_schema

# name -> renderer ``(summary: dict) -> str`` (a markdown table).
TABLES: Registry[str] = Registry("results table")
SCHEMA = "faithline.table/1"
RESULTS = Path("docs") / "results"
# NAME or NAME@VARIANT: a variant (e.g. the same experiment under other CPU kernels) has its
# own results file and block, and is rendered by NAME's renderer.
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]*(?:@[A-Za-z0-9_.-]+)?")
MARK = re.compile(r"<!-- (/?)table:(\S+) -->[ \t]*")
FENCE = re.compile(r"^ {0,3}(`{3,}|~{3,})")
Renderer = Callable[[Mapping[str, Any]], str]


# ----- helpers for renderers ----------------------------------------------------------------
def markdown_table(header: Sequence[str], rows: Iterable[Sequence[Any]]) -> str:
    """A GitHub markdown table; ``|`` and newlines in cells are escaped."""
    def cell(x: Any) -> str:
        return str(x).replace("|", "\\|").replace("\n", " ")

    lines = ["| " + " | ".join(cell(h) for h in header) + " |",
             "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(cell(x) for x in row) + " |" for row in rows]
    return "\n".join(lines)


def ci_cell(ci: Mapping[str, Any], digits: int = 2) -> str:
    """``0.29 [0.17, 0.41]`` from a ``seed_ci``/``bootstrap_ci`` dict (``—`` where NaN)."""
    def num(x: Any) -> str:
        return "—" if x is None or x != x else f"{x:.{digits}f}"

    if ci.get("ci_low") is None or ci["ci_low"] != ci["ci_low"]:
        return num(ci.get("value"))
    return f"{num(ci['value'])} [{num(ci['ci_low'])}, {num(ci['ci_high'])}]"


def holds_cell(h: Mapping[str, Any]) -> str:
    """``7/8 seeds`` from a ``holds`` dict."""
    return f"{h['k']}/{h['n']} seeds"


# ----- results files ------------------------------------------------------------------------
def _check_name(name: Any, where: str) -> str:
    if not isinstance(name, str) or not NAME.fullmatch(name):
        raise BadInputError(f"{where}: table name {name!r} is not letters, digits and '_.-'")
    return name


def _renderer(name: str, where: str) -> Renderer:
    name = name.partition("@")[0]  # a variant is rendered as its table
    if name not in TABLES:
        known = ", ".join(TABLES.names()) or "none"
        raise BadInputError(f"{where}: no renderer is registered for table '{name}' "
                            f"(known: {known}); register one in faithline.report.tables.TABLES")
    return TABLES.get(name)


def _check_entry(entry: Any, where: str) -> dict[str, Any]:
    if not isinstance(entry, dict):
        raise BadInputError(f"{where}: expected an object with command, provenance, summary")
    for key, kind in (("command", str), ("provenance", dict), ("summary", dict)):
        if not isinstance(entry.get(key), kind):
            raise BadInputError(f"{where}: '{key}' must be a {kind.__name__}")
    return entry


def load_results(path: Path) -> dict[str, Any]:
    """A ``docs/results/NAME.json`` file, checked (schema, keys, table == NAME, a renderer)."""
    data = read_json(path)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise BadInputError(f"{path}: not a results table (schema '{SCHEMA}')")
    _check_entry(data, str(path))
    if data.get("table") != path.stem:
        raise BadInputError(f"{path}: 'table' is {data.get('table')!r}, not '{path.stem}'")
    _renderer(path.stem, str(path))
    return data


def _code(text: str) -> str:
    """``text`` as a markdown code span, whatever backticks it holds."""
    ticks = "`" * (max((len(m) for m in re.findall(r"`+", text)), default=0) + 1)
    pad = " " if text.startswith("`") or text.endswith("`") else ""
    return f"{ticks}{pad}{text}{pad}{ticks}"


def render_block(name: str, results: Mapping[str, Any]) -> str:
    """What goes between a table's markers: the renderer's table, a blank line, and an italic
    line naming the command, the provenance and the results file."""
    table = _renderer(name, f"{RESULTS / name}.json")(results["summary"])
    if not isinstance(table, str):
        raise TypeError(f"the renderer of table '{name}' returned {type(table).__name__}")
    prov = results["provenance"]
    line = provenance_line(prov, {k: v for k, v in prov.items() if k not in ENV_KEYS})
    note = (f"*Data: {_code(results['command'])}{' · ' + line if line else ''}. Generated by "
            f"{_code('faithline tables')} from {(RESULTS / name).as_posix()}.json.*")
    return f"{table.strip(chr(10))}\n\n{note}\n"


def run_info(run: Path) -> dict[str, Any]:
    """``RUN/run.json`` ({} where there is none), refused when of a schema this faithline
    does not read."""
    return Run.load(run).info if (run / "run.json").is_file() else {}


def run_metrics(path: Path) -> Any:
    """A run's ``metrics.json`` as parsed, refused when it names a schema this faithline does
    not read (metrics written before the schema was recorded name none)."""
    data = read_json(path)
    if isinstance(data, dict) and "schema" in data:
        check_schema(data["schema"], path, "faithline.metrics/")
    return data


def run_tables_text(run_dir: Path) -> str:
    """The tables a run's ``metrics.json`` holds, rendered for a terminal (a heading each,
    then the block ``faithline tables`` would write); empty when it holds none."""
    run_info(Path(run_dir))
    path = Path(run_dir) / "metrics.json"
    metrics = run_metrics(path) if path.is_file() else {}
    tables = metrics.get("tables") if isinstance(metrics, dict) else None
    if not isinstance(tables, dict):
        return ""
    out = []
    for name, entry in tables.items():
        where = f"{path}: tables.{name}"
        _check_entry(entry, where)
        out.append(f"== {_check_name(name, where)} ==\n{render_block(name, entry)}")
    return "\n".join(out)


# ----- marked blocks ------------------------------------------------------------------------
def doc_files(root: Path) -> list[Path]:
    """README.md and docs/**/*.md under ``root``."""
    files = [root / "README.md"] if (root / "README.md").is_file() else []
    return files + sorted(p for p in (root / "docs").rglob("*.md") if p.is_file())


def regenerate(text: str, where: str,
               block: Callable[[str], str]) -> tuple[str, list[str], list[str]]:
    """``text`` with every marked block replaced by ``block(name)``; the names of all blocks
    and of those that changed. Markers inside fenced code are text, not markers."""
    nl = "\r\n" if "\r\n" in text else "\n"
    out: list[str] = []
    names: list[str] = []
    changed: list[str] = []
    fence: str | None = None
    open_name: str | None = None
    open_at = 0
    body: list[str] = []
    for i, line in enumerate(text.splitlines(keepends=True), 1):
        bare = line.rstrip("\r\n")
        f = FENCE.match(bare)
        if open_name is None and f and (fence is None or f.group(1).startswith(fence)):
            fence = None if fence else f.group(1)[0] * 3
        m = MARK.fullmatch(bare) if fence is None else None
        if open_name is not None:
            if m and m.group(1) and m.group(2) == open_name:
                try:
                    new = block(open_name).replace("\n", nl)
                except BadInputError as e:
                    raise BadInputError(f"{where}:{open_at}: {e}") from None
                names.append(open_name)
                if "".join(body) != new:
                    changed.append(open_name)
                out += [new, line]
                open_name = None
            elif m:
                raise BadInputError(f"{where}:{i}: '{bare}' inside table '{open_name}' (opened "
                                    f"at line {open_at}); close it first")
            else:
                body.append(line)
            continue
        if m and m.group(1):
            raise BadInputError(f"{where}:{i}: '{bare}' closes a table that is not open")
        if m:
            open_name, open_at, body = _check_name(m.group(2), f"{where}:{i}"), i, []
        out.append(line)
    if open_name is not None:
        raise BadInputError(f"{where}:{open_at}: table '{open_name}' has no closing line "
                            f"'<!-- /table:{open_name} -->'")
    return "".join(out), names, changed


@dataclass
class Change:
    path: Path
    old: str
    new: str
    tables: list[str]


def plan(root: Path) -> tuple[list[Change], int, list[str]]:
    """What ``faithline tables`` would write under ``root``: the changed files, the number of
    marked blocks, and the results files no block shows."""
    if not root.is_dir():
        raise BadInputError(f"--root '{root}' is not a directory")
    results = {p.stem: load_results(p) for p in sorted((root / RESULTS).glob("*.json"))}
    rendered: dict[str, str] = {}
    used: set[str] = set()

    def block(name: str) -> str:
        if name not in results:
            raise BadInputError(f"table '{name}' is marked in the docs but there is no "
                                f"{(RESULTS / name).as_posix()}.json (faithline tables "
                                "--save RUN writes it)")
        used.add(name)
        if name not in rendered:
            rendered[name] = render_block(name, results[name])
        return rendered[name]

    changes, blocks = [], 0
    for path in doc_files(root):
        with open(path, encoding="utf-8", newline="") as f:
            old = f.read()
        new, names, changed = regenerate(old, path.relative_to(root).as_posix(), block)
        blocks += len(names)
        if new != old:
            changes.append(Change(path, old, new, changed))
    unused = [f"{(RESULTS / n).as_posix()}.json" for n in results if n not in used]
    return changes, blocks, unused


def save(root: Path, runs: Sequence[str | Path]) -> list[Path]:
    """Write ``docs/results/NAME.json`` for every table in each run's ``metrics.json``; the
    run's recorded ``environment`` (run.json) fills what the provenance leaves out."""
    entries: dict[str, tuple[Path, dict[str, Any]]] = {}
    for run in map(Path, runs):
        env = run_info(run).get("environment") or {}
        metrics_path = run / "metrics.json"
        if not metrics_path.is_file():
            raise BadInputError(f"'{run}' has no metrics.json")
        tables = run_metrics(metrics_path)
        tables = tables.get("tables") if isinstance(tables, dict) else None
        if not isinstance(tables, dict) or not tables:
            raise BadInputError(f"{metrics_path} has no 'tables' (an experiment writes "
                                "metrics['tables'] = {NAME: {command, provenance, summary}})")
        for name, entry in tables.items():
            where = f"{metrics_path}: tables.{name}"
            _check_entry(entry, where)
            _renderer(_check_name(name, where), where)
            if name in entries:
                raise BadInputError(f"table '{name}' is in both {entries[name][0]} and {run}")
            entries[name] = (run, {"table": name, "schema": SCHEMA,
                                   "command": entry["command"],
                                   "provenance": {**env, **entry["provenance"]},
                                   "summary": entry["summary"]})
    (root / RESULTS).mkdir(parents=True, exist_ok=True)
    written = []
    for name, (_, data) in entries.items():
        path = root / RESULTS / f"{name}.json"
        write_json_atomic(path, data)
        written.append(path)
    return written


# ----- the command --------------------------------------------------------------------------
DOC = """Regenerate the results tables in README.md and docs/ from docs/results/*.json.

A table sits between the lines '<!-- table:NAME -->' and '<!-- /table:NAME -->'; its data is
docs/results/NAME.json, its renderer is registered in faithline.report.tables.TABLES.

    faithline tables --save runs/demo        # docs/results/NAME.json from the run, then regenerate
    faithline tables                         # rewrite every marked block from its results file
    faithline tables --check                 # CI: exit 1 with a diff if a block is stale
"""


def cmd_tables(ns: argparse.Namespace) -> int:
    root = Path(ns.root)
    if ns.save:
        for path in save(root, ns.save):
            print(f"saved {path.relative_to(root)}")
    changes, blocks, unused = plan(root)
    for name in unused:
        print(f"note: {name} is shown by no '<!-- table:... -->' block")
    if ns.check:
        for c in changes:
            rel = c.path.relative_to(root).as_posix()
            print("".join(difflib.unified_diff(c.old.splitlines(keepends=True),
                                               c.new.splitlines(keepends=True),
                                               f"a/{rel}", f"b/{rel}")), end="")
        if changes:
            print(f"{len(changes)} file(s) differ from their results; run 'faithline tables'")
            return 1
        print(f"{blocks} table block(s) up to date")
        return 0
    for c in changes:
        write_text_atomic(c.path, c.new)
        print(f"updated {c.path.relative_to(root)}: {', '.join(c.tables) or 'markers'}")
    if not changes:
        print(f"{blocks} table block(s) up to date")
    return 0


def install(add: AddCommand) -> None:
    p = add("tables", cmd_tables, DOC)
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true",
                      help="write nothing; exit 1 with a unified diff if a block is stale")
    mode.add_argument("--save", nargs="+", metavar="RUN_DIR", default=None,
                      help="first write docs/results/NAME.json from RUN_DIR/metrics.json "
                           "'tables'")
    p.add_argument("--root", default=".", metavar="DIR",
                   help="where README.md and docs/ are (default: .)")


__all__ = ["SCHEMA", "TABLES", "ci_cell", "holds_cell", "load_results", "markdown_table",
           "plan", "regenerate", "render_block", "save"]
