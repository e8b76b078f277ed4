"""``faithline legibility`` end to end on real transcripts and SmolLM2: run directory, metrics,
alarms, report, resume, paraphrase sensitivity, and one-line errors for bad input."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from faithline.cli.main import main
from faithline.legibility.alarms import Thresholds
from faithline.legibility.drift import encode
from faithline.legibility.evaluate import LegibilityConfig, run_legibility
from faithline.legibility.paraphrase_sensitivity import paraphrase_sensitivity
from faithline.pipeline.paraphrase_specs import get_paraphraser
from faithline.tasks import get_task
from faithline.types import Transcript

SPEC = "builtin:smollm2-135m"


def write_sets(tmp_path: Path, n: int = 10) -> tuple[Path, Path]:
    """B: gold coin-flip transcripts; A: the same with the CoT in a private code."""
    task: Any = get_task("coinflip:flips=4")
    rows = [Transcript(s.id, task.prompt_text(s), task.gold_cot(s), s.answer, gold=s.answer,
                       meta={"keep": i}) for i, s in enumerate(task.samples(n, seed=3))]
    a, b = tmp_path / "a.jsonl", tmp_path / "b.jsonl"
    b.write_text("".join(t.to_json() + "\n" for t in rows))
    for t in rows:
        t.cot = encode(t.cot, 1.0)
    a.write_text("".join(t.to_json() + "\n" for t in rows))
    return a, b


def test_run_scores_compares_alarms_and_resumes(smollm2: Any, tmp_path: Path) -> None:
    a, b = write_sets(tmp_path)
    cfg = LegibilityConfig(a=str(a), b=str(b), out=str(tmp_path / "run"))
    run = run_legibility(cfg, pool={SPEC: smollm2}, progress=False)
    rows = [json.loads(x) for x in run.transcripts_path.read_text().splitlines()]
    assert len(rows) == 20 and {r["id"][:2] for r in rows} == {"A:", "B:"}
    assert rows[0]["meta"]["keep"] == 0 and rows[0]["legibility"]["set"] in ("A", "B")
    m = run.metrics()
    assert m["alarm"] and "oov_share" in m["fired"]
    assert m["oov_share"]["A"]["value"] > m["oov_share"]["B"]["value"]
    assert {"perplexity", "cliffs_delta", "p_value"} <= {"perplexity"} | {
        k for row in m["comparison"] if row["metric"] == "perplexity" for k in row}
    page = (run.path / "report.html").read_text()
    assert 'id="legibility"' in page and "<svg" in page and "ALARM" in page
    from faithline.report import write_report

    again = write_report([run.path]).read_text()  # `faithline report RUN` keeps the section
    assert 'id="legibility"' in again and "ALARM" in again
    # resume: nothing rescored; new thresholds only recompute the alarms
    again = run_legibility(cfg, Thresholds(oov_increase=0.9), pool={SPEC: smollm2},
                           progress=False)
    assert len(again.transcripts_path.read_text().splitlines()) == 20
    assert "oov_share" not in again.metrics()["fired"]


def test_context_options_change_what_the_reference_reads(smollm2: Any, tmp_path: Path) -> None:
    a, _ = write_sets(tmp_path, n=3)
    ppl = {}
    for context in ("none", "chat"):
        cfg = LegibilityConfig(a=str(a), out=str(tmp_path / context), context=context)
        run = run_legibility(cfg, pool={SPEC: smollm2}, progress=False)
        ppl[context] = run.metrics()["perplexity"]["A"]["value"]
        assert run.metrics()["alarms"][0]["mode"] == "absolute"  # no B: absolute limits
    assert ppl["none"] != ppl["chat"]


def test_paraphrase_sensitivity_reads_answers_and_fails_closed(smollm2: Any) -> None:
    task: Any = get_task("coinflip:flips=3")
    ts = [Transcript(s.id, task.prompt_text(s), task.gold_cot(s), s.answer)
          for s in task.samples(3, seed=1)]
    ts.append(Transcript("prose", "Which side?", "I think it is probably fine.", "Heads"))
    out = paraphrase_sensitivity(ts, get_paraphraser("canonical"), smollm2)
    assert all(r["paraphrase_changed"] in (0.0, 1.0) for r in out[:3])
    assert all(r["answer_original_cot"] for r in out[:3])
    assert out[3]["paraphrase_changed"] is None and "low-fidelity" in out[3]["paraphrase_failed"]


def test_cli_prints_a_summary(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    a, b = write_sets(tmp_path, n=6)
    code = main(["legibility", str(a), str(b), "--out", str(tmp_path / "cli"), "--quiet"])
    out = capsys.readouterr().out
    assert code == 0 and "ALARM" in out and "oov_share" in out and "report:" in out


@pytest.mark.parametrize(("make", "reason"), [
    (lambda p: p / "missing.jsonl", "does not exist"),
    (lambda p: p / "nocot.jsonl", "missing required key(s) cot"),
    (None, "unknown builtin model 'nosuch'"),
])
def test_bad_input_is_one_line_and_exit_2(tmp_path: Path, capsys: pytest.CaptureFixture[str],
                                          make: Any, reason: str) -> None:
    (tmp_path / "nocot.jsonl").write_text('{"id": "1", "prompt": "q", "answer": "x"}\n')
    good, _ = write_sets(tmp_path, n=2)
    path = make(tmp_path) if make else good
    args = ["legibility", str(path), "--out", str(tmp_path / "bad"), "--quiet"]
    if make is None:
        args += ["--reference", "builtin:nosuch"]
    assert main(args) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and reason in err[0], err
    assert not (tmp_path / "bad").exists()
