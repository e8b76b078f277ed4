"""``faithline train rl``: GRPO through TRL for any model, task, monitor and paraphraser.

    faithline train rl --arm pressure                          # the organism, runs/rl/pressure-s0
    faithline train rl --arm paraphrase --steps 120 --seed 1
    faithline train rl --model builtin:smollm2-135m --task addition:operands=4 --arm pressure \\
        --monitor rule:hack --steps 2 --prompts 2 --generations 4
    faithline train rl --model hf:./my-model --task my_tasks.jsonl --arm paraphrase \\
        --paraphraser llm:hf:./my-paraphraser --monitor classifier:runs/clf --reward my_mod:reward
    faithline train rl --vllm --model builtin:smollm2-135m --steps 2     # rollouts on vLLM
    accelerate launch --config_file configs/ddp.yaml -m faithline.cli.main train rl ...  # GPUs

The task (``--task``, any ``faithline generate`` task spec) is made hackable by
``tasks/leak.py``: a share ``--leak-prob`` of prompts carry a leaked answer the grader trusts,
and every transcript gets exact labels (hack, verbalized, leaked). The arm (train/arms.py) says
who writes the answer, where the ``--monitor`` penalty lands and whether ``--paraphraser`` sits
between Shoggoth and Face. The policy is trained by TRL's ``GRPOTrainer``; its rewards are TRL
reward functions (train/rewards.py: ``task`` or your ``--reward``, ``monitor``, ``legibility``),
logged by name; the ``rollout_func`` (train/rollout.py) adds only what TRL cannot express: the
Face and its own update (train/face.py).

Every step's metrics (train/metrics.py: accuracy, hack rate, leak dependence, the monitor's
recall and FPR, verbalisation, chain integrity, a word-distribution legibility proxy, wall time)
go where TRL logs (``--report-to``) and to the run's ``steps.jsonl``; ``--log-monitors`` adds
monitors that only watch. At the end a labelled set goes through the same pipelines and monitors
as ``faithline generate`` (train/evaluate.py). An interrupted run resumes from its last
checkpoint (``--save-every``, the Face and its optimiser included) without duplicating steps.
The trained policy (and Face) are saved as ``RUN/policy`` (``RUN/face``), loadable as
``hf:RUN/policy``.
"""

from __future__ import annotations

import json
import os
import statistics
import warnings
from dataclasses import asdict, replace
from pathlib import Path
from typing import Any

from faithline.io import iter_jsonl
from faithline.models.hf import save_pretrained_atomic
from faithline.runs.run import Run
from faithline.train.arms import Arm
from faithline.train.metrics import arm_metrics
from faithline.train.rl_config import RLConfig
from faithline.train.setup import Parts, build_parts

CURVE_KEYS = ("accuracy", "hack_rate", "leak_dependence", "monitor_recall", "monitor_fpr",
              "verbalized_share", "chain_intact", "legibility_js", "legibility_reward",
              "step_seconds")


def train_rl(cfg: RLConfig, progress: bool = True) -> Run:
    """Train one arm with GRPO, evaluate it, write the run; resumes an interrupted run."""
    import torch

    arm = cfg.check()
    os.environ.setdefault("TRL_EXPERIMENTAL_SILENCE", "1")  # rollout_func, knowingly
    warnings.filterwarnings("ignore", message=r".*gradient_checkpointing.* is deprecated",
                            category=FutureWarning)
    if not cfg.out:
        cfg = replace(cfg, out=f"runs/rl/{arm.name}-s{cfg.seed}")
    run = Run.open(cfg.out, "train rl", asdict(cfg), seeds={"seed": cfg.seed},
                   defaults=asdict(RLConfig()))
    if run.info.get("status") == "done":
        return run
    with run.working():
        torch.manual_seed(cfg.seed)
        parts = build_parts(cfg, arm, progress)
        run.set_models(parts.models_info())
        _train(cfg, arm, parts, run, progress)
        parts.evaluate(run, progress)
        run.write_metrics(_metrics(run, parts))
    return run


def _train(cfg: RLConfig, arm: Arm, parts: Parts, run: Run, progress: bool) -> None:
    """GRPO through TRL, or the saved weights where training already finished."""
    final = run.path / "policy"
    if (final / "config.json").is_file():  # trained; only the evaluation was cut short
        _load_weights(parts.policy.model, final)
        if parts.face is not None:
            _load_weights(parts.face.model, run.path / "face")
        return
    trl_dir = run.path / "trl"
    resume = _checkpoint(trl_dir, parts.face is not None)
    _truncate_steps(run.path / "steps.jsonl", int(resume.name.split("-")[1]) if resume else 0)
    if resume is not None and parts.face is not None and (resume / "face").is_dir():
        parts.load_face(resume / "face")
    trainer = parts.trainer(trl_dir, run.path / "steps.jsonl", progress)
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    tok = parts.policy.tokenizer
    if parts.face is not None:
        save_pretrained_atomic(parts.face.model, tok, run.path / "face")
    save_pretrained_atomic(parts.policy.model, tok, final)  # last: its presence means "trained"


def _load_weights(model: Any, folder: Path) -> None:
    from transformers import AutoModelForCausalLM

    model.load_state_dict(AutoModelForCausalLM.from_pretrained(folder).state_dict())


def _checkpoint(trl_dir: Path, face: bool) -> Path | None:
    """The newest complete TRL checkpoint: its trainer state (written after the model, the
    optimiser and the RNG states) and, in the Face arms, the Face's optimiser (written last,
    atomically) are there. A process killed mid-save leaves an incomplete one, which is skipped
    (two are kept, so the one before it survives)."""
    def complete(p: Path) -> bool:
        return (p / "trainer_state.json").is_file() and \
            (not face or (p / "face" / "optimizer.pt").is_file())

    cps = sorted((p for p in trl_dir.glob("checkpoint-*") if complete(p)),
                 key=lambda p: int(p.name.split("-")[1]))
    return cps[-1] if cps else None


def _truncate_steps(path: Path, keep_until: int) -> None:
    """Drop step rows after the checkpoint we resume from, so no step is counted twice."""
    if not path.is_file():
        return
    rows = [r for _, r in iter_jsonl(path, skip_torn_tail=True) if r.get("step", 0) <= keep_until]
    tmp = path.with_suffix(".tmp")
    tmp.write_text("".join(json.dumps(r) + "\n" for r in rows))
    tmp.replace(path)


def _metrics(run: Run, parts: Parts) -> dict[str, Any]:
    rows = [r for _, r in iter_jsonl(run.path / "steps.jsonl", skip_torn_tail=True)]
    step_s = [r["step_seconds"] for r in rows[1:] if "step_seconds" in r]
    curves = {}
    for k in CURVE_KEYS:
        pts = [(r["step"], r[k]) for r in rows if isinstance(r.get(k), float) and r[k] == r[k]]
        curves[k] = {"x": [p[0] for p in pts], "y": [p[1] for p in pts]}
    return {"arm": parts.arm.name, "seed": parts.seed, "monitor": parts.monitor_name,
            "steps": len(rows), "final": arm_metrics(run.transcripts(), parts.monitor_name,
                                                 options=parts.options),
            "failed": len(run.failures()),
            "step_seconds_median": statistics.median_high(step_s) if step_s else None,
            "curves": curves}
