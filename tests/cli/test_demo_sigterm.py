"""``faithline demo`` stopped while its pool trains, by SIGTERM to it (``kill``, a scheduler)
or by Ctrl-C (SIGINT to the terminal's whole process group, workers included): the workers
are stopped, not waited for; one line, exit 143 or 130; the demo and its running RL runs say
``interrupted``; the same command resumes every run to the end without a step counted twice."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest


def children(pid: int) -> list[int]:
    """The processes whose parent is ``pid`` (Linux /proc)."""
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rpartition(")")[2].split()
        except OSError:  # it ended while we looked
            continue
        if int(fields[1]) == pid:
            out.append(int(stat.parent.name))
    return out


def running(pid: int) -> bool:
    """Whether ``pid`` is a live process (not gone, not a zombie)."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()[0] != "Z"
    except OSError:
        return False


def steps(run: Path) -> list[int]:
    path = run / "steps.jsonl"
    text = path.read_text() if path.is_file() else ""
    return [json.loads(x)["step"] for x in text.splitlines() if x.endswith("}")]


# how the signal is sent -> (exit code, the CLI's last line)
STOPS = {"sigterm": (143, "faithline demo: terminated (SIGTERM); re-run the same command to "
                          "resume"),
         "ctrl-c": (130, "faithline demo: interrupted; re-run the same command to resume")}


@pytest.mark.skipif(not Path("/proc/self/stat").is_file(), reason="reads /proc")
@pytest.mark.parametrize("stop", list(STOPS))
def test_a_stop_ends_the_pool_and_a_rerun_resumes_every_run(stop: str, tmp_path: Path) -> None:
    out = tmp_path / "demo"
    cmd = [sys.executable, "-m", "faithline.cli.main", "demo", "--quick", "--arms",
           "outcome,pressure", "--workers", "2", "--out", str(out), "--quiet"]
    runs = [out / "rl" / "outcome-s0", out / "rl" / "pressure-s0"]
    # its own group, as in a terminal; SIGINT back to its default, since a shell's background
    # job (pytest started with `&`) passes SIGINT on ignored and Python then never raises it
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 300
    while not any(steps(r) for r in runs):  # a worker is mid-training
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    workers = children(proc.pid)
    if stop == "sigterm":
        proc.send_signal(signal.SIGTERM)
    else:
        os.killpg(proc.pid, signal.SIGINT)
    _, err = proc.communicate(timeout=120)  # the workers' pipes close: they have ended
    code, line = STOPS[stop]
    assert proc.returncode == code, err[-3000:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == line
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"
    gone = time.monotonic() + 10
    while any(map(running, workers)) and time.monotonic() < gone:
        time.sleep(0.1)
    assert not [p for p in workers if running(p)]
    stopped = [r for r in runs if steps(r)]
    status = {r.name: json.loads((r / "run.json").read_text())["status"]
              for r in runs if (r / "run.json").is_file()}
    assert all(status[r.name] == "interrupted" and len(steps(r)) < 4 for r in stopped), status
    assert "running" not in status.values(), status

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((out / "run.json").read_text())["status"] == "done"
    for r in runs:
        info = json.loads((r / "run.json").read_text())
        assert info["status"] == "done" and steps(r) == [1, 2, 3, 4], (r, info["status"])
    assert all(json.loads((r / "run.json").read_text()).get("resumed") for r in stopped)
