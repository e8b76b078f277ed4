"""Every file in a run directory gets one mode, 0o666 less the umask (a colleague who can read
the report can read the config and the metrics too)."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from faithline.types import Transcript


@pytest.mark.parametrize("umask", [0o022, 0o002, 0o077])
def test_every_run_file_has_the_same_mode_under_the_umask(tmp_path: Path, umask: int) -> None:
    data = tmp_path / "in.jsonl"
    data.write_text(Transcript("a", "p", "the answer is leaked", "x").to_json() + "\n")
    run = tmp_path / "run"
    for args in (["monitor", "--monitor", "rule:leak", str(data), "--out", str(run)],
                 ["report", str(run)]):
        r = subprocess.run([sys.executable, "-m", "faithline.cli.main", *args, "--quiet"],
                           capture_output=True, text=True, timeout=120,
                           preexec_fn=lambda: os.umask(umask))
        assert r.returncode == 0, r.stderr
    modes = {p.name: stat.S_IMODE(p.stat().st_mode) for p in run.iterdir()}
    assert {"run.json", "metrics.json", "transcripts.jsonl", "report.html", "run.lock"} \
        <= set(modes)
    assert set(modes.values()) == {0o666 & ~umask}, {k: oct(v) for k, v in modes.items()}
