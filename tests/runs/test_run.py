"""Run directories: create, append, resume, torn lines, config mismatch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faithline.errors import BadInputError
from faithline.io import read_transcripts
from faithline.runs import SCHEMA, Run
from faithline.types import Transcript


def _t(i: int) -> Transcript:
    return Transcript(id=f"s{i}", prompt="p", cot=f"step {i}", answer="A", gold="A",
                      correct=True, extra={"custom": i})


def test_new_run_records_config_versions_and_seeds(tmp_path: Path) -> None:
    run = Run.open(tmp_path / "r", "generate", {"model": "m", "n": 2}, seeds={"seed": 3})
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert info["schema"] == SCHEMA
    assert info["config"] == {"model": "m", "n": 2}
    assert info["seeds"] == {"seed": 3}
    assert info["versions"]["faithline"] == "0.1.0"
    assert info["versions"]["python"]
    assert run.transcripts() == []


def test_append_and_resume_keeps_unknown_keys(tmp_path: Path) -> None:
    run = Run.open(tmp_path, "generate", {"model": "m", "n": 2})
    run.append(_t(0))
    run.append(_t(1))
    again = Run.open(tmp_path, "generate", {"model": "m", "n": 5})  # n may grow
    assert again.done_ids() == {"s0", "s1"}
    assert again.info["resumed"] == 1
    rows = [json.loads(line) for line in run.transcripts_path.read_text().splitlines()]
    assert [r["custom"] for r in rows] == [0, 1]


def test_torn_last_line_is_dropped_on_resume(tmp_path: Path) -> None:
    run = Run.open(tmp_path, "generate", {"model": "m"})
    run.append(_t(0))
    with run.transcripts_path.open("a") as f:
        f.write('{"id": "s1", "prompt": "p", "co')  # a kill mid-write
    Run.open(tmp_path, "generate", {"model": "m"})
    assert [t.id for t in read_transcripts(run.transcripts_path)] == ["s0"]


def test_resume_with_different_config_is_refused(tmp_path: Path) -> None:
    Run.open(tmp_path, "generate", {"model": "m", "task": "coinflip"})
    with pytest.raises(BadInputError, match=r"different config.*task"):
        Run.open(tmp_path, "generate", {"model": "m", "task": "addition"})
    with pytest.raises(BadInputError, match="made by 'generate'"):
        Run.open(tmp_path, "eval", {"model": "m", "task": "coinflip"})


def test_failures_are_unresolved_until_a_transcript_exists(tmp_path: Path) -> None:
    run = Run.open(tmp_path, "generate", {})
    run.record_failure("s0", "paraphrase", "empty", "no text")
    run.record_failure("s1", "paraphrase", "refused", "sorry")
    run.append(_t(0))
    assert [f["id"] for f in run.failures()] == ["s1"]
    assert len(run.failures(unresolved_only=False)) == 2


def test_metrics_written_atomically_with_schema(tmp_path: Path) -> None:
    run = Run.open(tmp_path, "generate", {})
    run.write_metrics({"accuracy": {"value": 0.5, "ci_low": 0.1, "ci_high": 0.9, "n": 4}})
    assert run.metrics()["schema"] == "faithline.metrics/1"
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_load_rejects_non_runs(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not a faithline run"):
        Run.load(tmp_path)
    (tmp_path / "run.json").write_text("{bad")
    with pytest.raises(BadInputError, match="invalid JSON"):
        Run.load(tmp_path)


def test_a_setting_added_later_does_not_block_resume(tmp_path: Path) -> None:
    Run.open(tmp_path, "generate", {"model": "m"})
    again = Run.open(tmp_path, "generate", {"model": "m", "new_knob": 0.0},
                     defaults={"new_knob": 0.0})
    assert again.info["config"]["new_knob"] == 0.0
    with pytest.raises(BadInputError, match="new_knob"):
        Run.open(tmp_path, "generate", {"model": "m", "new_knob": 0.5},
                 defaults={"new_knob": 0.0})


def test_failures_count_once_per_sample(tmp_path: Path) -> None:
    run = Run.open(tmp_path, "generate", {})
    run.record_failure("s0", "paraphrase", "truncated", "1st")
    run.record_failure("s0", "paraphrase", "empty", "2nd, after a resume")
    assert [f["error"] for f in run.failures()] == ["2nd, after a resume"]
    assert run.attempts("s0") == 2


def test_unwritable_run_directory_is_bad_input(tmp_path: Path) -> None:
    blocker = tmp_path / "file"
    blocker.write_text("x")
    with pytest.raises(BadInputError, match="cannot create run directory"):
        Run.open(blocker / "run", "generate", {})


def test_working_marks_interrupted_or_done_and_sums_elapsed(tmp_path: Path) -> None:
    run = Run.open(tmp_path, "generate", {})
    with pytest.raises(KeyboardInterrupt), run.working():
        assert Run.load(tmp_path).info["status"] == "running"
        raise KeyboardInterrupt
    assert Run.load(tmp_path).info["status"] == "interrupted"
    with run.working():
        pass
    first = Run.load(tmp_path).info
    assert first["status"] == "done" and first["elapsed_s"] >= 0
    with run.working():
        pass
    assert Run.load(tmp_path).info["elapsed_s"] >= first["elapsed_s"]
