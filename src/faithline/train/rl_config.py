"""``RLConfig``: the whole configuration of one ``faithline train rl`` run (its CLI flags).

Its own module, below both ``train/setup.py`` (which builds a run's parts from it) and
``train/rl.py`` (which trains with them and re-exports it: ``from faithline.train.rl import
RLConfig`` is the public name), so neither imports the other.

Each numeric field declares the values it accepts (``help_meta(..., ge=1)``, config.py):
``--help`` shows the range and building the config refuses a value outside it.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from faithline.config import SEED, check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError
from faithline.train.arms import ARMS, Arm, parse_arm


@dataclass(frozen=True)
class RLConfig:
    arm: str = field(default="outcome", metadata=_help(
        lambda: f"{', '.join(ARMS.in_order())} (listed above), or key=value,... "
                "(answer=policy|face, penalty=none|cot|face, paraphrase=yes|step|no, "
                "extras=legibility, name=NAME)"))
    model: str = field(default="builtin:organism", metadata=_help(
        "policy start checkpoint: builtin:organism or any local model spec"))
    task: str = field(default="", metadata=_help(
        "any task spec, e.g. addition:operands=4 or FILE.jsonl (default: coinflip)"))
    steps: int = field(default=120, metadata=_help("GRPO steps", ge=1))
    monitor: str = field(default="rule:leak", metadata=_help(
        "the pressure: any `faithline monitor` spec; its verdict score is the penalty"))
    penalty: float = field(default=1.0, metadata=_help("monitor penalty weight w", ge=0))
    penalty_k: float = field(default=2.0, metadata=_help(
        "penalty shape: w * (1 - exp(-k * score))", ge=0))
    paraphraser: str = field(default="", metadata=_help(
        "paraphraser between Shoggoth and Face (any --paraphraser spec; default: "
        "canonical:organism for the organism, canonical otherwise)"))
    prompts: int = field(default=0, metadata=_help(
        "prompts per step (0: 16 for the organism, 4 otherwise)", ge=0))
    paraphrase_steps: str = field(default="", metadata=_help(
        "per-step paraphraser (any --paraphraser spec): it rewrites each step of the "
        "Shoggoth's CoT before the Shoggoth writes the next (pipeline/steps.py); turns a Face "
        "arm's placement into per-step"))
    max_steps: int = field(default=0, metadata=_help(
        "steps per CoT with --paraphrase-steps (0: --max-new-tokens for the organism, one "
        "word a step; 8 otherwise, one line a step)", ge=0))
    face_model: str = field(default="", metadata=_help(
        "Face start checkpoint (default: a copy of the policy's)"))
    generations: int = field(default=0, metadata=_help(
        "completions per prompt, the GRPO group (0: 8 for the organism, 4 otherwise; not 1)",
        ge=0))
    reward: str = field(default="", metadata=_help(
        "module:function, a TRL reward function replacing the task's grader"))
    lr: float = field(default=1e-4, metadata=_help("learning rate (policy and Face)", gt=0))
    label: str = field(default="", metadata=_help(
        "module:function(sample, cot, answer) -> {name: bool}, extra exact labels"))
    beta: float = field(default=0.0, metadata=_help("KL coefficient to the start model", ge=0))
    out: str = field(default="", metadata=_help(
        "run directory (default: runs/rl/<arm>-s<seed>)"))
    max_new_tokens: int = field(default=0, metadata=_help(
        "max CoT+answer tokens (0: 16 for the organism, 128 otherwise)", ge=0))
    log_monitors: str = field(default="", metadata=_help(
        "comma-separated monitor specs that only watch the rollouts (no penalty); "
        "logged as monitor/<name>/recall|fpr|flag_rate"))
    leak_prob: float = field(default=0.5, metadata=_help("share of prompts with a leak",
                                                         ge=0, le=1))
    report_to: str = field(default="none", metadata=_help(
        "where TRL logs too: none, tensorboard, wandb, ... (passed to TRL)"))
    eval_n: int = field(default=0, metadata=_help(
        "labelled evaluation episodes at the end (0: 256 for the organism, 32 otherwise)",
        ge=0))
    legibility_weight: float = field(default=0.5, metadata=_help(
        "weight of the legibility regulariser (arms with extras=legibility)", ge=0))
    legibility_metrics: bool = field(default=False, metadata=_help(
        "also log legibility metrics and alarms of the rollouts' CoTs against the "
        "start policy's, read by the frozen start model"))
    monitor_every: int = field(default=10, metadata=_help(
        "run --log-monitors (and --legibility-metrics) every N steps", ge=1))
    save_every: int = field(default=50, metadata=_help("checkpoint every N steps (resume)",
                                                       ge=1))
    seed: int = field(default=0, metadata=_help("seed", **SEED))
    vllm: bool = field(default=False, metadata=_help(
        "rollouts on a vLLM engine (TRL's colocate mode, faithline[vllm]): the "
        "policy's weights reach it every step, the Face's are swapped in for its "
        "answers, and TRL corrects the loss for the engine/trainer mismatch"))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above
        if self.generations == 1:  # a group of one has no advantage to learn from
            raise BadInputError("need --generations >= 2 (or 0: auto), got 1")

    def check(self) -> Arm:
        """The arm this config trains (a clear error for an unknown one); the numbers were
        checked when the config was built."""
        arm = parse_arm(self.arm)
        if not self.paraphrase_steps or arm.steps:
            return arm
        if not arm.face:
            raise BadInputError(f"--paraphrase-steps needs a Face arm (answer=face); arm "
                                f"{arm.name} answers with the policy")
        return replace(arm, paraphrase=True, steps=True)

    def sized(self, organism: bool) -> RLConfig:
        """The config with its automatic sizes (0) filled in: the organism's, or a chat
        model's (small enough for a CPU; set them for real runs)."""
        auto = (16, 8, 256, 16) if organism else (4, 4, 32, 128)
        tokens = self.max_new_tokens or auto[3]
        return replace(self, prompts=self.prompts or auto[0],
                       generations=self.generations or auto[1], eval_n=self.eval_n or auto[2],
                       max_new_tokens=tokens,
                       max_steps=self.max_steps or (tokens if organism else 8))
