"""``faithline demo``: the flagship run on the embedded default model, offline, on a CPU.

Until the RL experiment lands, the demo generates chain-of-thought transcripts with
SmolLM2-135M-Instruct (``builtin:smollm2-135m``) on coin-flip state tracking twice, through a
single model and through Shoggoth -> Paraphraser -> Face (all three roles SmolLM2), and writes
one report comparing them:

    faithline demo                    # runs/demo/{single,shoggoth-face}/ and runs/demo/report.html
    faithline demo --n 4 --out runs/quick

Re-running resumes: finished samples are not generated again.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from pathlib import Path

from faithline.models import Model
from faithline.pipeline.generate import GenerateConfig, generate


@dataclass(frozen=True)
class DemoConfig:
    out: str = field(default="runs/demo", metadata={"help": "output directory"})
    n: int = field(default=8, metadata={"help": "samples per pipeline"})
    model: str = field(default="builtin:smollm2-135m", metadata={
        "help": "model spec used for every role"})
    task: str = field(default="coinflip:flips=4", metadata={"help": "task spec"})
    seed: int = field(default=0, metadata={"help": "seed"})


def run_demo(cfg: DemoConfig, progress: bool = True) -> Path:
    """Run both pipelines and write the comparison report; returns the report's path."""
    from faithline.report import write_report

    out = Path(cfg.out)
    pool: dict[str, Model] = {}
    base = GenerateConfig(model=cfg.model, task=cfg.task, n=cfg.n, seed=cfg.seed,
                          out=str(out / "single"), max_cot_tokens=160)
    single = generate(base, pool, progress)
    three_role = replace(base, out=str(out / "shoggoth-face"), paraphraser=cfg.model,
                         face=cfg.model, max_paraphrase_tokens=256)
    three = generate(three_role, pool, progress)
    return write_report([single.path, three.path], out / "report.html")
