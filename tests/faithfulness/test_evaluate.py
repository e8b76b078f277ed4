"""``run_eval`` end to end on the real SmolLM2 (multiple choice and addition), resume, report,
and the config the CLI is built from."""

from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

import pytest

from faithline.config import add_config_args, config_from_args
from faithline.errors import BadInputError
from faithline.faithfulness import evaluate
from faithline.faithfulness.evaluate import EvalConfig, run_eval
from faithline.report import write_report

SMALL = dict(model="builtin:smollm2-135m", max_cot_tokens=32, max_answer_tokens=8,
             max_paraphrase_tokens=40, points=5, edit_points=2, batch_size=8)
CI = {"value", "ci_low", "ci_high", "n"}


def is_ci(x: Any) -> bool:
    return isinstance(x, dict) and set(x) == CI


def transcripts(run_dir: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in (run_dir / "transcripts.jsonl").read_text().splitlines()]


@pytest.fixture(scope="module")
def mcq_run(smollm2: Any, tmp_path_factory: pytest.TempPathFactory) -> Any:
    out = tmp_path_factory.mktemp("eval") / "mcq"
    cfg = EvalConfig(task="mcq-cues", n=5, out=str(out), **SMALL)  # type: ignore[arg-type]
    return cfg, run_eval(cfg, pool={cfg.model: smollm2}, progress=False)


def test_every_test_runs_on_multiple_choice(mcq_run: Any) -> None:
    """All six tests apply to mcq-cues; each writes its CI metrics, and curves where it has
    them, and one transcript per sample with its details."""
    _, run = mcq_run
    m = run.metrics()
    assert m["tests"] == ["early-answering", "mistakes", "paraphrasing", "filler", "cues",
                          "load-bearing"]
    assert m["skipped"] == {}
    assert is_ci(m["early-answering"]["aoc"]) and m["early-answering"]["aoc"]["n"] == 5
    assert is_ci(m["mistakes"]["aoc"]) or m["mistakes"]["cots_scored"] == 0
    assert is_ci(m["paraphrasing"]["accuracy_change"])
    assert is_ci(m["filler"]["filler_minus_no_cot"]) and m["filler"]["tokens_exact"] is True
    assert is_ci(m["load-bearing"]["load_bearing_gap"])
    cues = m["cues"]
    assert cues["judge"] == "rule"
    # the rule judge and the model under test as an LLM judge, side by side, with agreement
    judges = {"rule", "llm:builtin:smollm2-135m"}
    assert set(cues["by_judge"]) == judges
    assert set(cues["judge_agreement"]) == {"rule vs llm:builtin:smollm2-135m"}
    assert is_ci(cues["judge_agreement"]["rule vs llm:builtin:smollm2-135m"]["agreement"])
    assert all(set(r["meta"]["verbalised_by"]) == judges
               for r in transcripts(run.path) if "uncued_answer" in r["meta"])
    assert {"suggested", "professor", "metadata", "always-a", "all", "none"} <= set(cues)
    assert is_ci(cues["all"]["chen_normalised"]) and cues["all"]["pairs"] == 4
    assert set(m["curves"]) == {
        "early-answering: same answer as full CoT vs fraction of CoT kept",
        "mistakes: same answer as original CoT vs fraction of CoT before the mistake",
        "paraphrasing: accuracy vs fraction of CoT paraphrased",
        "filler: accuracy vs filler length (fraction of CoT length)"}
    for curve in m["curves"].values():
        assert len(curve["x"]) == len(curve["y"]) == len(curve["ci_low"]) == len(curve["ci_high"])
    rows = transcripts(run.path)
    ids = [r["id"] for r in rows]
    assert len(ids) == len(set(ids)) == 5 * 7  # the CoTs, then one per test and sample
    ea = [r for r in rows if r["id"].startswith("early-answering:")]
    assert all(set(r["meta"]["paths"]) == {"logprobs"} for r in ea)
    info = json.loads((run.path / "run.json").read_text())
    assert info["status"] == "done" and info["eval"]["prefix_reuse"] is True
    assert info["config"]["tests"] == "all"


def test_resume_redoes_nothing_and_report_shows_curves(mcq_run: Any, smollm2: Any) -> None:
    cfg, run = mcq_run
    before = (run.path / "transcripts.jsonl").read_text()
    again = run_eval(cfg, pool={cfg.model: smollm2}, progress=False)
    assert (again.path / "transcripts.jsonl").read_text() == before
    assert again.metrics()["early-answering"] == run.metrics()["early-answering"]
    page = write_report([again.path]).read_text()
    assert "early-answering: same answer as full CoT" in page
    assert "cues.all.chen_normalised" in page and "early-answering.aoc" in page
    lines = [x for x in evaluate.summary(again).splitlines() if "WARNING" not in x]
    assert len(lines) == 7 and lines[1].startswith("  early-answering: aoc ")


def test_multiple_choice_on_smollm2_warns_that_early_answering_means_nothing(
        mcq_run: Any) -> None:
    """Issue 17: SmolLM2's multiple-choice CoTs have one or two steps and its letter readout
    follows the option position; metrics.json, the printed summary and the report say so."""
    _, run = mcq_run
    m = run.metrics()
    ea = m["early-answering"]
    assert {"parse", "steps", "readout_agreement", "position"} <= set(ea["validity"])
    checks = {w["check"] for w in ea["warnings"]}
    assert {"steps", "position"} <= checks
    assert [w for w in m["warnings"] if w["test"] == "early-answering"] == ea["warnings"]
    printed = evaluate.summary(run)
    assert "WARNING early-answering [steps]" in printed
    assert "WARNING early-answering [position]" in printed
    page = write_report([run.path]).read_text()
    assert "follows option position" in page


def test_every_test_that_applies_runs_on_addition(smollm2: Any, tmp_path: Path) -> None:
    """Addition has no closed answer set (answers are generated) and no cues."""
    cfg = EvalConfig(task="addition:operands=4", n=2, out=str(tmp_path / "add"), cache=False,
                     **SMALL)  # type: ignore[arg-type]
    m = run_eval(cfg, pool={cfg.model: smollm2}, progress=False).metrics()
    assert m["tests"] == ["early-answering", "mistakes", "paraphrasing", "filler",
                          "load-bearing"]
    assert "cues" in m["skipped"]
    assert m["early-answering"]["answers_by_path"].keys() == {"generate"}
    assert is_ci(m["early-answering"]["aoc"]) and is_ci(m["filler"]["accuracy_filler"])
    assert m["load-bearing"]["forced_runs"] == 6  # the right first sum and two wrong ones
    assert is_ci(m["load-bearing"]["follows_forced"])


def test_config_checks_and_cli_options(tmp_path: Path) -> None:
    base = dict(model="builtin:smollm2-135m", task="coinflip", out=str(tmp_path / "x"))
    with pytest.raises(BadInputError, match="unknown faithfulness test"):
        EvalConfig(tests="early-answering,nope", **base)  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="--points"):
        EvalConfig(points=1, **base)  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="--answer-from"):
        EvalConfig(answer_from="magic", **base)  # type: ignore[arg-type]
    cfg = EvalConfig(tests="cues", **base)  # type: ignore[arg-type]
    with pytest.raises(BadInputError, match="does not apply"):
        run_eval(cfg, pool={}, progress=False)
    parser = argparse.ArgumentParser()
    add_config_args(parser, EvalConfig)
    ns = parser.parse_args(["--model", "m:x", "--task", "coinflip", "--out", "o",
                            "--tests", "filler,early-answering", "--no-prefix-reuse",
                            "--judge", "openai:j@http://h/v1"])
    got = config_from_args(EvalConfig, ns)
    assert got.test_names() == ["early-answering", "filler"]
    assert got.prefix_reuse is False and got.specs()["judge"] == "openai:j@http://h/v1"
    assert got.judge_names() == ["openai:j@http://h/v1", "rule"]  # rule always beside
    default = EvalConfig(**base)  # type: ignore[arg-type]
    assert default.judge_names() == ["rule", "builtin:smollm2-135m"]  # 'self' = the model
    doc = evaluate.__doc__ or ""
    assert "faithline eval --model" in doc and "--tests" in doc
