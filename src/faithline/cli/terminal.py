"""What a command writes to the terminal, and how the terminal stops a command.

Strings from inputs reach the terminal in error messages (a transcript id, a model spec, a
file name) and progress and summary lines. faithline reads untrusted model output, so such a
string may hold ESC sequences (clear the screen, print a fake "all checks passed") or bidi
overrides (reorder what is read). For the life of a command (``guarded``) stdout and stderr
show every control and invisible character as a mark, ``⟨U+001B⟩``, as the HTML report does
(``faithline.invisible.for_terminal``); only newline, carriage return and tab pass, which
progress bars need. Error messages are marked whole, so they stay one line.

SIGTERM (``kill``, a scheduler's time limit, ``docker stop``) raises ``Terminated``, a
``KeyboardInterrupt``: the command stops as on Ctrl-C, its run says ``interrupted`` in
run.json, the CLI prints one line and exits 143, and re-running the command resumes it.
"""

from __future__ import annotations

import contextlib
import signal
import sys
import threading
from collections.abc import Iterable, Iterator
from types import FrameType
from typing import Any, TextIO

from faithline.invisible import for_terminal

STREAM_KEEP = "\n\r\t"


class Terminated(KeyboardInterrupt):
    """The process got SIGTERM; handled like Ctrl-C (exit 143 = 128 + 15)."""

    exit_code = 128 + signal.SIGTERM


class SafeStream:
    """A text stream that writes control and invisible characters as visible marks."""

    def __init__(self, inner: TextIO) -> None:
        self.inner = inner

    def write(self, text: str) -> int:
        self.inner.write(for_terminal(text, keep=STREAM_KEEP))
        return len(text)

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def __getattr__(self, name: str) -> Any:  # flush, isatty, fileno, encoding, ...
        return getattr(self.inner, name)


def _raise_terminated(signum: int, frame: FrameType | None) -> None:
    raise Terminated


@contextlib.contextmanager
def guarded() -> Iterator[None]:
    """Safe stdout and stderr, and SIGTERM as ``Terminated``, inside; both restored after."""
    streams = sys.stdout, sys.stderr
    if not isinstance(sys.stdout, SafeStream):
        sys.stdout = SafeStream(sys.stdout)
    if not isinstance(sys.stderr, SafeStream):
        sys.stderr = SafeStream(sys.stderr)
    main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _raise_terminated) if main_thread else None
    try:
        yield
    finally:
        if main_thread:
            signal.signal(signal.SIGTERM, signal.SIG_DFL if previous is None else previous)
        with contextlib.suppress(Exception):
            sys.stdout.flush()
            sys.stderr.flush()
        sys.stdout, sys.stderr = streams
