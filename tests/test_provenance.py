"""The environment a run ran on: commit, CPU and the instruction set torch's kernels use."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

import faithline
from faithline.provenance import ENV_KEYS, environment, provenance_line
from faithline.runs import Run


def test_environment_has_every_key_and_is_json() -> None:
    env = environment()
    assert tuple(env) == ENV_KEYS
    assert json.loads(json.dumps(env)) == env
    assert env["faithline"] == faithline.__version__
    assert env["python"] == sys.version.split()[0]
    assert env["cpu_count"] == os.cpu_count() and env["cpu_model"]
    assert env["date"].endswith("+00:00")


def test_the_commit_is_this_checkouts_head() -> None:
    src = Path(faithline.__file__).resolve().parent
    head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=src, capture_output=True,
                          text=True, check=False)
    if head.returncode != 0:
        pytest.skip("faithline is not running from a git checkout")
    env = environment()
    assert env["commit"] == head.stdout.strip()
    assert isinstance(env["dirty"], bool)


def test_aten_cpu_capability_is_read_and_torch_uses_it() -> None:
    pytest.importorskip("torch")
    code = "import json; from faithline.provenance import environment; " \
           "print(json.dumps(environment()))"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True, env={**os.environ, "ATEN_CPU_CAPABILITY": "default",
                                          "OMP_NUM_THREADS": "1"}).stdout
    env = json.loads(out)
    assert env["aten_cpu_capability"] == "default"
    assert env["cpu_capability"].lower() == "default"  # torch's kernels took the override
    assert env["omp_num_threads"] == "1" and env["torch_threads"] == 1
    assert "ATEN_CPU_CAPABILITY=default · " in provenance_line(env)
    assert "(default) · " in provenance_line(env)


def test_provenance_line_reads_like_its_docstring() -> None:
    env = {"commit": "412015a0c0ffee", "dirty": False, "cpu_model": "AMD EPYC 7B13",
           "cpu_capability": "AVX2", "torch": "2.13.0", "torch_threads": 1,
           "aten_cpu_capability": "default", "date": "2026-12-07T10:00:00+00:00"}
    line = provenance_line(env, {"seeds": list(range(8)), "wall_seconds": 812.4,
                                 "config": {"ignored": 1}})
    assert line == ("commit 412015a · AMD EPYC 7B13 (avx2) · torch 2.13.0 · 1 thread · "
                    "ATEN_CPU_CAPABILITY=default · 2026-12-07 · seeds=8 · wall_seconds=812.4")
    assert provenance_line({"commit": None, "torch_threads": 4, "dirty": True}) == "4 threads"
    assert provenance_line({**env, "dirty": True}).startswith("commit 412015a (dirty) · ")


def test_run_json_records_the_environment_and_each_resumption(tmp_path: Path) -> None:
    Run.open(tmp_path / "r", "generate", {"model": "m", "n": 2})
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert set(info["environment"]) == set(ENV_KEYS)
    assert "resumed_environment" not in info
    again = Run.open(tmp_path / "r", "generate", {"model": "m", "n": 3})
    assert again.info["resumed"] == 1
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert [set(e) for e in info["resumed_environment"]] == [set(ENV_KEYS)]
