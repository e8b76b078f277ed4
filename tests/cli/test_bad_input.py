"""Hostile input files and usage errors, as a user meets them: real ``faithline`` subprocesses.

Every command that reads a file (transcripts or tasks) goes through ``faithline.io``'s reader,
so each bad kind gets exit code 2, one line on stderr naming the file, and no traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

SMOLLM2 = "builtin:smollm2-135m"
TRANSCRIPT = {"id": "1", "prompt": "p", "cot": "c", "answer": "a"}
FIRST = json.dumps(TRANSCRIPT).encode() + b"\n"  # a good line before the bad one

# Each command with the arguments it needs besides the input file (and --out DIR).
TRANSCRIPT_COMMANDS = {
    "monitor": ["monitor", "--monitor", "rule:leak"],
    "monitor-train": ["monitor-train", "--labels", "hack"],
    "legibility": ["legibility"],
    "paraphrase": ["paraphrase", "--paraphraser", "canonical"],
    "interp capture": ["interp", "capture", "--model", SMOLLM2],
}
TASK_COMMANDS = {
    "generate": ["generate", "--model", SMOLLM2],
    "eval": ["eval", "--model", SMOLLM2],
}
# kind -> (file content, what the one line must say); a kind's file is made once per module.
KINDS: dict[str, tuple[bytes | None, str]] = {
    "binary": (FIRST + b"\xff\xfe\x00\x80 not text\n",
               f":2: not UTF-8 text (byte 0xff at offset {len(FIRST)})"),
    "empty": (b"", ""),
    "truncated": (FIRST + b'{"id": "2", "pro', ":2: invalid JSON"),
    "huge-line": (None, "line longer than 16 MiB"),
    "missing": (None, "does not exist"),
}


def faithline(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "faithline.cli.main", *args],
                          capture_output=True, text=True, timeout=120, cwd=cwd)


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("bad-input")
    out = {}
    for kind, (content, _) in KINDS.items():
        path = d / f"{kind}.jsonl"
        if kind == "huge-line":  # one 50 MB line: a valid object, just far too long
            with path.open("w") as f:
                f.write(json.dumps({**TRANSCRIPT, "cot": "x" * 50_000_000}) + "\n")
        elif content is not None:
            path.write_bytes(content)
        out[kind] = path
    out["binary-from-byte-0"] = d / "binary0.jsonl"
    out["binary-from-byte-0"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    out["task-jsonl"] = d / "task.jsonl"
    out["task-jsonl"].write_text('{"id": "1", "question": "2+2?", "answer": "4"}\n')
    out["transcript-jsonl"] = d / "transcripts.jsonl"
    out["transcript-jsonl"].write_text(json.dumps(TRANSCRIPT) + "\n")
    return out


def assert_one_line(r: subprocess.CompletedProcess[str], *expected: str) -> str:
    assert r.returncode == 2, (r.returncode, r.stderr[-2000:])
    assert "Traceback" not in r.stderr
    lines = r.stderr.strip().splitlines()
    assert len(lines) == 1, r.stderr[-2000:]
    for text in expected:
        assert text in lines[0], lines[0]
    return lines[0]


@pytest.mark.parametrize("kind", [*KINDS, "wrong-kind"])
@pytest.mark.parametrize("command", list(TRANSCRIPT_COMMANDS))
def test_transcript_readers_refuse_bad_files(command: str, kind: str, bad_files: dict[str, Path],
                                             tmp_path: Path) -> None:
    path = bad_files["task-jsonl" if kind == "wrong-kind" else kind]
    out = tmp_path / ("out.jsonl" if command == "paraphrase" else "out")
    expected = {"empty": "no transcripts (empty file)",
                "wrong-kind": "missing required key(s) prompt, cot: this is a Task JSONL"
                }.get(kind) or KINDS[kind][1]
    line = assert_one_line(faithline(*TRANSCRIPT_COMMANDS[command], str(path), "--out", str(out),
                                     "--quiet"), expected, str(path))
    assert line.startswith(f"faithline {command.split()[0]}: error: ")
    assert not out.exists()  # nothing written: the corrected command starts clean


@pytest.mark.parametrize("kind", ["binary", "huge-line", "missing", "wrong-kind"])
@pytest.mark.parametrize("command", list(TASK_COMMANDS))
def test_task_readers_refuse_bad_files(command: str, kind: str, bad_files: dict[str, Path],
                                       tmp_path: Path) -> None:
    path = bad_files[{"wrong-kind": "transcript-jsonl", "binary": "binary-from-byte-0"}
                     .get(kind, kind)]
    expected = {"wrong-kind": "missing required key(s) question", "missing": "no such file",
                "binary": ":1: not UTF-8 text (byte 0x89 at offset 0)"}.get(kind) or KINDS[kind][1]
    assert_one_line(faithline(*TASK_COMMANDS[command], "--task", str(path),
                              "--out", str(tmp_path / "out"), "--quiet"), expected, str(path))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize(("args", "prog"), [
    (["legibility"], "faithline legibility"),
    (["monitor", "a.jsonl"], "faithline monitor"),
    (["generate", "--model"], "faithline generate"),
    (["interp", "capture", "a.jsonl"], "faithline interp capture"),
    (["nosuch"], "faithline"),
])
def test_usage_errors_are_one_line_with_a_pointer_to_help(args: list[str], prog: str) -> None:
    line = assert_one_line(faithline(*args), f"{prog}: error: ", f"(see '{prog} --help')")
    assert "usage:" not in line


def test_binary_run_json_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_bytes(b"\x89PNG\r\n\x1a\n")
    assert_one_line(faithline("report", str(run)), "run.json: not UTF-8 text (byte 0x89")
