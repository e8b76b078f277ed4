"""``faithline train rl`` stopped by SIGTERM (``kill``, a scheduler's time limit), as a user
meets it: one line, exit 143, run.json says ``interrupted``, and the same command resumes it
to the end without a step counted twice."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path


def test_sigterm_is_handled_like_ctrl_c_and_the_run_resumes(tiny_organism: Path,
                                                            tmp_path: Path) -> None:
    out = tmp_path / "run"
    cmd = [sys.executable, "-m", "faithline.cli.main", "train", "rl",
           "--model", f"hf:{tiny_organism}", "--steps", "8", "--save-every", "1",
           "--prompts", "4", "--generations", "4", "--eval-n", "16", "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    steps, deadline = out / "steps.jsonl", time.monotonic() + 300
    while not (steps.is_file() and steps.read_text().count("\n") >= 1):  # mid-training
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=120)
    assert proc.returncode == 143, err[-3000:]
    assert "Traceback" not in err
    assert err.strip().splitlines()[-1] == \
        "faithline train: terminated (SIGTERM); re-run the same command to resume"
    assert json.loads((out / "run.json").read_text())["status"] == "interrupted"

    again = subprocess.run(cmd, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stderr[-3000:]
    assert json.loads((out / "run.json").read_text())["status"] == "done"
    assert [json.loads(x)["step"] for x in steps.read_text().splitlines()] == list(range(1, 9))
