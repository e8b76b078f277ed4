"""``faithline train rl --vllm`` on SmolLM2-135M: rollouts on TRL's colocated vLLM engine
(whole completions, and per-step with ``--paraphrase-steps``).

Runs in the second venv (``make test-vllm``, so in CI; marked ``vllm``; a missing vLLM fails it
under ``FAITHLINE_REQUIRE_VLLM=1``). It checks what makes vLLM rollouts correct rather than
merely fast: two real GRPO steps (a reward that differs between completions, so the policy's
weights change), the changed weights reached the engine (TRL's logged difference between the
engine's and the trainer's logprobs of the sampled tokens stays small at step 2, after the
update), TRL applied its importance-sampling correction (it logs the ratio), and the run is the
same contract run as with HF rollouts. Sizes are cut to fit CI (2 prompts x 4 completions of 32
tokens, 2 evaluation episodes): about 2.5 minutes on 2 cores, engine start included.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path

import pytest

from faithline.runs.run import Run

# A TRL reward function that differs between completions (distinct words): SmolLM2 gets no
# coin flip right in 32 tokens, and a group of equal rewards has no gradient.
REWARD = ("def distinct_words(prompts, completions, **columns):\n"
          "    return [len(set(c.split())) / 32 for c in completions]\n")


@pytest.mark.vllm
def test_train_rl_vllm_two_steps_on_smollm2(tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    if importlib.util.find_spec("vllm") is None:
        if os.environ.get("FAITHLINE_REQUIRE_VLLM") == "1":
            pytest.fail("vllm is not installed, and FAITHLINE_REQUIRE_VLLM=1 (make test-vllm)")
        pytest.skip("needs vllm: make setup-vllm (or pip install 'faithline[vllm]')")
    from faithline.cli.main import main

    (tmp_path / "vllm_reward.py").write_text(REWARD)
    monkeypatch.syspath_prepend(str(tmp_path))
    out = tmp_path / "rl"
    code = main(["train", "rl", "--vllm", "--model", "builtin:smollm2-135m", "--steps", "2",
                 "--prompts", "2", "--generations", "4", "--max-new-tokens", "32",
                 "--reward", "vllm_reward:distinct_words", "--eval-n", "2",
                 "--save-every", "2", "--quiet", "--out", str(out)])
    assert code == 0
    steps = [json.loads(x) for x in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2]
    state = out / "trl" / "checkpoint-2" / "trainer_state.json"
    logs = json.loads(state.read_text())["log_history"]  # TRL's own per-step logs
    diffs = [r[k] for r in logs for k in r if "logp_difference/mean" in k]
    ratios = [r[k] for r in logs for k in r if "importance_sampling_ratio/mean" in k]
    assert len(diffs) == 2 and len(ratios) == 2, \
        f"TRL logged no vLLM sampling metrics: {sorted(logs[0])}"
    # Real steps: the rewards differ within groups, so the weights moved
    assert all(r["grad_norm"] > 0 and r["reward_std"] > 0 for r in logs if "grad_norm" in r)
    # The engine sampled with the policy's weights, the updated ones at step 2: on a CPU both
    # hold them in fp32, so engine and trainer differ only by kernels (9e-6 at both steps
    # here). With the sync switched off step 2 read 0.34; with the engine in bf16, 0.23 (the
    # update is below bf16's resolution); with the LM head left stale after vLLM's reload
    # (tied embeddings), 0.25.
    assert all(math.isfinite(d) and d < 0.01 for d in diffs), diffs
    assert all(math.isfinite(r) and r > 0 for r in ratios), ratios
    run = Run.load(out)
    assert run.info["config"]["vllm"] is True
    assert len(run.transcripts()) == 2 and run.metrics()["steps"] == 2


@pytest.mark.vllm
def test_per_step_rollouts_on_the_engine(tmp_path: Path) -> None:
    """``--paraphrase-steps`` on vLLM: every step is sampled on TRL's engine from the spliced
    ids, and TRL re-scores each (rollout, step) row to the engine's logprobs (9e-6 here: the
    row's context is the one the step was sampled in)."""
    if importlib.util.find_spec("vllm") is None:
        if os.environ.get("FAITHLINE_REQUIRE_VLLM") == "1":
            pytest.fail("vllm is not installed, and FAITHLINE_REQUIRE_VLLM=1 (make test-vllm)")
        pytest.skip("needs vllm: make setup-vllm (or pip install 'faithline[vllm]')")
    from faithline.cli.main import main

    out = tmp_path / "rl"
    assert main(["train", "rl", "--vllm", "--model", "builtin:smollm2-135m", "--task",
                 "coinflip:flips=3", "--arm", "face", "--paraphrase-steps", "none",
                 "--max-steps", "3", "--steps", "2", "--prompts", "2", "--generations", "2",
                 "--max-new-tokens", "24", "--eval-n", "2", "--save-every", "2", "--quiet",
                 "--out", str(out)]) == 0
    logs = json.loads((out / "trl" / "checkpoint-2" / "trainer_state.json").read_text())[
        "log_history"]
    diffs = [r[k] for r in logs for k in r if "logp_difference/mean" in k]
    assert len(diffs) == 2 and all(math.isfinite(d) and d < 0.01 for d in diffs), diffs
    ts = Run.load(out).transcripts()
    assert ts and all(1 <= len(t.meta["steps"]["raw"]) <= 3 for t in ts)


@pytest.mark.parametrize("name,kind", [("ddp", "MULTI_GPU"), ("deepspeed_zero2", "DEEPSPEED"),
                                       ("fsdp", "FSDP")])
def test_accelerate_configs_load(name: str, kind: str) -> None:
    """The shipped ``configs/`` are valid accelerate configs of the kind their name says."""
    pytest.importorskip("accelerate")
    from accelerate.commands.config.config_args import load_config_from_file

    path = Path(__file__).resolve().parents[2] / "configs" / f"{name}.yaml"
    config = load_config_from_file(str(path))
    assert str(config.distributed_type).endswith(kind)
    assert config.mixed_precision == "no" and config.num_machines == 1
    if kind == "DEEPSPEED":
        assert config.deepspeed_config["zero_stage"] == 2
