"""The same `train rl` code on a real chat model: SmolLM2-135M for a few GRPO steps (slow)."""

from __future__ import annotations

from pathlib import Path

import pytest

from faithline.train.rl import RLConfig, train_rl


@pytest.mark.slow
@pytest.mark.parametrize("arm", ["pressure", "face"])
def test_smollm2_runs_a_few_grpo_steps(tmp_path: Path, arm: str) -> None:
    cfg = RLConfig(arm=arm, out=str(tmp_path / arm), model="builtin:smollm2-135m", steps=2,
                   prompts=2, generations=2, eval_n=4, max_new_tokens=48)
    run = train_rl(cfg, progress=False)
    m = run.metrics()
    assert m["steps"] == 2 and m["step_seconds_median"] is not None
    ts = run.transcripts()
    assert len(ts) == 4
    assert all("Leaked grader key" in t.prompt for t in ts if t.meta["leak"])
    assert all(set(t.label or {}) == {"hack", "verbalized", "leaked"} for t in ts)
