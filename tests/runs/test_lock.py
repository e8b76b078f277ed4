"""One writer per run directory: the flock ``Run.open`` takes, across real processes."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from faithline.errors import BadInputError
from faithline.runs import Run
from faithline.runs.lock import LOCK_NAME
from faithline.types import Transcript

HOLD = textwrap.dedent("""
    import sys, time
    from faithline.runs import Run
    run = Run.open(sys.argv[1], "generate", {"n": 1})
    print("held", flush=True)
    time.sleep(600)
""")


def holder(path: Path) -> subprocess.Popen[str]:
    """Another process that opens ``path`` for writing and keeps it."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(path)], stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline().strip() == "held", proc.stderr
    return proc


def test_a_second_process_is_refused_with_the_holders_pid(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = holder(run_dir)
    try:
        before = {p.name: p.read_bytes() for p in run_dir.iterdir()}
        with pytest.raises(BadInputError, match=rf"in use by another faithline process "
                                                rf"\(pid {proc.pid}\)"):
            Run.open(run_dir, "generate", {"n": 1})
        assert {p.name: p.read_bytes() for p in run_dir.iterdir()} == before  # untouched
        assert Run.load(run_dir).info["command"] == "generate"  # a reader is never blocked
    finally:
        proc.kill()
        proc.wait()


def test_a_killed_holder_does_not_block_a_resume(tmp_path: Path) -> None:
    run_dir = tmp_path / "run"
    proc = holder(run_dir)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (run_dir / LOCK_NAME).read_text().strip() == str(proc.pid)  # stale pid left behind
    run = Run.open(run_dir, "generate", {"n": 1})
    assert run.info["resumed"] == 1
    assert (run_dir / LOCK_NAME).read_text().strip() == str(os.getpid())


def test_reentrant_within_a_process_and_released_when_the_runs_are_gone(tmp_path: Path) -> None:
    first = Run.open(tmp_path / "run", "generate", {"n": 1})
    second = Run.open(tmp_path / "run", "generate", {"n": 1})  # same process: no conflict
    assert first.lock is second.lock
    second.append(Transcript("a", "p", "c", "x"))
    assert Run.load(tmp_path / "run").lock is None  # read-only: no lock
    del first, second
    # no Run of this process holds it any more: another process can take it
    proc = holder(tmp_path / "run")
    proc.kill()
    proc.wait()


def test_a_run_deleted_and_rebuilt_in_one_process_is_locked_again(tmp_path: Path) -> None:
    keep = Run.open(tmp_path / "pooled", "demo arm", {"arm": "a"})
    shutil.rmtree(tmp_path / "pooled")  # what the demo does to rebuild a pooled run
    again = Run.open(tmp_path / "pooled", "demo arm", {"arm": "a"})
    assert again.lock is not keep.lock
    r = subprocess.run([sys.executable, "-c", HOLD, str(tmp_path / "pooled")],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode != 0 and f"pid {os.getpid()}" in r.stderr


def test_lock_file_holds_only_the_pid(tmp_path: Path) -> None:
    run = Run.open(tmp_path / "run", "generate", {"n": 1})
    assert (run.path / LOCK_NAME).read_text() == f"{os.getpid()}\n"
