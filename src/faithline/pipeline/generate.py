"""``faithline generate``: run a task through a pipeline into a run directory.

    faithline generate --model builtin:smollm2-135m --task coinflip --n 4 --out runs/cf
    faithline generate --model builtin:smollm2-135m --task coinflip --n 4 \\
        --paraphraser builtin:smollm2-135m --face builtin:smollm2-135m --out runs/cf-spf

From Python: ``generate(GenerateConfig(model=..., task=..., n=4, out="runs/cf"))``.
"""

from __future__ import annotations

from collections.abc import MutableMapping
from dataclasses import MISSING, asdict, dataclass, field, fields

from faithline.config import SEED, check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError
from faithline.models import BACKENDS, Model, load_model, parse_spec
from faithline.models.cache import CachedModel, CallCache
from faithline.pipeline.format import FORMATS, CotFormat
from faithline.pipeline.paraphrase_llm import DEFAULT_MIN_FIDELITY, Paraphraser
from faithline.pipeline.paraphrase_specs import get_paraphraser, paraphraser_model_specs
from faithline.pipeline.pipelines import (
    BasePipeline,
    Settings,
    ShoggothFacePipeline,
    SinglePipeline,
)
from faithline.pipeline.runner import execute, summarize
from faithline.runs import Run
from faithline.tasks import Task, get_task


@dataclass(frozen=True)
class GenerateConfig:
    """Settings of one ``generate`` run; stored whole in run.json."""

    model: str = field(metadata=_help("model spec (the Shoggoth in the three-role pipeline), "
                                      "e.g. builtin:smollm2-135m, hf:./dir, "
                                      "openai:NAME@http://host:port/v1"))
    task: str = field(metadata=_help("task spec (the kinds are listed above), e.g. "
                                     "coinflip:flips=12, or a Task JSONL file"))
    out: str = field(metadata=_help("run directory; re-running the same command resumes it"))
    n: int = field(default=8, metadata=_help("number of samples", ge=1))
    paraphraser: str | None = field(default=None, metadata=_help(
        "paraphraser spec: a model spec (LLM paraphraser), llm:SPEC, context:SPEC, canonical, "
        "none, chain:A|B or ensemble:A|B; turns on Shoggoth -> Paraphraser -> Face"))
    paraphrase_steps: str | None = field(default=None, metadata=_help(
        "per-step paraphraser spec (any --paraphraser spec): it rewrites each step of the "
        "Shoggoth's CoT (a line; a word in the organism's format) before the Shoggoth writes "
        "the next, which it writes from the paraphrased steps (pipeline/steps.py); turns on "
        "Shoggoth -> Face. Not with --paraphraser"))
    max_steps: int = field(default=8, metadata=_help(
        "steps per CoT with --paraphrase-steps", ge=1))
    min_fidelity: float = field(default=DEFAULT_MIN_FIDELITY, metadata=_help(
        "fail a paraphrase closed when it keeps less than this share of the CoT's content",
        ge=0, le=1))
    face: str | None = field(default=None, metadata=_help(
        "model spec of the Face (default: the --model); turns on the Shoggoth/Face split"))
    seed: int = field(default=0, metadata=_help("seed for task sampling and generation", **SEED))
    max_cot_tokens: int = field(default=384, metadata=_help("token limit of the CoT", ge=1))
    max_answer_tokens: int = field(default=16, metadata=_help("token limit of a forced answer",
                                                              ge=1))
    max_paraphrase_tokens: int = field(default=512, metadata=_help("token limit of a paraphrase",
                                                                   ge=1))
    temperature: float = field(default=0.0, metadata=_help("sampling temperature (0 = greedy)",
                                                           ge=0))
    top_p: float = field(default=1.0, metadata=_help("nucleus sampling top-p", gt=0, le=1))
    format: str = field(default="answer-line", metadata=_help(
        f"CoT format, one of {', '.join(FORMATS)}"))
    batch_size: int = field(default=8, metadata=_help("samples per batch (and per checkpoint)",
                                                      ge=1))
    cache: bool = field(default=True, metadata=_help("cache model calls by content hash"))

    def __post_init__(self) -> None:
        # Fail before anything is written, so a corrected command starts a clean run.
        check_config(self)  # the ranges declared above
        CotFormat(self.format)
        if self.paraphraser is not None and self.paraphrase_steps is not None:
            raise BadInputError("--paraphraser (before the Face) and --paraphrase-steps (in "
                                "the Shoggoth's loop) are two placements: give one")

    @property
    def paraphraser_spec(self) -> str | None:
        """The paraphraser's spec, whichever placement it has."""
        return self.paraphraser if self.paraphraser is not None else self.paraphrase_steps

    def specs(self) -> dict[str, str]:
        """Role -> model spec (the paraphraser's models come from its own spec)."""
        if not self.three_role:
            return {"model": self.model}
        return {"shoggoth": self.model, "face": self.face or self.model}

    @property
    def three_role(self) -> bool:
        return self.paraphraser_spec is not None or self.face is not None


ModelPool = MutableMapping[str, Model]


def check_specs(cfg: GenerateConfig) -> None:
    """Every model spec names a known back-end (before anything is loaded or written)."""
    specs = list(cfg.specs().values())
    specs += paraphraser_model_specs(cfg.paraphraser_spec) if cfg.paraphraser_spec else []
    for spec in specs:
        BACKENDS.get(parse_spec(spec)[0])


def load_roles(cfg: GenerateConfig, pool: ModelPool | None = None
               ) -> tuple[dict[str, Model], dict[str, Model]]:
    """Load each role's model, and the paraphraser's, once per distinct spec; with
    ``cfg.cache`` every model answers repeated calls from the call cache.

    Returns (role -> model, paraphraser model spec -> model).
    """
    specs = cfg.specs()
    para_specs = paraphraser_model_specs(cfg.paraphraser_spec) if cfg.paraphraser_spec else []
    pool = {} if pool is None else pool
    cache = CallCache() if cfg.cache else None

    def get(spec: str) -> Model:
        if spec not in pool:
            pool[spec] = load_model(spec)
        return CachedModel(pool[spec], cache) if cache else pool[spec]

    return {role: get(spec) for role, spec in specs.items()}, {s: get(s) for s in para_specs}


def make_paraphraser(cfg: GenerateConfig, para_pool: dict[str, Model],
                     retry_round: int = 0) -> Paraphraser | None:
    """The paraphraser of ``cfg``. ``retry_round`` (how often the run was resumed) shifts its
    seed, so sampled retries of a failed paraphrase are not answered from the call cache with
    the same failure; first attempts are greedy and do not depend on it."""
    if not cfg.paraphraser_spec:
        return None
    return get_paraphraser(cfg.paraphraser_spec, para_pool, seed=cfg.seed + 1000 * retry_round,
                           max_new_tokens=cfg.max_paraphrase_tokens,
                           min_fidelity=cfg.min_fidelity)


def build_pipeline(cfg: GenerateConfig, models: dict[str, Model], paraphraser: Paraphraser | None,
                   task: Task) -> BasePipeline:
    settings = Settings(max_cot_tokens=cfg.max_cot_tokens,
                        max_answer_tokens=cfg.max_answer_tokens, temperature=cfg.temperature,
                        top_p=cfg.top_p, seed=cfg.seed, format=cfg.format)
    if not cfg.three_role:
        return SinglePipeline(models["model"], task, settings)
    return ShoggothFacePipeline(models["shoggoth"], models["face"], paraphraser, task, settings,
                                max_steps=cfg.max_steps if cfg.paraphrase_steps else 0)


def generate(cfg: GenerateConfig, pool: ModelPool | None = None, progress: bool = True) -> Run:
    """Run ``cfg`` into ``cfg.out`` (creating or resuming it) and write metrics.json."""
    Run.check_out(cfg.out)  # before a model loads
    task = get_task(cfg.task)
    samples = task.samples(cfg.n, seed=cfg.seed)
    check_specs(cfg)
    models, para_pool = load_roles(cfg, pool)  # an unreachable server fails before any write
    defaults = {f.name: f.default for f in fields(GenerateConfig) if f.default is not MISSING}
    run = Run.open(cfg.out, "generate", asdict(cfg), seeds={"seed": cfg.seed},
                   defaults=defaults)
    paraphraser = make_paraphraser(cfg, para_pool, retry_round=run.info.get("resumed", 0))
    pipeline = build_pipeline(cfg, models, paraphraser, task)
    run.info["task"] = task.describe()
    infos = {role: m.info() for role, m in models.items()}
    if paraphraser is not None:
        infos["paraphraser"] = {"spec": paraphraser.name,
                                "placement": "step" if cfg.paraphrase_steps else "face"}
    run.set_models(infos)
    with run.working():
        execute(run, pipeline, samples, cfg.batch_size, progress=progress)
        ids = {s.id for s in samples}
        transcripts = [t for t in run.transcripts() if t.id in ids]
        failures = [f for f in run.failures() if f.get("id") in ids]
        metrics = summarize(transcripts, failures, len(samples))
        metrics.update(task=cfg.task, pipeline=pipeline.name)
        run.write_metrics(metrics)
    return run
