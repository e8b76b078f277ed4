"""A run directory (DESIGN.md contract): ``run.json``, ``transcripts.jsonl``, ``metrics.json``.

``run.json`` and ``metrics.json`` say which schema wrote them (``SCHEMA``, ``METRICS_SCHEMA``).
A run written under another schema version (a newer faithline, or not faithline at all) is
refused by every command that reads or resumes it, naming the version found and the versions
this faithline reads; nothing in it is rendered, appended to or rewritten.

One process writes a run at a time: ``Run.open`` takes an OS lock on ``RUN/run.lock`` for the
life of the returned ``Run`` (``runs/lock.py``); a second command on the same directory stops
with the holder's pid before touching anything.

``transcripts.jsonl`` is append-only: each transcript is one ``os.write`` of a whole line on an
O_APPEND descriptor, fsynced. A run killed mid-write leaves at most a torn last line, which
``Run.open`` drops, so re-running the same command resumes by sample id: nothing done is redone,
nothing is duplicated. Failures (e.g. a paraphrase that failed closed) go to ``failures.jsonl``
and are retried on resume.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import json
import platform
import sys
import time
from collections.abc import Iterator, Mapping
from importlib import metadata
from pathlib import Path
from typing import Any

from faithline.errors import BadInputError
from faithline.io import (
    append_line,
    check_output,
    iter_jsonl,
    read_json,
    read_transcripts,
    repair_jsonl_tail,
    write_json_atomic,
)
from faithline.provenance import environment
from faithline.runs.lock import LOCK_NAME, Lock, hold
from faithline.types import Transcript

SCHEMA = "faithline.run/1"
METRICS_SCHEMA = "faithline.metrics/1"
READS = {"faithline.run/": (SCHEMA,), "faithline.metrics/": (METRICS_SCHEMA,)}
# Config keys that may change between a run and its resumption without changing its meaning.
RESUMABLE_KEYS = frozenset({"n", "batch_size", "cache", "out"})
VERSIONED = ("faithline", "torch", "transformers", "trl", "numpy", "httpx", "gguf")


def package_versions() -> dict[str, str | None]:
    versions: dict[str, str | None] = {"python": sys.version.split()[0],
                                        "platform": platform.platform()}
    for name in VERSIONED:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def check_schema(found: Any, where: Path, family: str) -> None:
    """Refuse a file whose ``schema`` is not one this faithline reads (``READS[family]``),
    naming the schema found and the ones read: a newer version says to upgrade faithline."""
    reads = READS[family]
    if found in reads:
        return
    known = ", ".join(reads)
    if not isinstance(found, str) or not found.startswith(family):
        shown = f"schema {found!r}" if found is not None else "no schema"
        raise BadInputError(f"{where}: not a faithline {where.name} ({shown}; faithline reads "
                            f"{known})")
    version = found[len(family):]
    newest = max(int(r[len(family):]) for r in reads)
    if version.isdigit() and int(version) > newest:
        raise BadInputError(f"{where}: schema '{found}' is a newer faithline's; this one reads "
                            f"{known} (upgrade faithline to read or resume it)")
    raise BadInputError(f"{where}: unknown schema version '{found}'; faithline reads {known}")


def _now() -> str:
    return dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")


class Run:
    """An open run directory. Use ``Run.open`` (create or resume) or ``Run.load`` (read)."""

    def __init__(self, path: Path, info: dict[str, Any]) -> None:
        self.path = path
        self.info = info
        self.lock: Lock | None = None  # held while this Run may write (Run.open), see lock.py

    # ----- paths -----------------------------------------------------------------------------
    @property
    def transcripts_path(self) -> Path:
        return self.path / "transcripts.jsonl"

    @property
    def failures_path(self) -> Path:
        return self.path / "failures.jsonl"

    @property
    def metrics_path(self) -> Path:
        return self.path / "metrics.json"

    # ----- open / load -----------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, command: str, config: Mapping[str, Any],
             seeds: Mapping[str, int] | None = None,
             defaults: Mapping[str, Any] | None = None) -> Run:
        """Create ``path`` as a new run, or resume it if it holds the same command and config.

        ``defaults`` are the config's default values: a key that an older run.json lacks (a
        setting added since) counts as its default, so new settings never block a resume.
        ``environment`` (commit, CPU, ISA, threads: ``faithline.provenance``) is recorded at
        creation, and each resumption appends its own to ``resumed_environment``.
        """
        p = Path(path)
        if p.exists() and not p.is_dir():
            raise BadInputError(f"run path '{p}' exists and is not a directory")
        if (p / "run.json").is_file():
            cls.load(p)  # a run of another schema is refused before a lock file is made in it
        try:
            p.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise BadInputError(f"cannot create run directory '{p}': {e.strerror}") from None
        lock = hold(p / LOCK_NAME, f"run '{p}'")  # before anything is read or written
        run_json = p / "run.json"
        config = dict(config)
        if run_json.is_file():
            run = cls.load(p)
            run._check_same(command, config, defaults or {})
            run.info["config"] = config
            run.info["resumed"] = run.info.get("resumed", 0) + 1
            run.info.setdefault("resumed_environment", []).append(environment())
            repair_jsonl_tail(run.transcripts_path)
            repair_jsonl_tail(run.failures_path)
        else:
            run = cls(p, {
                "schema": SCHEMA,
                "name": p.name,
                "command": command,
                "config": config,
                "seeds": dict(seeds or {}),
                "versions": package_versions(),
                "environment": environment(),
                "models": {},
                "status": "created",
                "created": _now(),
            })
        run.lock = lock
        run.save()
        return run

    @classmethod
    def load(cls, path: str | Path) -> Run:
        """The run at ``path``, read-only (takes no lock: a reader never blocks a writer)."""
        p = Path(path)
        run_json = p / "run.json"
        if not run_json.is_file():
            raise BadInputError(f"'{p}' is not a faithline run (no run.json)")
        info = read_json(run_json)
        check_schema(info.get("schema") if isinstance(info, dict) else None, run_json,
                     "faithline.run/")
        return cls(p, info)

    @classmethod
    def check_out(cls, path: str | Path) -> None:
        """Refuse ``path`` as the run directory of a command before it loads a model or writes:
        not a directory, under a file, not writable, or holding a run of an unknown schema."""
        check_output(path, "dir")
        if (Path(path) / "run.json").is_file():
            cls.load(path)

    def _check_same(self, command: str, config: Mapping[str, Any],
                    defaults: Mapping[str, Any]) -> None:
        old = {**defaults, **self.info.get("config", {})}
        if self.info.get("command") != command:
            raise BadInputError(
                f"run '{self.path}' was made by '{self.info.get('command')}', not '{command}'; "
                "use another --out"
            )
        diff = sorted(k for k in set(old) | set(config)
                      if k not in RESUMABLE_KEYS and old.get(k) != config.get(k))
        if diff:
            detail = ", ".join(f"{k}: {old.get(k)!r} -> {config.get(k)!r}" for k in diff)
            raise BadInputError(
                f"run '{self.path}' exists with a different config ({detail}); "
                "use another --out or the same settings to resume"
            )

    # ----- writing ---------------------------------------------------------------------------
    def save(self) -> None:
        self.info["updated"] = _now()
        write_json_atomic(self.path / "run.json", self.info)

    def set_status(self, status: str, **extra: Any) -> None:
        self.info["status"] = status
        self.info.update(extra)
        self.save()

    @contextlib.contextmanager
    def working(self) -> Iterator[Run]:
        """Status ``running`` inside the block; ``interrupted`` if it raises (Ctrl-C, a kill
        that Python sees, a bug), else ``done``, with ``elapsed_s`` summed over resumptions."""
        self.set_status("running")
        started = time.monotonic()
        try:
            yield self
        except BaseException:
            self.set_status("interrupted")
            raise
        elapsed = self.info.get("elapsed_s", 0.0) + time.monotonic() - started
        self.set_status("done", elapsed_s=round(elapsed, 2))

    def set_models(self, models: Mapping[str, Any]) -> None:
        self.info["models"] = dict(models)
        self.save()

    def append(self, transcript: Transcript) -> None:
        append_line(self.transcripts_path, transcript.to_json())

    def record_failure(self, sample_id: str, stage: str, kind: str, error: str,
                       **detail: Any) -> None:
        row = {"id": sample_id, "stage": stage, "kind": kind, "error": error, "time": _now(),
               **detail}
        append_line(self.failures_path, json.dumps(row, ensure_ascii=False))

    def write_metrics(self, metrics: Mapping[str, Any]) -> None:
        write_json_atomic(self.metrics_path, {"schema": METRICS_SCHEMA, **metrics})

    # ----- reading ---------------------------------------------------------------------------
    def transcripts(self) -> list[Transcript]:
        if not self.transcripts_path.is_file():
            return []
        return read_transcripts(self.transcripts_path, skip_torn_tail=True)

    def done_ids(self) -> set[str]:
        return {t.id for t in self.transcripts()}

    def failures(self, unresolved_only: bool = True) -> list[dict[str, Any]]:
        """Recorded failures. By default only the latest per sample that has no transcript yet
        (a sample retried on resume and failing again counts once)."""
        if not self.failures_path.is_file():
            return []
        rows = [row for _, row in iter_jsonl(self.failures_path, skip_torn_tail=True)]
        if unresolved_only:
            done = self.done_ids()
            latest = {r.get("id"): r for r in rows if r.get("id") not in done}
            rows = list(latest.values())
        return rows

    def attempts(self, sample_id: str) -> int:
        """How many times ``sample_id`` has failed so far (retries use a fresh seed)."""
        return sum(r.get("id") == sample_id for r in self.failures(unresolved_only=False))

    def metrics(self) -> dict[str, Any]:
        if not self.metrics_path.is_file():
            return {}
        data = read_json(self.metrics_path)
        if not isinstance(data, dict):
            raise BadInputError(f"{self.metrics_path}: expected a JSON object")
        if "schema" in data:  # metrics written before the schema was recorded have none
            check_schema(data["schema"], self.metrics_path, "faithline.metrics/")
        return data
