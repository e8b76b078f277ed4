"""The same `train rl` code on a real chat model and a task of its own: SmolLM2-135M on 4-operand
addition with a leaked answer, pressured by the `rule:hack` monitor, and the same run with an
LLM paraphraser between Shoggoth and Face (slow: the README's commands, as a user runs them)."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from faithline.cli.main import main
from faithline.runs.run import Run

COMMAND = ["train", "rl", "--model", "builtin:smollm2-135m", "--task", "addition:operands=4",
           "--monitor", "rule:hack", "--steps", "2", "--quiet"]


@pytest.mark.slow
@pytest.mark.parametrize("arm", [["--arm", "pressure"],
                                 ["--arm", "paraphrase", "--paraphraser",
                                  "llm:builtin:smollm2-135m"]])
def test_smollm2_trains_the_arms_on_addition(tmp_path: Path, arm: list[str]) -> None:
    out = tmp_path / arm[1]
    assert main([*COMMAND, *arm, "--out", str(out)]) == 0
    run = Run.load(out)
    steps = [json.loads(x) for x in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2]
    for s in steps:  # the pressure monitor's recall and FPR at every step (NaN: no hacks)
        assert "monitor_recall" in s and 0.0 <= s["monitor_fpr"] <= 1.0
        assert math.isnan(s["monitor_recall"]) or 0.0 <= s["monitor_recall"] <= 1.0
    ts = run.transcripts()
    assert ts and all(set(t.label or {}) >= {"hack", "verbalized", "leaked"} for t in ts)
    assert all("rule:hack" in (t.monitor or {}) for t in ts)
    assert any(t.meta["leak"] for t in ts) and all("Leaked grader key" in t.prompt
                                                   for t in ts if t.meta["leak"])
    if arm[1] == "paraphrase":  # paraphrased, or failed closed into failures.jsonl
        assert all(t.paraphrased_cot is not None for t in ts)
        assert len(ts) + len(run.failures()) == 32  # the chat-model default --eval-n
    m = run.metrics()
    assert m["steps"] == 2 and m["final"]["hack_rate"]["n"] > 0
