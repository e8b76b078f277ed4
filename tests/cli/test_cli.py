"""The ``faithline`` command as a user runs it: real subprocesses, real SmolLM2, exit codes."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

FAST = ["--max-cot-tokens", "48", "--max-paraphrase-tokens", "128", "--quiet"]
SMOLLM2 = "builtin:smollm2-135m"


def faithline(*args: str, timeout: float = 300) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faithline.cli.main", *args],
                          capture_output=True, text=True, timeout=timeout)


def rows(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.mark.parametrize("command", ["demo", "generate", "report", "serve", "train"])
def test_help_has_an_example(command: str) -> None:
    r = faithline(command, "--help")
    assert r.returncode == 0
    assert "faithline " + command in r.stdout


@pytest.mark.parametrize(
    ("args", "reason"),
    [
        (["--model", "nosuch:thing", "--task", "coinflip"], "unknown model back-end 'nosuch'"),
        (["--model", SMOLLM2, "--task", "nosuch"], "unknown task 'nosuch'"),
        (["--model", SMOLLM2, "--task", "missing.jsonl"], "missing.jsonl: no such file"),
        (["--model", SMOLLM2, "--task", "coinflip", "--n", "0"], "--n must be >= 1"),
        (["--model", SMOLLM2, "--task", "coinflip", "--max-cot-tokens", "0"],
         "--max-cot-tokens must be >= 1"),
        (["--model", SMOLLM2, "--task", "coinflip", "--top-p", "2"], "--top-p must be in (0, 1]"),
        (["--model", "openai:m@http://127.0.0.1:9/v1", "--task", "coinflip"], "127.0.0.1:9"),
    ],
)
def test_bad_input_exits_2_with_one_line(tmp_path: Path, args: list[str], reason: str) -> None:
    r = faithline("generate", *args, "--out", str(tmp_path / "run"), timeout=60)
    assert r.returncode == 2, r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and reason in lines[0], r.stderr
    assert "Traceback" not in r.stderr
    assert not (tmp_path / "run").exists()  # nothing written: the corrected command starts clean


def test_malformed_task_jsonl_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "tasks.jsonl"
    f.write_text('{"id": "1", "question": "q", "answer": "4"}\n{"id": "2", "question": \n')
    r = faithline("generate", "--model", SMOLLM2, "--task", str(f), "--out", str(tmp_path / "r"))
    assert r.returncode == 2
    assert "tasks.jsonl:2" in r.stderr


@pytest.mark.usefixtures("smollm2")
def test_generate_single_and_three_role(tmp_path: Path) -> None:
    single = tmp_path / "single"
    r = faithline("generate", "--model", SMOLLM2, "--task", "coinflip", "--n", "4",
                  "--out", str(single), *FAST)
    assert r.returncode == 0, r.stderr
    ts = rows(single / "transcripts.jsonl")
    assert len(ts) == 4
    assert all(str(t["cot"]).strip() and t["answer"] in {"Heads", "Tails"} for t in ts)
    info = json.loads((single / "run.json").read_text())
    assert info["status"] == "done" and info["models"]["model"]["spec"] == SMOLLM2
    assert json.loads((single / "metrics.json").read_text())["accuracy"]["n"] == 4

    three = tmp_path / "three"
    r = faithline("generate", "--model", SMOLLM2, "--task", "coinflip", "--n", "4",
                  "--paraphraser", SMOLLM2, "--face", SMOLLM2, "--out", str(three), *FAST)
    assert r.returncode == 0, r.stderr
    ts = rows(three / "transcripts.jsonl")
    failures = rows(three / "failures.jsonl") if (three / "failures.jsonl").exists() else []
    assert len(ts) + len(failures) == 4
    assert len(ts) >= 3, failures
    assert all(str(t["paraphrased_cot"]).strip() for t in ts)

    r = faithline("report", str(three))
    assert r.returncode == 0 and (three / "report.html").is_file()


def generate_args(out: Path, n: int) -> list[str]:
    """A `faithline generate` command line on SmolLM2, one sample per batch (a kill target)."""
    return [sys.executable, "-m", "faithline.cli.main", "generate", "--model", SMOLLM2,
            "--task", "addition", "--n", str(n), "--batch-size", "1", "--no-cache",
            "--out", str(out), *FAST]


@pytest.mark.usefixtures("smollm2")
def test_sigkill_then_resume_keeps_every_sample_exactly_once(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = generate_args(out, n=6)
    proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                            start_new_session=True)
    transcripts = out / "transcripts.jsonl"
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        if transcripts.exists() and len(rows(transcripts)) >= 2:
            break
        if proc.poll() is not None:
            pytest.fail(f"generate ended before it could be killed: {proc.stderr.read()!r}")
        time.sleep(0.05)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    before = [t["id"] for t in rows(transcripts)]
    assert 2 <= len(before) < 6
    assert json.loads((out / "run.json").read_text())["status"] == "running"

    r = subprocess.run(args, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    after = [t["id"] for t in rows(transcripts)]
    assert sorted(after) == sorted(f"addition-0-{i}" for i in range(6))
    assert len(after) == len(set(after)) == 6
    assert after[: len(before)] == before  # nothing done was redone or rewritten
    assert json.loads((out / "run.json").read_text())["resumed"] == 1


def test_demo_quick_trains_every_arm_and_writes_report_and_metrics(tmp_path: Path) -> None:
    r = faithline("demo", "--quick", "--out", str(tmp_path / "demo"), "--quiet", timeout=600)
    assert r.returncode == 0, r.stderr
    html = (tmp_path / "demo" / "report.html").read_text()
    metrics = json.loads((tmp_path / "demo" / "metrics.json").read_text())
    assert set(metrics["arms"]) == {"outcome", "pressure", "face", "paraphrase", "legibility"}
    for arm, m in metrics["arms"].items():
        assert arm in html
        assert m["final"]["accuracy"]["n"] == 32
        assert len(rows(tmp_path / "demo" / arm / "transcripts.jsonl")) == 32
    assert "monitor_recall" in metrics["summary"]
    # the console ends with the seed-level table (as `faithline tables` writes it), then the path
    out = r.stdout
    assert out.index("== hold-the-line@quick ==") < out.index("| arm | accuracy | hack rate")
    assert out.rstrip().splitlines()[-1] == f"report: {tmp_path / 'demo' / 'report.html'}"
    table = metrics["tables"]["hold-the-line@quick"]
    assert table["command"] == "faithline demo --quick"
    assert table["provenance"]["seeds"] == 1 and table["provenance"]["cpu_capability"]
    for arm, entry in table["summary"]["arms"].items():
        row = next(x for x in out.splitlines() if x.startswith(f"| {entry['title']} |"))
        acc = entry["per_seed"]["accuracy"]["0"]
        assert f"| {acc:.2f} |" in row  # one seed: its value, no interval
        assert ("vs_baseline" in entry) == (arm != "outcome")
    assert "arm − 1 outcome-only (paired by seed)" in out
    # the same command again, in another directory: the seed-level table repeats exactly
    again = faithline("demo", "--quick", "--out", str(tmp_path / "again"), "--quiet",
                      timeout=600)
    assert again.returncode == 0, again.stderr
    second = json.loads((tmp_path / "again" / "metrics.json").read_text())

    def cells(summary: dict[str, Any]) -> str:  # every metric; s/step is timing, not a result
        arms = {a: {k: v for k, v in e.items() if k != "extra"}
                for a, e in summary["arms"].items()}
        return json.dumps({**summary, "arms": arms}, sort_keys=True)

    assert cells(second["tables"]["hold-the-line@quick"]["summary"]) == cells(table["summary"])
    demo = tmp_path / "demo"  # a run directory: `faithline report RUN` rebuilds its page
    assert json.loads((demo / "run.json").read_text())["status"] == "done"
    (demo / "report.html").unlink()
    assert faithline("report", str(demo)).returncode == 0
    rebuilt = (demo / "report.html").read_text()
    assert "Hold the line" in rebuilt and all(arm in rebuilt for arm in metrics["arms"])


@pytest.mark.usefixtures("smollm2")
def test_two_writers_on_one_run_the_second_is_refused(tmp_path: Path) -> None:
    out = tmp_path / "run"
    args = generate_args(out, n=12)
    first = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    transcripts = out / "transcripts.jsonl"
    deadline = time.monotonic() + 240
    while not (transcripts.exists() and rows(transcripts)):
        if first.poll() is not None or time.monotonic() > deadline:
            first.kill()
            pytest.fail(f"first writer never wrote: {first.communicate()[1]!r}")
        time.sleep(0.05)
    second = subprocess.run(args, capture_output=True, text=True, timeout=300)
    still_running = first.poll() is None
    assert first.wait(timeout=600) == 0, first.communicate()[1]
    assert still_running, "the first writer ended before the second reached the lock"
    assert second.returncode == 2, second.stderr
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and f"in use by another faithline process (pid {first.pid})" \
        in lines[0], second.stderr
    ids = [t["id"] for t in rows(transcripts)]
    assert sorted(ids) == sorted(f"addition-0-{i}" for i in range(12))  # each id once
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "done" and "resumed" not in info  # the second touched nothing
    assert json.loads((out / "metrics.json").read_text())["accuracy"]["n"] == 12
