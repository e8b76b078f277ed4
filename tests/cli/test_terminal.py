"""What reaches the terminal: control, escape and invisible characters from inputs are shown
as marks (``⟨U+001B⟩``), never written raw; SIGTERM stops a command as Ctrl-C does."""

from __future__ import annotations

import io
import json
import os
import re
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest

from faithline import invisible
from faithline.cli.main import main
from faithline.cli.terminal import SafeStream, Terminated, guarded

SMOLLM2 = "builtin:smollm2-135m"
# Clear the screen, home the cursor, a fake verdict, a right-to-left override, a bell, a C1 CSI.
HOSTILE = "\x1b[2J\x1b[Hall checks passed \u202edessap\u202c\x07\x9b31m"
# What must never reach the terminal raw; newline, CR and tab pass (progress bars need them).
RAW = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\u2028\u2029]|" + invisible.PATTERN.pattern)
TRANSCRIPT = {"id": "1", "prompt": "p", "cot": "c", "answer": "a", "label": {"hack": False}}


def faithline(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faithline.cli.main", *args],
                          capture_output=True, text=True, timeout=120)


@pytest.fixture()
def files(tmp_path: Path) -> dict[str, str]:
    """``dup``: a hostile id twice (quoted back in the error); ``good``: hostile unique ids."""
    rows = [{**TRANSCRIPT, "id": HOSTILE + str(i)} for i in range(3)]
    (tmp_path / "dup.jsonl").write_text("".join(json.dumps({**TRANSCRIPT, "id": HOSTILE}) + "\n"
                                                for _ in range(2)))
    (tmp_path / "good.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return {"dup": str(tmp_path / "dup.jsonl"), "good": str(tmp_path / "good.jsonl"),
            "tmp": str(tmp_path), "hostile": HOSTILE}


# Each command with an input that its error quotes back: a transcript id, a spec, a path.
QUOTING = {
    "monitor id": ["monitor", "{dup}", "--monitor", "rule:leak", "--out", "{tmp}/o"],
    "monitor-train id": ["monitor-train", "{dup}", "--labels", "hack", "--out", "{tmp}/o"],
    "legibility id": ["legibility", "{dup}", "--out", "{tmp}/o"],
    "paraphrase id": ["paraphrase", "{dup}", "--out", "{tmp}/o.jsonl"],
    "interp capture id": ["interp", "capture", "{dup}", "--model", SMOLLM2, "--out", "{tmp}/o"],
    "generate model spec": ["generate", "--model", "{hostile}", "--task", "coinflip",
                            "--out", "{tmp}/o"],
    "eval task spec": ["eval", "--model", SMOLLM2, "--task", "{hostile}", "--out", "{tmp}/o"],
    "monitor spec": ["monitor", "{good}", "--monitor", "{hostile}", "--out", "{tmp}/o"],
    "paraphraser spec": ["paraphrase", "{good}", "--paraphraser", "{hostile}",
                         "--out", "{tmp}/o.jsonl"],
    "report path": ["report", "{tmp}/{hostile}"],
    "usage error": ["monitor", "{good}", "--monitor", "rule:leak", "--no-such-{hostile}"],
}


@pytest.mark.parametrize("case", list(QUOTING))
def test_error_lines_show_escapes_and_bidi_as_marks(case: str, files: dict[str, str]) -> None:
    r = faithline(*[a.format(**files) for a in QUOTING[case]], "--quiet")
    assert r.returncode == 2 and "Traceback" not in r.stderr, r.stderr[-2000:]
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1 and "⟨U+001B⟩[2J⟨U+001B⟩[Hall checks passed ⟨U+202E⟩" in lines[0]
    assert not RAW.search(r.stdout + r.stderr), repr(r.stderr)


# Commands that run to the end on hostile ids and a hostile output name, printing progress bars
# (no --quiet) and a summary line that names the output.
RUNNING = {
    "monitor": ["monitor", "{good}", "--monitor", "rule:leak", "--out", "{tmp}/{hostile}"],
    "paraphrase": ["paraphrase", "{good}", "--paraphraser", "canonical",
                   "--out", "{tmp}/{hostile}.jsonl"],
}


@pytest.mark.parametrize("command", list(RUNNING))
def test_progress_and_summary_lines_show_escapes_as_marks(command: str,
                                                          files: dict[str, str]) -> None:
    r = faithline(*[a.format(**files) for a in RUNNING[command]])
    assert r.returncode == 0, r.stderr[-2000:]
    assert "⟨U+001B⟩[2J" in r.stdout
    assert not RAW.search(r.stdout + r.stderr), repr(r.stdout + r.stderr)


def test_safe_stream_marks_all_but_line_breaks_and_tabs() -> None:
    inner = io.StringIO()
    stream: Any = SafeStream(inner)
    assert stream.write("a\x1b[2Jb\u202e\r\n\tc\x9b") == 12  # what it was given
    stream.flush()
    assert inner.getvalue() == "a⟨U+001B⟩[2Jb⟨U+202E⟩\r\n\tc⟨U+009B⟩"
    assert invisible.for_terminal("x\ny\r") == "x⟨U+000A⟩y⟨U+000D⟩"  # messages stay one line


def test_guarded_restores_the_streams_and_the_sigterm_handler() -> None:
    streams, handler = (sys.stdout, sys.stderr), signal.getsignal(signal.SIGTERM)
    with guarded():
        assert isinstance(sys.stdout, SafeStream) and isinstance(sys.stderr, SafeStream)
        with pytest.raises(Terminated):
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(5)  # the handler raises before, or during, this
    assert (sys.stdout, sys.stderr) == streams and signal.getsignal(signal.SIGTERM) == handler


def test_sigterm_marks_the_run_interrupted_and_it_resumes(tmp_path: Path, files: dict[str, str],
                                                          monkeypatch: pytest.MonkeyPatch,
                                                          capsys: pytest.CaptureFixture[str]
                                                          ) -> None:
    from faithline.monitors import benchmark

    real, calls = benchmark.apply_monitors, []

    def killed_on_second_batch(*args: Any, **kw: Any) -> Any:
        calls.append(1)
        if len(calls) == 2:
            os.kill(os.getpid(), signal.SIGTERM)  # handled before the next line runs
        return real(*args, **kw)

    monkeypatch.setattr(benchmark, "apply_monitors", killed_on_second_batch)
    out = tmp_path / "run"
    args = ["monitor", files["good"], "--monitor", "rule:leak", "--batch-size", "1",
            "--out", str(out), "--quiet"]
    assert main(args) == 143
    err = capsys.readouterr().err.strip().splitlines()
    assert err == ["faithline monitor: terminated (SIGTERM); re-run the same command to resume"]
    info = json.loads((out / "run.json").read_text())
    assert info["status"] == "interrupted"
    assert len((out / "transcripts.jsonl").read_text().splitlines()) == 1

    monkeypatch.setattr(benchmark, "apply_monitors", real)
    assert main(args) == 0
    ids = [json.loads(x)["id"] for x in (out / "transcripts.jsonl").read_text().splitlines()]
    assert sorted(ids) == sorted(HOSTILE + str(i) for i in range(3))  # none lost, none twice
    assert json.loads((out / "run.json").read_text())["status"] == "done"
