"""Run the faithfulness tests on a model and task, into a run directory.

    faithline eval --model builtin:smollm2-135m --task coinflip --n 20 --out runs/eval-cf
    faithline eval --model builtin:smollm2-135m --task mcq-cues --tests cues,early-answering \\
        --out runs/eval-mcq
    faithline eval --model openai:my-model@http://127.0.0.1:8000/v1 --task addition:operands=8 \\
        --judge openai:judge@http://127.0.0.1:8001/v1 --out runs/eval-add
    faithline report runs/eval-cf     # metrics with CIs, curves, per-sample transcripts

Tests (``--tests``, comma-separated; default: every test that applies to the task) are the
entries of ``faithline.faithfulness.TESTS``; the list below comes from it.

The model first writes one CoT per sample (as ``faithline generate`` does); every test then
works from those CoTs. Answers are read from option logprobs where the task has closed options
and the back-end scores them (else generated: ``--answer-from generate`` forces that path). On
local models early answering and filler reuse one KV cache per CoT (``--no-prefix-reuse`` turns
that off). Results: ``metrics.json`` has a section per test (e.g. ``early-answering.aoc``), each
metric a bootstrap 95% CI with its count, and ``curves``; ``transcripts.jsonl`` has the CoTs
(ids ``cot:<sample>``) and one transcript per test and sample (``<test>:<sample>``) whose
``meta`` holds the details. Re-running the same command resumes.

From Python: ``run_eval(EvalConfig(model=..., task=..., out="runs/x"))``.
"""

from __future__ import annotations

from collections.abc import MutableMapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from tqdm import tqdm

from faithline.config import SEED, check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError
from faithline.faithfulness.answers import ANSWER_PATHS
from faithline.faithfulness.base import Item
from faithline.faithfulness.context import Context
from faithline.faithfulness.judges import LLMJudge, RuleJudge
from faithline.faithfulness.mistakes import LLMEditor, RuleEditor
from faithline.faithfulness.suite import TESTS, FaithfulnessTest, headline_of
from faithline.models import BACKENDS, Model, load_model, parse_spec
from faithline.models.cache import CachedModel, CallCache
from faithline.pipeline.format import FORMATS
from faithline.pipeline.paraphrase_llm import LLMParaphraser, Paraphraser
from faithline.pipeline.pipelines import Settings
from faithline.pipeline.runner import summarize
from faithline.runs import Run
from faithline.tasks import Task, get_task
from faithline.types import Sample, Transcript

ModelPool = MutableMapping[str, Model]



@dataclass(frozen=True)
class EvalConfig:
    """Settings of one ``eval`` run; stored whole in run.json."""

    model: str = field(metadata=_help("model spec under test, e.g. builtin:smollm2-135m, "
                                      "hf:./dir, openai:NAME@http://host:port/v1"))
    task: str = field(metadata=_help("task: coinflip, addition, mcq-cues (options as "
                                     "coinflip:flips=12), a Task JSONL file, or hf-dataset:DIR"))
    out: str = field(metadata=_help("run directory; re-running the same command resumes it"))
    tests: str = field(default="all", metadata=_help(
        lambda: f"comma-separated tests: {', '.join(TESTS.in_order())}; 'all' = every test that "
                "applies"))
    n: int = field(default=20, metadata=_help("number of samples (CoTs)", ge=1))
    judge: str = field(default="rule,self", metadata=_help(
        "comma-separated verbalisation judges for the cue tests, reported side by side with "
        "their agreement (the first gives the headline): 'rule' (phrase rules for the "
        "synthetic cues, always run), 'self' (the model under test as an LLM judge) or a "
        "model spec"))
    editor: str = field(default="rule", metadata=_help(
        "mistake editor: 'rule' (swap an option word or change a number) or a model spec"))
    paraphraser: str | None = field(default=None, metadata=_help(
        "paraphraser of the paraphrasing test: a model spec (an LLM paraphraser; default: "
        "the model under test) or a paraphraser spec such as canonical or llm:MODEL"))
    seed: int = field(default=0, metadata=_help("seed for task sampling and generation", **SEED))
    points: int = field(default=0, metadata=_help(
        "early-answering truncation points per CoT, evenly spaced (0 = after every step; not 1)",
        ge=0))
    edit_points: int = field(default=3, metadata=_help(
        "steps edited per CoT by the mistakes and paraphrasing tests", ge=1))
    answer_from: str = field(default="auto", metadata=_help(
        "how answers are read: auto (option logprobs where possible), logprobs, generate"))
    prefix_reuse: bool = field(default=True, metadata=_help(
        "share one KV cache across the truncations of a CoT (local models)"))
    max_cot_tokens: int = field(default=256, metadata=_help("token limit of a CoT", ge=1))
    max_answer_tokens: int = field(default=16, metadata=_help(
        "token limit of a generated answer", ge=1))
    max_paraphrase_tokens: int = field(default=512, metadata=_help(
        "token limit of a paraphrase", ge=1))
    temperature: float = field(default=0.0, metadata=_help("sampling temperature (0 = greedy)",
                                                           ge=0))
    top_p: float = field(default=1.0, metadata=_help("nucleus sampling top-p", gt=0, le=1))
    format: str = field(default="answer-line", metadata=_help(
        f"CoT format, one of {', '.join(FORMATS)}"))
    batch_size: int = field(default=8, metadata=_help("samples per batch (and per checkpoint)",
                                                      ge=1))
    cache: bool = field(default=True, metadata=_help("cache model calls by content hash"))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above
        if self.points == 1:
            raise BadInputError("--points must be 0 (every step) or >= 2")
        if self.answer_from not in ANSWER_PATHS:
            raise BadInputError(f"--answer-from must be one of {', '.join(ANSWER_PATHS)}")
        if self.format not in FORMATS:
            raise BadInputError(f"--format must be one of {', '.join(FORMATS)}")
        self.test_names()

    def test_names(self) -> list[str] | None:
        """The tests asked for, in the standard order; None for 'all'."""
        names = [t.strip() for t in self.tests.split(",") if t.strip()]
        if not names or names == ["all"]:
            return None
        for name in names:
            TESTS.get(name)  # an unknown name is a BadInputError naming the known ones
        return [n for n in TESTS.in_order() if n in names]

    def paraphraser_spec(self) -> str | None:
        """``--paraphraser`` when it is a paraphraser spec (``canonical``, ``llm:M``...) rather
        than a bare model spec; None otherwise."""
        from faithline.pipeline.paraphrase_specs import PARAPHRASERS

        spec = self.paraphraser or ""
        kind, _, _ = spec.partition(":")
        return spec if kind in PARAPHRASERS else None

    def judge_names(self) -> list[str]:
        """The judges asked for: 'rule' or a model spec ('self' resolved to --model)."""
        names = [j.strip() for j in self.judge.split(",") if j.strip()]
        if not names:
            raise BadInputError("--judge needs at least one judge: rule, self or a model spec")
        resolved = [self.model if j == "self" else j for j in names]
        return list(dict.fromkeys([*resolved, "rule"]))  # the free rule judge always beside

    def specs(self) -> dict[str, str]:
        """Role -> model spec, for every role that needs a model."""
        roles = {"model": self.model}
        if not self.paraphraser_spec():
            roles["paraphraser"] = self.paraphraser or self.model
        for i, spec in enumerate(j for j in self.judge_names() if j != "rule"):
            roles["judge" if i == 0 else f"judge{i + 1}"] = spec
        if self.editor != "rule":
            roles["editor"] = self.editor
        return roles


def select_tests(cfg: EvalConfig, task: Task,
                 samples: Sequence[Sample]) -> tuple[list[FaithfulnessTest], dict[str, str]]:
    """The tests to run, and the reason each left-out test does not apply."""
    asked = cfg.test_names()
    chosen, skipped = [], {}
    for name in asked or TESTS.in_order():
        test = TESTS.get(name)()
        reason = test.skip_reason(task, samples)
        if reason is None:
            chosen.append(test)
        elif asked is not None:
            raise BadInputError(f"test '{name}' does not apply: {reason}")
        else:
            skipped[name] = reason
    return chosen, skipped


def load_models(cfg: EvalConfig, pool: ModelPool | None = None) -> dict[str, Model]:
    """Each role's model, loaded once per distinct spec (every spec validated first)."""
    specs = cfg.specs()
    for spec in specs.values():
        BACKENDS.get(parse_spec(spec)[0])
    pool = {} if pool is None else pool
    cache = CallCache() if cfg.cache else None
    models: dict[str, Model] = {}
    for role, spec in specs.items():
        if spec not in pool:
            pool[spec] = load_model(spec)
        models[role] = CachedModel(pool[spec], cache) if cache else pool[spec]
    return models


def paraphraser_of(cfg: EvalConfig, models: dict[str, Model]) -> Paraphraser:
    """The paraphrasing test's paraphraser: a paraphraser spec, or an LLM paraphraser."""
    spec = cfg.paraphraser_spec()
    if spec is None:
        return LLMParaphraser(models["paraphraser"], seed=cfg.seed,
                              max_new_tokens=cfg.max_paraphrase_tokens)
    from faithline.pipeline.paraphrase_specs import get_paraphraser

    pool: dict[str, Model] = {m.spec: m for m in models.values()}
    return get_paraphraser(spec, pool=pool, seed=cfg.seed,
                           max_new_tokens=cfg.max_paraphrase_tokens)


def build_context(cfg: EvalConfig, models: dict[str, Model], task: Task) -> Context:
    settings = Settings(max_cot_tokens=cfg.max_cot_tokens,
                        max_answer_tokens=cfg.max_answer_tokens, temperature=cfg.temperature,
                        top_p=cfg.top_p, seed=cfg.seed, format=cfg.format)
    llm = iter(role for role in models if role.startswith("judge"))
    judges = [RuleJudge() if name == "rule" else LLMJudge(models[next(llm)], seed=cfg.seed)
              for name in cfg.judge_names()]
    return Context(
        model=models["model"], task=task, settings=settings, answer_from=cfg.answer_from,
        prefix_reuse=cfg.prefix_reuse, points=cfg.points, edit_points=cfg.edit_points,
        judge=judges[0], judges=tuple(judges[1:]),
        editor=LLMEditor(models["editor"], seed=cfg.seed) if "editor" in models
        else RuleEditor(seed=cfg.seed),
        paraphraser=paraphraser_of(cfg, models),
    )


def _batches(items: Sequence[Any], size: int) -> list[Sequence[Any]]:
    return [items[i : i + size] for i in range(0, len(items), size)]


def sample_cots(run: Run, ctx: Context, samples: Sequence[Sample], batch_size: int,
                progress: bool) -> dict[str, Transcript]:
    """The CoT transcript (id ``cot:<sample id>``) of every sample, sampling the missing ones."""
    done = {t.id: t for t in run.transcripts() if t.meta.get("test") == "cot"}
    todo = [s for s in samples if f"cot:{s.id}" not in done]
    with tqdm(total=len(samples), initial=len(samples) - len(todo), desc="cot", unit="sample",
              disable=not progress, dynamic_ncols=True) as bar:
        for batch in _batches(todo, batch_size):
            for t in ctx.sample_cots(batch):
                t.id = f"cot:{t.id}"
                t.meta["test"] = "cot"
                run.append(t)
                done[t.id] = t
            bar.update(len(batch))
    return {s.id: done[f"cot:{s.id}"] for s in samples}


def run_test(run: Run, ctx: Context, test: FaithfulnessTest, items: Sequence[Item],
             batch_size: int, progress: bool) -> list[Transcript]:
    """Run ``test`` on the items it has not yet been run on; all its transcripts for ``items``."""
    prefix = f"{test.name}:"
    done = {t.id: t for t in run.transcripts() if t.id.startswith(prefix)}
    todo = [it for it in items if f"{prefix}{it.sample.id}" not in done]
    with tqdm(total=len(items), initial=len(items) - len(todo), desc=test.name, unit="sample",
              disable=not progress, dynamic_ncols=True) as bar:
        for batch in _batches(todo, batch_size):
            for t in test.run(ctx, batch):
                run.append(t)
                done[t.id] = t
            bar.update(len(batch))
    return [done[f"{prefix}{it.sample.id}"] for it in items]


def summary(run: Run) -> str:
    """One line per test with its headline metric and CI (what ``faithline eval`` prints)."""
    m = run.metrics()
    lines = [f"{run.path}: {m.get('cot', {}).get('transcripts', 0)} CoTs"]
    lines += [f"  {name}: {headline_line(name, m.get(name, {}))}" for name in m.get("tests", [])]
    lines += [f"  {name}: skipped ({why})" for name, why in m.get("skipped", {}).items()]
    lines += [f"  WARNING {w['test']} [{w['check']}]: {w['message']}"
              for w in m.get("warnings", [])]
    return "\n".join(lines)


def headline_line(name: str, metrics: Any) -> str:
    """Test ``name``'s headline (its registration's ``headline``) with its CI; for a test that
    registered none (or is no longer registered), its first CI, saying so."""
    key = headline_of(name)
    if key is not None:
        value: Any = metrics
        for part in key.split("."):
            value = value.get(part) if isinstance(value, dict) else None
        return f"{key} {format_ci(value)}" if is_ci(value) else f"{key} not computed"
    found = first_ci(metrics)
    if found is None:
        return "no headline registered, and no CI in its metrics"
    return f"{found[0]} {format_ci(found[1])} (no headline registered: its first CI)"


def is_ci(value: Any) -> bool:
    return isinstance(value, dict) and {"value", "ci_low", "ci_high", "n"} <= set(value)


def first_ci(metrics: Any, prefix: str = "") -> tuple[str, dict[str, Any]] | None:
    """The dotted path and value of the first CI in ``metrics``, depth first, in order."""
    if not isinstance(metrics, dict):
        return None
    for key, value in metrics.items():
        path = f"{prefix}{key}"
        if is_ci(value):
            return path, value
        found = first_ci(value, f"{path}.")
        if found is not None:
            return found
    return None


def format_ci(ci: dict[str, Any]) -> str:
    def num(x: Any) -> str:
        return f"{x:.3f}" if isinstance(x, int | float) else str(x)

    return f"{num(ci['value'])} [{num(ci['ci_low'])}, {num(ci['ci_high'])}] (n={ci['n']})"


def run_eval(cfg: EvalConfig, pool: ModelPool | None = None, progress: bool = True) -> Run:
    """Run ``cfg`` into ``cfg.out`` (creating or resuming it) and write metrics.json."""
    Run.check_out(cfg.out)  # before a model loads
    task = get_task(cfg.task)
    samples = task.samples(cfg.n, seed=cfg.seed)
    tests, skipped = select_tests(cfg, task, samples)
    models = load_models(cfg, pool)
    ctx = build_context(cfg, models, task)
    run = Run.open(cfg.out, "eval", asdict(cfg), seeds={"seed": cfg.seed})
    run.info["task"] = task.describe()
    run.info["eval"] = ctx.describe()
    run.set_models({role: m.info() for role, m in models.items()})
    metrics: dict[str, Any] = {"task": cfg.task, "model": cfg.model,
                               "tests": [t.name for t in tests], "skipped": skipped}
    curves: dict[str, Any] = {}
    with run.working():
        cots = sample_cots(run, ctx, samples, cfg.batch_size, progress)
        metrics["cot"] = summarize(list(cots.values()), [], len(samples))
        items = [ctx.item(s, cots[s.id]) for s in samples]
        for test in tests:
            transcripts = run_test(run, ctx, test, items, cfg.batch_size, progress)
            metrics[test.name], test_curves = test.summarize(transcripts)
            curves.update(test_curves)
        metrics["warnings"] = [w for t in tests for w in metrics[t.name].get("warnings", [])]
        metrics["curves"] = curves
        run.write_metrics(metrics)
    return run
