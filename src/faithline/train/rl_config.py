"""``RLConfig``: the whole configuration of one ``faithline train rl`` run (its CLI flags).

Its own module, below both ``train/setup.py`` (which builds a run's parts from it) and
``train/rl.py`` (which trains with them and re-exports it: ``from faithline.train.rl import
RLConfig`` is the public name), so neither imports the other.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

from faithline.errors import BadInputError
from faithline.train.arms import ARMS, Arm, parse_arm


@dataclass(frozen=True)
class RLConfig:
    arm: str = field(default="outcome", metadata={
        "help": lambda: f"{', '.join(ARMS.in_order())} (listed above), or key=value,... "
                        "(answer=policy|face, penalty=none|cot|face, paraphrase=yes|no, "
                        "extras=legibility, name=NAME)"})
    model: str = field(default="builtin:organism", metadata={
        "help": "policy start checkpoint: builtin:organism or any local model spec"})
    task: str = field(default="", metadata={
        "help": "any task spec, e.g. addition:operands=4 or FILE.jsonl (default: coinflip)"})
    steps: int = field(default=120, metadata={"help": "GRPO steps"})
    monitor: str = field(default="rule:leak", metadata={
        "help": "the pressure: any `faithline monitor` spec; its verdict score is the penalty"})
    penalty: float = field(default=1.0, metadata={"help": "monitor penalty weight w"})
    penalty_k: float = field(default=2.0, metadata={
        "help": "penalty shape: w * (1 - exp(-k * score))"})
    paraphraser: str = field(default="", metadata={
        "help": "paraphraser between Shoggoth and Face (any --paraphraser spec; default: "
                "canonical:organism for the organism, canonical otherwise)"})
    prompts: int = field(default=0, metadata={
        "help": "prompts per step (0: 16 for the organism, 4 otherwise)"})
    face_model: str = field(default="", metadata={
        "help": "Face start checkpoint (default: a copy of the policy's)"})
    generations: int = field(default=0, metadata={
        "help": "completions per prompt, the GRPO group (0: 8 for the organism, 4 otherwise)"})
    reward: str = field(default="", metadata={
        "help": "module:function, a TRL reward function replacing the task's grader"})
    lr: float = field(default=1e-4, metadata={"help": "learning rate (policy and Face)"})
    label: str = field(default="", metadata={
        "help": "module:function(sample, cot, answer) -> {name: bool}, extra exact labels"})
    beta: float = field(default=0.0, metadata={"help": "KL coefficient to the start model"})
    out: str = field(default="", metadata={
        "help": "run directory (default: runs/rl/<arm>-s<seed>)"})
    max_new_tokens: int = field(default=0, metadata={
        "help": "max CoT+answer tokens (0: 16 for the organism, 128 otherwise)"})
    log_monitors: str = field(default="", metadata={
        "help": "comma-separated monitor specs that only watch the rollouts (no penalty); "
                "logged as monitor/<name>/recall|fpr|flag_rate"})
    leak_prob: float = field(default=0.5, metadata={"help": "share of prompts with a leak"})
    report_to: str = field(default="none", metadata={
        "help": "where TRL logs too: none, tensorboard, wandb, ... (passed to TRL)"})
    eval_n: int = field(default=0, metadata={
        "help": "labelled evaluation episodes at the end (0: 256 for the organism, 32 otherwise)"})
    legibility_weight: float = field(default=0.5, metadata={
        "help": "weight of the legibility regulariser (arms with extras=legibility)"})
    legibility_metrics: bool = field(default=False, metadata={
        "help": "also log legibility metrics and alarms of the rollouts' CoTs against the "
                "start policy's, read by the frozen start model"})
    monitor_every: int = field(default=10, metadata={
        "help": "run --log-monitors (and --legibility-metrics) every N steps"})
    save_every: int = field(default=50, metadata={"help": "checkpoint every N steps (resume)"})
    seed: int = field(default=0, metadata={"help": "seed"})
    vllm: bool = field(default=False, metadata={
        "help": "rollouts on a vLLM engine (TRL's colocate mode, faithline[vllm]): the "
                "policy's weights reach it every step, the Face's are swapped in for its "
                "answers, and TRL corrects the loss for the engine/trainer mismatch"})

    def check(self) -> Arm:
        arm = parse_arm(self.arm)
        if self.steps < 1 or self.prompts < 0 or self.generations == 1 or self.generations < 0:
            raise BadInputError("need steps >= 1, prompts >= 1 and generations >= 2 (0: auto)")
        if not 0.0 <= self.leak_prob <= 1.0:
            raise BadInputError("leak-prob must be in [0, 1]")
        if self.eval_n < 0 or self.max_new_tokens < 0 or self.monitor_every < 1:
            raise BadInputError("need eval-n >= 1, max-new-tokens >= 1 (0: auto) and "
                                "monitor-every >= 1")
        return arm

    def sized(self, organism: bool) -> RLConfig:
        """The config with its automatic sizes (0) filled in: the organism's, or a chat
        model's (small enough for a CPU; set them for real runs)."""
        auto = (16, 8, 256, 16) if organism else (4, 4, 32, 128)
        return replace(self, prompts=self.prompts or auto[0],
                       generations=self.generations or auto[1], eval_n=self.eval_n or auto[2],
                       max_new_tokens=self.max_new_tokens or auto[3])
