"""Reading and writing JSONL and JSON files: line-numbered errors, atomic writes.

Every command reads its input transcripts through ``load_transcripts`` (and run files through
``read_transcripts``): a missing file, bytes that are not UTF-8 (named by byte offset), a line
over ``MAX_LINE_BYTES``, a malformed or truncated line, a missing contract key or an empty file
is a ``BadInputError`` naming the file (and line), which the CLI prints as one line, exit 2.
So is JSON nested deeper than ``MAX_DEPTH`` (Python's parser would overflow its stack), and, in
user input (``finite=True``: transcript and task files), a number that is not finite: ``NaN``,
``Infinity``, ``1e999``, which standard JSON has not, or an integer beyond a float's range.

``check_output`` refuses an output path of the wrong kind (a directory where a file goes, a
file where a directory goes, a path under a file) before a command reads or loads anything.

Every file written into a run directory gets the same mode, ``file_mode()`` (0o666 less the
umask), whether it is appended (``append_line``) or replaced atomically (``write_text_atomic``).
"""

from __future__ import annotations

import functools
import json
import math
import os
import sys
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from faithline.errors import BadInputError
from faithline.registry import Registry
from faithline.types import TRANSCRIPT_REQUIRED, Transcript

# No transcript, task or record line is this long; a longer line is the wrong file, not data.
MAX_LINE_BYTES = 16 * 2**20
# No faithline record nests objects and arrays this deep; a deeper one is not data either.
MAX_DEPTH = 64


@functools.cache
def file_mode() -> int:
    """The mode every faithline file gets: 0o666 less the process umask (0o644 under 022)."""
    umask = os.umask(0o022)
    os.umask(umask)
    return 0o666 & ~umask


def _open_input(p: Path) -> Any:
    if not p.exists():
        raise BadInputError(f"file '{p}' does not exist")
    if p.is_dir():
        raise BadInputError(f"'{p}' is a directory, not a file")
    try:
        return p.open("rb")
    except OSError as e:
        raise BadInputError(f"cannot read '{p}': {e.strerror}") from None


def is_finite(x: int | float) -> bool:
    """Whether ``x`` is a finite float, or an integer a float can hold (``math.isfinite`` would
    overflow on a larger one)."""
    return math.isfinite(x) if isinstance(x, float) else abs(x) <= sys.float_info.max


def _children(node: dict[str, Any] | list[Any], path: str) -> Iterator[tuple[Any, str]]:
    if isinstance(node, dict):
        return ((v, f"{path}.{k}" if path else str(k)) for k, v in node.items())
    return ((v, f"{path}[{i}]") for i, v in enumerate(node))


def check_tree(obj: Any, where: str, finite: bool = True) -> None:
    """Refuse ``obj`` (parsed JSON) if it nests deeper than ``MAX_DEPTH`` or, with ``finite``,
    holds NaN, an infinity or an integer beyond a float's range; the error names the key path."""
    stack: list[tuple[Any, int, str]] = [(obj, 0, "")]
    while stack:
        node, depth, path = stack.pop()
        if isinstance(node, (dict, list)):
            if depth >= MAX_DEPTH:
                raise BadInputError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels "
                                    f"(at '{path[:80]}')")
            stack.extend((v, depth + 1, at) for v, at in _children(node, path))
        elif finite and isinstance(node, (int, float)) and not isinstance(node, bool) \
                and not is_finite(node):
            shown = json.dumps(node) if isinstance(node, float) else \
                f"an integer of {len(str(abs(node)))} digits"
            raise BadInputError(f"{where}: '{path[:80]}' is {shown}; faithline reads finite "
                                "numbers only (not NaN, Infinity or beyond a float's range)")


def parse_json(text: str, where: str, finite: bool = False) -> Any:
    """``json.loads(text)``, then ``check_tree``; a malformed document still raises
    ``json.JSONDecodeError`` (the caller knows whether it was cut short)."""
    try:
        obj = json.loads(text)
    except RecursionError:
        raise BadInputError(f"{where}: JSON nested deeper than {MAX_DEPTH} levels") from None
    except json.JSONDecodeError:
        raise
    except ValueError as e:  # an integer over Python's 4300 digits: the reason, not the advice
        raise BadInputError(f"{where}: {str(e).split(':')[0]}") from None
    check_tree(obj, where, finite)
    return obj


def iter_jsonl(path: str | os.PathLike[str], skip_torn_tail: bool = False,
               finite: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; a bad line is named by number.

    ``skip_torn_tail``: a last line with no newline that does not parse is a write cut short by
    a kill (run files are appended line by line); skip it instead of failing. ``finite``: refuse
    non-finite numbers (``check_tree``), as for every file a user gives.
    """
    p = Path(path)
    with _open_input(p) as f:
        offset, lineno = 0, 0
        while raw := f.readline(MAX_LINE_BYTES + 1):
            lineno += 1
            torn = not raw.endswith(b"\n")
            if len(raw) > MAX_LINE_BYTES:
                raise BadInputError(f"{p}:{lineno}: line longer than {MAX_LINE_BYTES >> 20} MiB "
                                    f"(from byte {offset}); not a JSONL file of faithline's")
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as e:
                if skip_torn_tail and torn:
                    return
                raise BadInputError(f"{p}:{lineno}: not UTF-8 text (byte 0x{raw[e.start]:02x} "
                                    f"at offset {offset + e.start})") from None
            offset += len(raw)
            if not line.strip():
                continue
            try:
                obj = parse_json(line, f"{p}:{lineno}", finite)
            except json.JSONDecodeError as e:
                if skip_torn_tail and torn:
                    return
                cut = " (the last line is cut short: no newline at the end)" if torn else ""
                raise BadInputError(f"{p}:{lineno}: invalid JSON ({e.msg}){cut}") from None
            if not isinstance(obj, dict):
                raise BadInputError(f"{p}:{lineno}: expected a JSON object")
            yield lineno, obj


def _transcript(obj: dict[str, Any], where: str) -> Transcript:
    missing = [k for k in TRANSCRIPT_REQUIRED if k not in obj]
    if missing and "question" in obj and "cot" not in obj:
        raise BadInputError(f"{where}: missing required key(s) {', '.join(missing)}: this is "
                            "a Task JSONL line (id, question, answer), not a transcript; "
                            "faithline generate --task FILE makes transcripts from it")
    return Transcript.from_dict(obj, where=where)


def input_name(path: str | os.PathLike[str]) -> str:
    """A short name for an input file: its stem, or for ``RUN/transcripts.jsonl`` the run's."""
    p = Path(path)
    return p.parent.name if p.name == "transcripts.jsonl" and p.parent.name else p.stem


def read_transcripts(path: str | os.PathLike[str], skip_torn_tail: bool = False,
                     finite: bool = False) -> list[Transcript]:
    """All transcripts of a Transcript JSONL file (contract), validated line by line."""
    return [_transcript(obj, f"{path}:{n}")
            for n, obj in iter_jsonl(path, skip_torn_tail, finite)]


# Other tools' logs, read by the part that knows them (an optional extra), which registers a
# function ``reader_for(path)`` -> its loader ``load(path, label_from, label_key)`` if ``path``
# is in its format, else None. ``faithline.inspect`` registers Inspect AI's .eval / .json logs.
LogLoader = Callable[[Path, "str | None", "str | None"], "list[Transcript]"]
LOG_READERS: Registry[LogLoader | None] = Registry("log reader")


def _log_loader(p: Path) -> LogLoader | None:
    if not p.is_file():
        return None
    for name in LOG_READERS.in_order():
        loader = LOG_READERS.get(name)(p)
        if loader is not None:
            return loader
    return None


def load_transcripts(path: str | os.PathLike[str], label_from: str | None = None,
                     label_key: str | None = None) -> list[Transcript]:
    """The transcripts of an input file: as ``read_transcripts`` with finite numbers only, and
    refused when it holds none or repeats an id (commands resume by id, so a repeated id would
    be lost).

    A log of another tool (``LOG_READERS``: Inspect AI's ``.eval``/``.json``) is read by its
    reader; ``label_from`` (e.g. ``score:NAME[=VALUE]``) sets ``label[label_key]`` from it."""
    p = Path(path)
    reader = _log_loader(p)
    if reader is None and label_from:
        raise BadInputError(f"{path}: --label-from reads the scores of an Inspect log; this "
                            "is a Transcript JSONL file (its labels are in 'label')")
    if reader is None:
        ts = read_transcripts(path, finite=True)
    else:
        ts = reader(p, label_from, label_key)
        for t in ts:
            check_tree(t.to_dict(), f"{path}: transcript '{t.id}'")
    if not ts:
        raise BadInputError(f"{path}: no transcripts (empty file)")
    seen: set[str] = set()
    for t in ts:
        if t.id in seen:
            raise BadInputError(f"{path}: transcript id '{t.id}' appears twice (ids must be "
                                "unique within a file)")
        seen.add(t.id)
    return ts


def write_text_atomic(path: str | os.PathLike[str], text: str) -> None:
    """Write ``text`` to ``path`` so readers see the old file or the new one, never a torn one;
    the file gets ``file_mode()`` (mkstemp alone would leave it 0600)."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(text)
            f.flush()
            os.fchmod(f.fileno(), file_mode())
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON to ``path`` atomically (``write_text_atomic``)."""
    write_text_atomic(path, json.dumps(obj, indent=2, ensure_ascii=False, default=str) + "\n")


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line with a single write on an O_APPEND descriptor, then fsync."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o666)
    try:
        os.write(fd, data)
        os.fsync(fd)
    finally:
        os.close(fd)


def repair_jsonl_tail(path: str | os.PathLike[str]) -> int:
    """Drop a torn last line (a write cut short by a kill). Returns the bytes dropped."""
    p = Path(path)
    if not p.is_file() or p.stat().st_size == 0:
        return 0
    with p.open("rb+") as f:
        data = f.read()
        if data.endswith(b"\n"):
            return 0
        keep = data.rfind(b"\n") + 1
        f.truncate(keep)
        return len(data) - keep


def read_json(path: str | os.PathLike[str], finite: bool = False) -> Any:
    """The parsed JSON of a file; unreadable or malformed JSON, or JSON that ``check_tree``
    refuses, is a ``BadInputError``."""
    p = Path(path)
    with _open_input(p) as f:
        raw = f.read()
    try:
        return parse_json(raw.decode("utf-8"), str(p), finite)
    except UnicodeDecodeError as e:
        raise BadInputError(f"{p}: not UTF-8 text (byte 0x{raw[e.start]:02x} at offset "
                            f"{e.start})") from None
    except json.JSONDecodeError as e:
        raise BadInputError(f"{p}: invalid JSON ({e.msg})") from None


def check_output(path: str | os.PathLike[str], kind: str = "file", flag: str = "--out") -> Path:
    """Refuse an output path that cannot be written as ``kind`` (``file`` or ``dir``): a
    directory where a file goes, a file where a directory goes, a path under a file, or a place
    this user may not write. Reads nothing and creates nothing; call it before any input is
    read or model loaded, so a corrected command starts clean."""
    p = Path(path)
    if kind == "file" and p.is_dir():
        raise BadInputError(f"{flag} '{p}' is a directory; give the path of a file")
    if kind == "dir" and p.exists() and not p.is_dir():
        raise BadInputError(f"{flag} '{p}' exists and is not a directory")
    if p.exists():
        if not os.access(p, os.W_OK):
            raise BadInputError(f"{flag} '{p}': permission denied")
        return p
    above = p.absolute().parent
    while not above.exists() and above != above.parent:
        above = above.parent
    if not above.is_dir():
        raise BadInputError(f"{flag} '{p}': '{above}' is a file, not a directory")
    if not os.access(above, os.W_OK | os.X_OK):
        raise BadInputError(f"{flag} '{p}': cannot create it in '{above}' (permission denied)")
    return p
