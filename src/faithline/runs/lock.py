"""One writer at a time: an OS lock (``fcntl.flock``) on a lock file, held for a command's life.

``hold(lock_path, what)`` takes an exclusive, non-blocking ``flock`` on ``lock_path`` and writes
the holder's pid into it. A second process asking for the same lock gets a ``BadInputError``
naming that pid, before it has written anything. The kernel drops a flock when its holder dies
(SIGKILL included), so a lock file left by a killed command never blocks a resume: the pid in it
is only read when the lock is really held.

Within one process the lock is re-entrant: asking again for a lock the process holds returns the
same ``Lock`` (``Run.open`` twice on one directory, a pooled run written by the process that
wrote its parts). A lock is released when the last object holding it (each ``Run`` opened for
writing keeps its ``Lock``) is garbage-collected, or at exit; ``Run.load`` (read-only) takes
none. Where ``fcntl`` does not exist (Windows), locking is skipped.
"""

from __future__ import annotations

import os
import weakref
from pathlib import Path

from faithline.errors import BadInputError

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

LOCK_NAME = "run.lock"
_HELD: weakref.WeakValueDictionary[Path, Lock] = weakref.WeakValueDictionary()


class Lock:
    """A held flock; the descriptor closes (releasing the lock) when this object is freed."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self.fd = fd
        self._close = weakref.finalize(self, os.close, fd)

    def is_current(self) -> bool:
        """Whether the lock file on disk is still the one locked (not deleted and remade)."""
        try:
            return os.stat(self.path).st_ino == os.fstat(self.fd).st_ino
        except OSError:
            return False

    def release(self) -> None:
        _HELD.pop(self.path, None)
        self._close()


def hold(lock_path: str | os.PathLike[str], what: str) -> Lock:
    """Take (or, if this process holds it, return) the lock on ``lock_path``.

    ``what`` names the thing locked in the error, e.g. "run 'runs/cf'"."""
    path = Path(os.path.abspath(lock_path))
    held = _HELD.get(path)
    if held is not None:
        if held.is_current():
            return held
        held.release()  # its file was deleted (e.g. the directory removed and rebuilt)
    fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o666)
    try:
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                holder = os.pread(fd, 32, 0).decode("ascii", "replace").strip() or "unknown"
                raise BadInputError(
                    f"{what} is in use by another faithline process (pid {holder}); wait for "
                    "it to finish, or use another --out") from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
    except BaseException:
        os.close(fd)
        raise
    lock = Lock(path, fd)
    _HELD[path] = lock
    return lock
