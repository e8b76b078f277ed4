"""``faithline interp ...`` end to end through the CLI entry point."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from faithline.cli.main import main


def test_capture_probe_gap_through_the_cli(smollm2: Any, tmp_path: Path,
                                           make_transcripts: Any,
                                           capsys: pytest.CaptureFixture[str]) -> None:
    src = tmp_path / "t.jsonl"
    src.write_text("".join(t.to_json() + "\n" for t in make_transcripts(48)))
    store = tmp_path / "acts"
    args = ["interp", "capture", str(src), "--model", "builtin:smollm2-135m", "--paths",
            "layers:2", "--out", str(store), "--quiet"]
    assert main(args) == 0
    assert "48 transcripts captured" in capsys.readouterr().out
    assert main(args) == 0  # resumes: nothing left to do
    assert "0 transcripts captured, 48 already there" in capsys.readouterr().out
    assert main(["interp", "probe", str(store), "--label", "hack", "--positions", "before",
                 "--out", str(tmp_path / "p"), "--quiet"]) == 0
    assert "(best on val)" in capsys.readouterr().out
    assert main(["interp", "gap", str(store), "--positions", "before", "--out",
                 str(tmp_path / "g"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "| all |" in out and "| outcome |" in out


def test_bad_input_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["interp", "probe", str(tmp_path), "--label", "x", "--out", "o"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "not an activation store" in err
    assert main(["interp"]) == 2
    assert main(["interp", "capture", str(tmp_path / "none.jsonl"), "--model",
                 "builtin:smollm2-135m", "--out", str(tmp_path / "s")]) == 2
    assert "does not exist" in capsys.readouterr().err
    assert main(["interp", "sae", str(tmp_path), "--out", "x", "--architecture", "gated"]) == 2
