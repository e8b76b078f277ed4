"""``faithline generate``: run a task through a pipeline into a run directory.

    faithline generate --model builtin:smollm2-135m --task coinflip --n 4 --out runs/cf
    faithline generate --model builtin:smollm2-135m --task coinflip --n 4 \\
        --paraphraser builtin:smollm2-135m --face builtin:smollm2-135m --out runs/cf-spf

From Python: ``generate(GenerateConfig(model=..., task=..., n=4, out="runs/cf"))``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import asdict, dataclass, field

from faithline.errors import BadInputError
from faithline.models import BACKENDS, Model, load_model, parse_spec
from faithline.models.cache import CachedModel, CallCache
from faithline.pipeline.format import FORMATS
from faithline.pipeline.paraphraser import Paraphraser
from faithline.pipeline.paraphrasers import get_paraphraser, paraphraser_model_specs
from faithline.pipeline.pipelines import (
    BasePipeline,
    Settings,
    ShoggothFacePipeline,
    SinglePipeline,
)
from faithline.pipeline.runner import execute, summarize
from faithline.runs import Run
from faithline.tasks import Task, get_task


def _help(text: str) -> dict[str, str]:
    return {"help": text}


@dataclass(frozen=True)
class GenerateConfig:
    """Settings of one ``generate`` run; stored whole in run.json."""

    model: str = field(metadata=_help("model spec (the Shoggoth in the three-role pipeline), "
                                      "e.g. builtin:smollm2-135m, hf:./dir, "
                                      "openai:NAME@http://host:port/v1"))
    task: str = field(metadata=_help("task: coinflip, addition, mcq-cues (options as "
                                     "coinflip:flips=12), a Task JSONL file, or "
                                     "hf-dataset:DIR"))
    out: str = field(metadata=_help("run directory; re-running the same command resumes it"))
    n: int = field(default=8, metadata=_help("number of samples"))
    paraphraser: str | None = field(default=None, metadata=_help(
        "paraphraser spec: a model spec (LLM paraphraser), llm:SPEC, context:SPEC, canonical, "
        "none, chain:A|B or ensemble:A|B; turns on Shoggoth -> Paraphraser -> Face"))
    min_fidelity: float = field(default=0.0, metadata=_help(
        "fail a paraphrase closed when it keeps less than this share of the CoT's content"))
    face: str | None = field(default=None, metadata=_help(
        "model spec of the Face (default: the --model); turns on the Shoggoth/Face split"))
    seed: int = field(default=0, metadata=_help("seed for task sampling and generation"))
    max_cot_tokens: int = field(default=384, metadata=_help("token limit of the CoT"))
    max_answer_tokens: int = field(default=16, metadata=_help("token limit of a forced answer"))
    max_paraphrase_tokens: int = field(default=512, metadata=_help("token limit of a paraphrase"))
    temperature: float = field(default=0.0, metadata=_help("sampling temperature (0 = greedy)"))
    top_p: float = field(default=1.0, metadata=_help("nucleus sampling top-p"))
    format: str = field(default="answer-line", metadata=_help(
        f"CoT format, one of {', '.join(FORMATS)}"))
    batch_size: int = field(default=8, metadata=_help("samples per batch (and per checkpoint)"))
    cache: bool = field(default=True, metadata=_help("cache model calls by content hash"))

    def __post_init__(self) -> None:
        if self.n < 1:
            raise BadInputError(f"--n must be >= 1, got {self.n}")
        if self.batch_size < 1:
            raise BadInputError(f"--batch-size must be >= 1, got {self.batch_size}")

    def specs(self) -> dict[str, str]:
        """Role -> model spec (the paraphraser's models come from its own spec)."""
        if not self.three_role:
            return {"model": self.model}
        return {"shoggoth": self.model, "face": self.face or self.model}

    @property
    def three_role(self) -> bool:
        return self.paraphraser is not None or self.face is not None


ModelPool = MutableMapping[str, Model]


def load_roles(cfg: GenerateConfig,
               pool: ModelPool | None = None) -> tuple[dict[str, Model], Paraphraser | None]:
    """Load each role's model once per distinct spec (validating every spec first), and the
    paraphraser; with ``cfg.cache`` every model answers repeated calls from the call cache."""
    specs = cfg.specs()
    para_specs = paraphraser_model_specs(cfg.paraphraser) if cfg.paraphraser else []
    for spec in [*specs.values(), *para_specs]:
        BACKENDS.get(parse_spec(spec)[0])
    pool = {} if pool is None else pool
    cache = CallCache() if cfg.cache else None

    def get(spec: str) -> Model:
        if spec not in pool:
            pool[spec] = load_model(spec)
        return CachedModel(pool[spec], cache) if cache else pool[spec]

    models = {role: get(spec) for role, spec in specs.items()}
    paraphraser = None
    if cfg.paraphraser:
        para_pool = {spec: get(spec) for spec in para_specs}
        paraphraser = get_paraphraser(cfg.paraphraser, para_pool, seed=cfg.seed,
                                      max_new_tokens=cfg.max_paraphrase_tokens,
                                      min_fidelity=cfg.min_fidelity)
    return models, paraphraser


def build_pipeline(cfg: GenerateConfig, models: dict[str, Model], paraphraser: Paraphraser | None,
                   task: Task) -> BasePipeline:
    settings = Settings(max_cot_tokens=cfg.max_cot_tokens,
                        max_answer_tokens=cfg.max_answer_tokens, temperature=cfg.temperature,
                        top_p=cfg.top_p, seed=cfg.seed, format=cfg.format)
    if not cfg.three_role:
        return SinglePipeline(models["model"], task, settings)
    return ShoggothFacePipeline(models["shoggoth"], models["face"], paraphraser, task, settings)


def generate(cfg: GenerateConfig, pool: ModelPool | None = None, progress: bool = True) -> Run:
    """Run ``cfg`` into ``cfg.out`` (creating or resuming it) and write metrics.json."""
    task = get_task(cfg.task)
    samples = task.samples(cfg.n, seed=cfg.seed)
    models, paraphraser = load_roles(cfg, pool)
    pipeline = build_pipeline(cfg, models, paraphraser, task)
    run = Run.open(cfg.out, "generate", asdict(cfg), seeds={"seed": cfg.seed})
    run.info["task"] = task.describe()
    infos = {role: m.info() for role, m in models.items()}
    if paraphraser is not None:
        infos["paraphraser"] = {"spec": paraphraser.name}
    run.set_models(infos)
    execute(run, pipeline, samples, cfg.batch_size, progress=progress)
    ids = {s.id for s in samples}
    transcripts = [t for t in run.transcripts() if t.id in ids]
    metrics = summarize(transcripts, run.failures(), len(samples))
    metrics.update(task=cfg.task, pipeline=pipeline.name)
    run.write_metrics(metrics)
    return run
