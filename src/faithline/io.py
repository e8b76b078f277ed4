"""Reading and writing JSONL and JSON files: line-numbered errors, atomic writes.

Every command that reads transcripts reads them through ``read_transcripts``; a malformed line
is a ``BadInputError`` naming the file and line.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from faithline.errors import BadInputError
from faithline.types import Transcript


def iter_jsonl(path: str | os.PathLike[str],
               skip_torn_tail: bool = False) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line number, object) for each non-blank line; bad JSON names the line.

    ``skip_torn_tail``: a last line with no newline that does not parse is a write cut short by
    a kill (run files are appended line by line); skip it instead of failing.
    """
    p = Path(path)
    if not p.is_file():
        raise BadInputError(f"file '{p}' does not exist")
    with p.open(encoding="utf-8") as f:
        for lineno, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as e:
                if skip_torn_tail and not line.endswith("\n"):
                    return
                raise BadInputError(f"{p}:{lineno}: invalid JSON ({e.msg})") from None
            if not isinstance(obj, dict):
                raise BadInputError(f"{p}:{lineno}: expected a JSON object")
            yield lineno, obj


def read_transcripts(path: str | os.PathLike[str],
                     skip_torn_tail: bool = False) -> list[Transcript]:
    """All transcripts of a Transcript JSONL file (contract), validated line by line."""
    return [Transcript.from_dict(obj, where=f"{path}:{n}")
            for n, obj in iter_jsonl(path, skip_torn_tail)]


def write_json_atomic(path: str | os.PathLike[str], obj: Any) -> None:
    """Write JSON to ``path`` so readers see the old file or the new one, never a torn one."""
    p = Path(path)
    fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{p.name}.")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False, default=str)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, p)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def append_line(path: str | os.PathLike[str], line: str) -> None:
    """Append one line with a single write on an O_APPEND descriptor, then fsync."""
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
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


def read_json(path: str | os.PathLike[str]) -> Any:
    """The parsed JSON of a file; malformed JSON is a ``BadInputError`` naming the file."""
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise BadInputError(f"{path}: invalid JSON ({e.msg})") from None
