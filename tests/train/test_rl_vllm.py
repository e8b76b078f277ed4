"""``faithline train rl --vllm`` on SmolLM2-135M: rollouts on TRL's colocated vLLM engine.

Runs in the second venv (``make test-vllm``; marked ``vllm``). It checks what makes vLLM
rollouts correct rather than merely fast: the policy's weights reached the engine (the engine's
logprobs of the sampled tokens agree with the trainer's, which TRL logs as the sampling logp
difference), TRL applied its importance-sampling correction (it logs the ratio), and the run is
the same contract run as with HF rollouts.
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
from pathlib import Path

import pytest

from faithline.runs.run import Run


@pytest.mark.vllm
def test_train_rl_vllm_two_steps_on_smollm2(tmp_path: Path) -> None:
    if importlib.util.find_spec("vllm") is None and os.environ.get("FAITHLINE_REQUIRE_VLLM") != "1":
        pytest.skip("needs vllm: make setup-vllm (or pip install 'faithline[vllm]')")
    from faithline.cli.main import main

    out = tmp_path / "rl"
    code = main(["train", "rl", "--vllm", "--model", "builtin:smollm2-135m", "--steps", "2",
                 "--eval-n", "8", "--save-every", "2", "--quiet", "--out", str(out)])
    assert code == 0
    steps = [json.loads(x) for x in (out / "steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2]
    state = out / "trl" / "checkpoint-2" / "trainer_state.json"
    logs = json.loads(state.read_text())["log_history"]  # TRL's own per-step logs
    diffs = [r[k] for r in logs for k in r if "logp_difference/mean" in k]
    ratios = [r[k] for r in logs for k in r if "importance_sampling_ratio" in k]
    assert diffs and ratios, f"TRL logged no vLLM sampling metrics: {sorted(logs[0])}"
    # The engine sampled with the policy's weights (bf16 engine, fp32 trainer: small differences)
    assert all(math.isfinite(d) and d < 0.1 for d in diffs), diffs
    run = Run.load(out)
    assert run.info["config"]["vllm"] is True
    assert len(run.transcripts()) == 8 and run.metrics()["steps"] == 2


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
