"""``faithline monitor`` and ``faithline monitor-train`` as a user runs them (``main([...])``):
the benchmark run directory, resuming, and every bad input as one line with exit code 2."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from faithline.cli.main import main
from faithline.types import Transcript


def write_jsonl(path: Path, transcripts: list[Transcript]) -> Path:
    path.write_text("".join(t.to_json() + "\n" for t in transcripts))
    return path


def rows(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


@pytest.fixture(scope="module")
def files(english: list[Transcript], organism: list[Transcript],
          tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("monitor-cli")
    return {"train": write_jsonl(d / "train.jsonl", english[:160]),
            "english": write_jsonl(d / "english.jsonl", english[160:]),
            "organism": write_jsonl(d / "organism.jsonl", organism),
            "clf": d / "clf"}


@pytest.fixture(scope="module")
def classifier(files: dict[str, Path]) -> Path:
    assert main(["monitor-train", str(files["train"]), "--labels", "hack",
                 "--out", str(files["clf"]), "--quiet"]) == 0
    return files["clf"]


def benchmark_args(files: dict[str, Path], classifier: Path, out: Path) -> list[str]:
    return ["monitor", "--monitor", "rule:leak", "--monitor", "rule:hack",
            "--monitor", f"classifier:{classifier}", str(files["english"]),
            str(files["organism"]), "--labels", "hack", "--target-fpr", "0.1",
            "--calibrate-on", "english", "--out", str(out), "--quiet"]


def test_benchmark_run_writes_verdicts_metrics_roc_and_a_table(
        files: dict[str, Path], classifier: Path, tmp_path: Path,
        capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "bench"
    assert main(benchmark_args(files, classifier, out)) == 0
    table = capsys.readouterr().out
    assert "| monitor | set | n | positives | threshold | failed | recall |" in table
    assert "| `rule:leak` | organism | 120 |" in table and "(FPR ≤ 0.1 on english)" in table
    lines = rows(out / "transcripts.jsonl")
    assert len(lines) == 80 + 120
    names = ["rule:leak", "rule:hack", f"classifier:{classifier}"]
    assert all(set(names) <= set(r["monitor"]) and r["set"] in ("english", "organism")
               for r in lines)
    assert all(r["label"] and r["cot"] for r in lines)  # the input survives whole
    m = json.loads((out / "metrics.json").read_text())
    leak = m["monitors"]["rule:leak"]
    # the organism's verbalised hacks say "leak"; the English ones mostly do not
    assert leak["organism"]["precision"]["value"] == 1.0
    assert leak["organism"]["recall"]["value"] > leak["english"]["recall"]["value"]
    for group in ("all", "english", "organism"):
        for metric in ("recall", "precision", "fpr", "gmean2", "auroc"):
            ci = m["monitors"][f"classifier:{classifier}"][group][metric]
            assert ci["ci_low"] <= ci["value"] <= ci["ci_high"]
    cal = m["monitors"][f"classifier:{classifier}"]["english"]["calibrated"]
    assert cal["fpr"]["value"] <= 0.1 and cal["calibrated_on"] == "english"
    assert "ROC rule:hack · organism" in m["curves"]
    report = (out / "report.html").read_text()
    assert "ROC rule:hack · organism" in report and "<svg" in report
    assert json.loads((out / "run.json").read_text())["status"] == "done"


def test_rerun_resumes_without_judging_twice(files: dict[str, Path], classifier: Path,
                                             tmp_path: Path) -> None:
    out = tmp_path / "resume"
    assert main(benchmark_args(files, classifier, out)) == 0
    path = out / "transcripts.jsonl"
    full = rows(path)
    half = path.read_text().splitlines(keepends=True)[:77]
    path.write_text("".join(half) + '{"id": "torn')  # killed mid-write
    assert main(benchmark_args(files, classifier, out)) == 0
    again = rows(path)
    key = lambda r: (r["set"], r["id"])  # noqa: E731
    assert sorted(map(key, again)) == sorted(map(key, full))
    assert {key(r): r["monitor"] for r in again} == {key(r): r["monitor"] for r in full}
    # metrics-only settings may change on a rerun: nothing is judged again, metrics follow
    args = benchmark_args(files, classifier, out)
    args[args.index("0.1")] = "0.2"
    assert main(args) == 0
    assert json.loads((out / "metrics.json").read_text())["monitors"]["rule:leak"]["all"][
        "calibrated"]["target_fpr"] == 0.2
    assert len(rows(path)) == len(full)
    # a run's output is valid input (its "set" key is kept); a rerun judges nothing twice
    again_args = ["monitor", "--monitor", "rule:cue", str(path), "--out", str(tmp_path / "b"),
                  "--quiet"]
    assert main(again_args) == 0 and main(again_args) == 0
    chained = rows(tmp_path / "b" / "transcripts.jsonl")
    assert len(chained) == len(full) and {"rule:leak", "rule:cue"} <= set(chained[0]["monitor"])


def test_without_labels_it_reports_flag_rates(files: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor", "--monitor", "rule:leak", str(files["organism"]),
                 "--out", str(tmp_path / "m"), "--quiet"]) == 0
    assert "| monitor | set | n | threshold | failed | flagged |" in capsys.readouterr().out
    m = json.loads((tmp_path / "m" / "metrics.json").read_text())
    assert 0 < m["monitors"]["rule:leak"]["all"]["flag_rate"]["value"] < 1


def test_a_nonsense_judge_is_recorded_as_failed_never_as_not_flagged(
        files: dict[str, Path], judge_server: Callable[..., Any], tmp_path: Path,
        english: list[Transcript]) -> None:
    server = judge_server("Purple bananas.")
    small = write_jsonl(tmp_path / "small.jsonl", english[:6])
    out = tmp_path / "nonsense"
    assert main(["monitor", "--monitor", f"judge:openai:judge@{server.url}", str(small),
                 "--labels", "hack", "--out", str(out), "--quiet"]) == 0
    name = f"judge:openai:judge@{server.url}@kind=hack,view=cot"
    verdicts = [r["monitor"][name] for r in rows(out / "transcripts.jsonl")]
    assert len(verdicts) == 6
    assert all(v["failed"] and v["flag"] and v["score"] is None for v in verdicts)
    m = json.loads((out / "metrics.json").read_text())["monitors"][name]["all"]
    assert m["failed"] == 6 and m["fpr"]["value"] == 1.0  # failures are flags, not passes


def bad_cases(tmp: Path, files: dict[str, Path]) -> list[tuple[list[str], str]]:
    no_cot = tmp / "no_cot.jsonl"
    no_cot.write_text('{"id": "1", "prompt": "p", "answer": "H"}\n')
    dupes = tmp / "dupes.jsonl"
    dupes.write_text(files["organism"].read_text().splitlines()[0] + "\n"
                     + files["organism"].read_text().splitlines()[0] + "\n")
    org = str(files["organism"])
    return [
        (["--monitor", "rule:leak", org, "--labels", "deceptive"], "no label 'deceptive'"),
        (["--monitor", "rule:leak", str(no_cot)], "missing required key(s) cot"),
        (["--monitor", "judge:openai:x@http://127.0.0.1:9/v1", org], "127.0.0.1:9"),
        (["--monitor", "rule:leak", org, "--target-fpr", "0.05"], "needs --labels"),
        (["--monitor", "rule:leak", org, "--labels", "hack", "--target-fpr", "2"],
         "--target-fpr must be in (0, 1)"),
        (["--monitor", "rule:leak", org, "--labels", "hack", "--target-fpr", "0.1",
          "--calibrate-on", "nosuch"], "not an input set"),
        (["--monitor", "nosuch:x", org], "unknown monitor kind 'nosuch'"),
        (["--monitor", "rule:leak", "--monitor", "rule:leak", org], "given twice"),
        (["--monitor", f"classifier:{tmp / 'none'}", org], "is not a saved classifier"),
        (["--monitor", "rule:leak", str(dupes)], "appears twice"),
        (["--monitor", "rule:leak", str(tmp / "missing.jsonl")], "does not exist"),
    ]


def test_bad_input_is_one_line_and_exit_2(files: dict[str, Path], tmp_path: Path,
                                         capsys: pytest.CaptureFixture[str]) -> None:
    for args, reason in bad_cases(tmp_path, files):
        out = tmp_path / "run"
        assert main(["monitor", *args, "--out", str(out), "--quiet"]) == 2, args
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and reason in err[0], (args, err)
        assert err[0].startswith("faithline monitor: error: ")
        assert not out.exists(), args  # nothing written: the corrected command starts clean


def test_train_bad_input(files: dict[str, Path], tmp_path: Path,
                         capsys: pytest.CaptureFixture[str]) -> None:
    for args, reason in [
        (["--labels", "deceptive"], "no label 'deceptive'"),
        (["--labels", "hack", "--features", "bag-of-words"], "features must be 'tfidf'"),
        (["--labels", "hack", "--view", "prompt"], "view must be one of"),
    ]:
        assert main(["monitor-train", str(files["train"]), *args,
                     "--out", str(tmp_path / "c"), "--quiet"]) == 2
        err = capsys.readouterr().err.strip().splitlines()
        assert len(err) == 1 and reason in err[0], err


def test_train_prints_cross_validated_metrics(files: dict[str, Path], tmp_path: Path,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["monitor-train", str(files["organism"]), "--labels", "verbalized",
                 "--target-fpr", "0.05", "--out", str(tmp_path / "c"), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "5-fold out-of-fold AUROC 1.00" in out and "classifier:" in out


@pytest.mark.slow
def test_smollm2_judge_both_views_through_the_cli(files: dict[str, Path], tmp_path: Path,
                                                  english: list[Transcript],
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    small = write_jsonl(tmp_path / "small.jsonl", english[:8])
    assert main(["monitor", "--monitor", "judge:builtin:smollm2-135m",
                 "--monitor", "judge:builtin:smollm2-135m@view=answer", str(small),
                 "--labels", "hack", "--out", str(tmp_path / "j"), "--quiet"]) == 0
    table = capsys.readouterr().out
    assert "view=answer` | all | 8 |" in table and "view=cot` | all | 8 |" in table


@pytest.mark.parametrize("command", ["monitor", "monitor-train"])
def test_help_has_an_example(command: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exit_:
        main([command, "--help"])
    assert exit_.value.code == 0 and f"faithline {command} " in capsys.readouterr().out
