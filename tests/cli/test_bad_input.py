"""Hostile input files, values and paths, as a user meets them: ``faithline`` commands.

Every command that reads a file (transcripts or tasks) goes through ``faithline.io``'s reader,
so each bad kind gets exit code 2, one line on stderr naming the file, and no traceback. So
does a value that is not finite or nests too deep, an output path of the wrong kind, a run
directory of another schema version and a number outside the range its option declares; and
nothing in the way is modified. Each test is parametrised over a list of commands: a new
command is covered by adding it to the list. Whole-command runs are real subprocesses; the
large grids (outputs, schemas, numbers) call ``main`` in-process, which is the same code.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from faithline.cli.main import build_parser, main

SMOLLM2 = "builtin:smollm2-135m"
TRANSCRIPT = {"id": "1", "prompt": "p", "cot": "c", "answer": "a"}
TASK = {"id": "1", "question": "2+2?", "answer": "4"}
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


def bad_values(base: dict[str, Any]) -> dict[str, tuple[bytes, str]]:
    """kind -> (a file whose second line is ``base`` with a bad 'meta', what the line says):
    well-formed JSON holding what faithline does not read."""
    head = json.dumps(base).encode() + b"\n" + json.dumps({**base, "id": "2"}).encode()[:-1]

    def file(meta: bytes) -> bytes:
        return head + b', "meta": ' + meta + b"}\n"

    return {
        "nan": (file(b'{"score": NaN}'), ":2: 'meta.score' is NaN"),
        "infinity": (file(b'{"x": [1, -Infinity]}'), ":2: 'meta.x[1]' is -Infinity"),
        "overflow": (file(b'{"x": 1e999}'), ":2: 'meta.x' is Infinity"),
        "huge-integer": (file(b'{"x": 1' + b"0" * 400 + b"}"), "an integer of 401 digits"),
        "too-many-digits": (file(b'{"x": ' + b"9" * 5000 + b"}"), ":2: Exceeds the limit"),
        "deep": (file(b"[" * 100 + b"]" * 100), ":2: JSON nested deeper than 64 levels"),
        "very-deep": (file(b"[" * 100_000 + b"]" * 100_000), ":2: JSON nested deeper than 64"),
    }


VALUE_KINDS = list(bad_values(TRANSCRIPT))


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
    for shape, base in (("", TRANSCRIPT), ("task-", TASK)):
        for kind, (data, _) in bad_values(base).items():
            out[shape + kind] = d / f"{shape}{kind}.jsonl"
            out[shape + kind].write_bytes(data)
    out["binary-from-byte-0"] = d / "binary0.jsonl"
    out["binary-from-byte-0"].write_bytes(b"\x89PNG\r\n\x1a\n\x00\x00")
    out["task-jsonl"] = d / "task.jsonl"
    out["task-jsonl"].write_text(json.dumps(TASK) + "\n")
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


@pytest.mark.parametrize("kind", [*KINDS, "wrong-kind", *VALUE_KINDS])
@pytest.mark.parametrize("command", list(TRANSCRIPT_COMMANDS))
def test_transcript_readers_refuse_bad_files(command: str, kind: str, bad_files: dict[str, Path],
                                             tmp_path: Path) -> None:
    path = bad_files["task-jsonl" if kind == "wrong-kind" else kind]
    out = tmp_path / ("out.jsonl" if command == "paraphrase" else "out")
    expected = {"empty": "no transcripts (empty file)",
                "wrong-kind": "missing required key(s) prompt, cot: this is a Task JSONL"
                }.get(kind) or {**KINDS, **bad_values(TRANSCRIPT)}[kind][1]
    line = assert_one_line(faithline(*TRANSCRIPT_COMMANDS[command], str(path), "--out", str(out),
                                     "--quiet"), expected, str(path))
    assert line.startswith(f"faithline {command.split()[0]}: error: ")
    assert not out.exists()  # nothing written: the corrected command starts clean


@pytest.mark.parametrize("kind", ["binary", "huge-line", "missing", "wrong-kind", *VALUE_KINDS])
@pytest.mark.parametrize("command", list(TASK_COMMANDS))
def test_task_readers_refuse_bad_files(command: str, kind: str, bad_files: dict[str, Path],
                                       tmp_path: Path) -> None:
    path = bad_files[{"wrong-kind": "transcript-jsonl", "binary": "binary-from-byte-0"}
                     .get(kind, f"task-{kind}" if kind in VALUE_KINDS else kind)]
    expected = {"wrong-kind": "missing required key(s) question", "missing": "no such file",
                "binary": ":1: not UTF-8 text (byte 0x89 at offset 0)"}.get(kind) or \
        {**KINDS, **bad_values(TASK)}[kind][1]
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


# ----- in-process: output paths, run schemas, numbers ------------------------------------------
def refused(capsys: pytest.CaptureFixture[str], *args: str) -> str:
    """Run ``faithline ARGS`` in this process; it must refuse with exit 2 and one line."""
    code = main(list(args))
    err = capsys.readouterr().err
    assert code == 2 and "Traceback" not in err, (code, err[-2000:])
    lines = err.strip().splitlines()
    assert len(lines) == 1, err[-2000:]
    return lines[0]


def tree(root: Path) -> dict[str, bytes | None]:
    """Every path under ``root`` with its bytes (None for a directory)."""
    return {str(p.relative_to(root)): None if p.is_dir() else p.read_bytes()
            for p in sorted(root.rglob("*"))}


@pytest.fixture()
def inputs(tmp_path: Path) -> dict[str, str]:
    """Valid inputs: a transcript file and a finished run; ``store`` is a path only."""
    (tmp_path / "in.jsonl").write_text(json.dumps({**TRANSCRIPT, "label": {"hack": False}})
                                       + "\n")
    run = tmp_path / "run"
    run.mkdir()
    (run / "run.json").write_text(json.dumps({"schema": "faithline.run/1", "name": "run",
                                              "command": "generate", "config": {},
                                              "status": "done"}))
    (run / "transcripts.jsonl").write_text(json.dumps(TRANSCRIPT) + "\n")
    return {"transcripts": str(tmp_path / "in.jsonl"), "run": str(run),
            "store": str(tmp_path / "store")}


# Each command that writes, with its other arguments ({name}: an ``inputs`` path) and whether
# its --out names a file or a directory (report: a directory is fine, it writes DIR/report.html).
OUTPUT_COMMANDS: dict[str, tuple[list[str], str]] = {
    "paraphrase": (["paraphrase", "{transcripts}", "--paraphraser", "canonical"], "file"),
    "export inspect": (["export", "inspect", "{run}"], "file"),
    "report": (["report", "{run}"], "file"),
    "interp describe": (["interp", "describe", "{store}"], "file"),
    "generate": (["generate", "--model", SMOLLM2, "--task", "coinflip"], "dir"),
    "eval": (["eval", "--model", SMOLLM2, "--task", "coinflip"], "dir"),
    "monitor": (["monitor", "{transcripts}", "--monitor", "rule:leak"], "dir"),
    "monitor-train": (["monitor-train", "{transcripts}", "--labels", "hack"], "dir"),
    "legibility": (["legibility", "{transcripts}"], "dir"),
    "stego-capacity": (["stego-capacity"], "dir"),
    "interp capture": (["interp", "capture", "{transcripts}", "--model", SMOLLM2], "dir"),
    "interp probe": (["interp", "probe", "{store}", "--label", "hack"], "dir"),
    "interp sae": (["interp", "sae", "{store}"], "dir"),
    "interp gap": (["interp", "gap", "{store}"], "dir"),
    "train rl": (["train", "rl", "--steps", "1"], "dir"),
}
OUTPUT_CASES = [(command, case) for command in OUTPUT_COMMANDS
                for case in ("wrong-kind", "under-a-file")
                if (command, case) != ("report", "wrong-kind")]


@pytest.mark.parametrize(("command", "case"), OUTPUT_CASES)
def test_output_paths_of_the_wrong_kind_are_refused(command: str, case: str, tmp_path: Path,
                                                    inputs: dict[str, str],
                                                    capsys: pytest.CaptureFixture[str]) -> None:
    args, kind = OUTPUT_COMMANDS[command]
    (tmp_path / "a-dir").mkdir()
    (tmp_path / "a-dir" / "kept.txt").write_text("kept")
    (tmp_path / "a-file").write_text("kept")
    out = tmp_path / ("a-file/out" if case == "under-a-file" else
                      "a-dir" if kind == "file" else "a-file")
    before = tree(tmp_path)
    line = refused(capsys, *[a.format(**inputs) for a in args], "--out", str(out), "--quiet")
    assert str(out if case == "wrong-kind" else tmp_path / "a-file") in line, line
    assert tree(tmp_path) == before  # nothing created, nothing changed


# Each command that reads or resumes a run directory ({run}), with its other arguments.
RUN_COMMANDS: dict[str, list[str]] = {
    "report": ["report", "{run}"],
    "export inspect": ["export", "inspect", "{run}", "--out", "{run}.eval"],
    "generate": ["generate", "--model", SMOLLM2, "--task", "coinflip", "--out", "{run}"],
    "eval": ["eval", "--model", SMOLLM2, "--task", "coinflip", "--out", "{run}"],
    "monitor": ["monitor", "{transcripts}", "--monitor", "rule:leak", "--out", "{run}"],
    "legibility": ["legibility", "{transcripts}", "--out", "{run}"],
    "stego-capacity": ["stego-capacity", "--out", "{run}"],
    "train rl": ["train", "rl", "--steps", "1", "--out", "{run}"],
    "tables --save": ["tables", "--save", "{run}", "--root", "{run}"],
}
SCHEMAS = {"newer": ("faithline.run/2", "'faithline.run/2' is a newer faithline's"),
           "unknown": ("faithline.run/beta", "unknown schema version 'faithline.run/beta'"),
           "foreign": ("inspect.eval/2", "not a faithline run.json (schema 'inspect.eval/2'")}


@pytest.mark.parametrize("schema", list(SCHEMAS))
@pytest.mark.parametrize("command", list(RUN_COMMANDS))
def test_runs_of_another_schema_are_refused_naming_both_versions(
        command: str, schema: str, tmp_path: Path, inputs: dict[str, str],
        capsys: pytest.CaptureFixture[str]) -> None:
    found, says = SCHEMAS[schema]
    run_json = Path(inputs["run"]) / "run.json"
    run_json.write_text(run_json.read_text().replace("faithline.run/1", found))
    before = tree(tmp_path)
    line = refused(capsys, *[a.format(**inputs) for a in RUN_COMMANDS[command]], "--quiet")
    assert str(run_json) in line and says in line and "faithline.run/1" in line, line
    assert tree(tmp_path) == before  # not rendered, appended to or locked


# Each command that reads a run's metrics.json ({run}), with its other arguments.
METRICS_COMMANDS: dict[str, list[str]] = {
    "report": ["report", "{run}"],
    "tables --save": ["tables", "--save", "{run}", "--root", "{run}"],
}


@pytest.mark.parametrize("command", list(METRICS_COMMANDS))
def test_metrics_of_a_newer_schema_are_refused(command: str, tmp_path: Path,
                                               inputs: dict[str, str],
                                               capsys: pytest.CaptureFixture[str]) -> None:
    (Path(inputs["run"]) / "metrics.json").write_text('{"schema": "faithline.metrics/3", '
                                                      '"tables": {}}')
    before = tree(tmp_path)
    line = refused(capsys, *[a.format(**inputs) for a in METRICS_COMMANDS[command]])
    assert "'faithline.metrics/3' is a newer faithline's" in line
    assert "faithline.metrics/1" in line
    assert tree(tmp_path) == before  # no report.html, no docs/results


def subcommands(parser: argparse.ArgumentParser, path: tuple[str, ...] = ()
                ) -> Iterator[tuple[tuple[str, ...], argparse.ArgumentParser]]:
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, sub in action.choices.items():
                yield (*path, name), sub
                yield from subcommands(sub, (*path, name))


def required_args(parser: argparse.ArgumentParser) -> list[str]:
    """Placeholder values for the arguments ``parser`` cannot do without."""
    out: list[str] = []
    for a in parser._actions:
        value = str(next(iter(a.choices))) if a.choices else "x"
        if not a.option_strings and a.nargs != "?" and a.dest != "help":
            out.append(value)
        elif a.option_strings and a.required:
            out += [a.option_strings[0], value]
    return out


RANGE = re.compile(r"\((?:(>=|>|<=|<) ([-\d.e+]+)|in ([\[(])([-\d.e+]+), ([-\d.e+]+)([\])]))[;)]")


def outside(text: str, number: type) -> list[tuple[str, str]]:
    """(a value outside the range ``text`` shows in its help, the range) for each bound."""
    m = RANGE.search(text)
    if m is None:
        return []
    op, bound, low_kind, low, high, high_kind = m.groups()
    step = 1 if number is int else 0.5
    if op:  # one bound
        b = number(float(bound))
        below = op in (">=", ">")
        value = b if op in (">", "<") else b - step if below else b + step
        return [(str(value), f"{op} {bound}")]
    lo, hi = number(float(low)), number(float(high))
    shown = f"in {low_kind}{low}, {high}{high_kind}"
    return [(str(lo if low_kind == "(" else lo - step), shown),
            (str(hi if high_kind == ")" else hi + step), shown)]


def number_cases() -> list[Any]:
    cases = []
    for path, sub in subcommands(build_parser()):
        for a in sub._actions:
            if a.type not in (int, float):
                continue
            flag = a.option_strings[0]
            values = [(v, "a finite number") for v in ("nan", "inf")] if a.type is float else []
            values += [(v, f"{flag} must be {shown}") for v, shown in outside(a.help or "", a.type)]
            cases += [pytest.param(path, flag, v, says, id=f"{' '.join(path)} {flag}={v}")
                      for v, says in values]
    return cases


@pytest.mark.parametrize(("path", "flag", "value", "says"), number_cases())
def test_numbers_outside_their_declared_range_are_refused(
        path: tuple[str, ...], flag: str, value: str, says: str, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    sub = dict(subcommands(build_parser()))[path]
    line = refused(capsys, *path, *required_args(sub), flag, value)
    assert flag in line and says in line, line
    assert list(tmp_path.iterdir()) == []


def test_every_numeric_option_says_what_it_accepts() -> None:
    missing = [(path, a.option_strings[0]) for path, sub in subcommands(build_parser())
               for a in sub._actions
               if a.type in (int, float) and not outside(a.help or "", a.type)]
    assert missing == []
    assert len(number_cases()) > 100  # the grid above is not silently empty


# Values each inside its declared range that a config still refuses: a value its field
# excludes (a GRPO group of one), or a combination of fields.
CONFIG_CASES = {
    "train rl --generations 1": (["train", "rl", "--generations", "1"],
                                 "need --generations >= 2 (or 0: auto), got 1"),
    "train organism --width 12": (["train", "organism", "--width", "12"],
                                  "--width must be a multiple of 8"),
    "train organism --examples < --batch-size": (
        ["train", "organism", "--examples", "64", "--batch-size", "128"],
        "--examples (64) must be at least --batch-size (128)"),
    "train organism --language": (["train", "organism", "--language", "klingon"],
                                  "unknown language 'klingon'"),
    "train organism --code-prob on the shell game": (
        ["train", "organism", "--language", "shellgame", "--code-prob", "0.1"],
        "only the coinflip organism has them"),
    "demo --organism": (["demo", "--organism", "klingon"],
                        "--organism must be one of coinflip, shellgame, got 'klingon'"),
}


@pytest.mark.parametrize("case", list(CONFIG_CASES))
def test_values_a_config_excludes_are_refused(case: str, tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    monkeypatch.chdir(tmp_path)
    args, says = CONFIG_CASES[case]
    line = refused(capsys, *args, "--quiet")
    assert says in line, line
    assert list(tmp_path.iterdir()) == []


# An organism's card as a corrupt disk, a bad copy or a hand edit leaves it: read by every
# command that uses the organism (train organism, demo, the encoded and faithfulness
# experiments) through train.organism.read_card.
CARDS = {"invalid": (b'{"probe": {"accuracy": 0.9', "invalid JSON"),
         "not-utf8": (b'{"probe": "\xff"}', "not UTF-8 text (byte 0xff"),
         "deep": (b"[" * 100_000 + b"]" * 100_000, "JSON nested deeper than 64 levels"),
         "not-an-object": (b"[1, 2]", "an organism card is a JSON object, this is list")}
ORGANISMS = {"organism": ["--examples", "64", "--batch-size", "32", "--layers", "1",
                          "--width", "32"],
             "known-answer": ["--kind", "post-hoc"]}


@pytest.mark.parametrize("card", list(CARDS))
@pytest.mark.parametrize("organism", list(ORGANISMS))
def test_a_corrupt_organism_card_is_one_line_naming_it(organism: str, card: str,
                                                       tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch,
                                                       capsys: pytest.CaptureFixture[str]
                                                       ) -> None:
    from faithline.train.organism import OrganismConfig, organism_dir
    from faithline.train.standards import CARD, StandardConfig, standard_dir

    monkeypatch.setenv("FAITHLINE_CACHE", str(tmp_path))
    args = ORGANISMS[organism]
    folder, name = ((organism_dir(OrganismConfig(examples=64, batch_size=32, layers=1,
                                                 width=32)), "organism.json")
                    if organism == "organism" else
                    (standard_dir(StandardConfig(kind="post-hoc")), CARD))
    folder.mkdir(parents=True)
    data, says = CARDS[card]
    (folder / name).write_bytes(data)
    before = tree(tmp_path)
    line = refused(capsys, "train", "organism", *args, "--quiet")
    assert str(folder / name) in line and says in line and "--force" in line, line
    assert tree(tmp_path) == before


def test_an_organism_card_may_hold_nan(tmp_path: Path) -> None:
    """A probe with no wrong leak writes NaN (json.dumps); reading it back is no error."""
    from faithline.train.organism import read_card

    (tmp_path / "organism.json").write_text('{"probe": {"unflagged_hack_probability": NaN}}')
    p = read_card(tmp_path)["probe"]["unflagged_hack_probability"]
    assert p != p
