"""``faithline legibility``: legibility metrics of a transcript set, compared with another.

    faithline legibility runs/ckpt/transcripts.jsonl runs/start/transcripts.jsonl \\
        --reference builtin:smollm2-135m --out runs/legibility
    faithline legibility A.jsonl                          # one set: absolute limits, in
                                                          # runs/legibility/A
    faithline legibility A.jsonl B.jsonl --paraphraser canonical --out runs/leg-para

A is the set under test (a checkpoint's transcripts), B the baseline (its start). Every CoT gets
its metrics (``legibility`` key of each transcript in ``OUT/transcripts.jsonl``, id prefixed
``A:`` or ``B:``): perplexity under the frozen reference LM, out-of-vocabulary word share,
character classes and scripts, compression ratio, length and, with ``--paraphraser``, whether
the answer survives a paraphrase. ``metrics.json`` holds each set's values with bootstrap 95%
CIs, the comparison (Cliff's delta, Mann-Whitney U) and the alarms: which metric fired and by how
much (thresholds: ``--perplexity-ratio``, ``--oov-increase``, ...; without B, absolute limits).
``report.html`` shows each metric's distribution in A and B against its alarm threshold.
Re-running the same command resumes; thresholds may change between runs (alarms are recomputed,
nothing is rescored).

From Python: ``run_legibility(LegibilityConfig(a="A.jsonl", b="B.jsonl", out="runs/x"))``.
"""

from __future__ import annotations

import math
from collections.abc import MutableMapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

from tqdm import tqdm

from faithline.config import SEED, check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError
from faithline.io import input_name, load_transcripts
from faithline.legibility.alarms import (
    ALARM_METRICS,
    Thresholds,
    aggregate,
    alarms,
    compare,
)
from faithline.legibility.metrics import DEFAULT_REFERENCE, cot_metrics, get_scorer
from faithline.legibility.records import records_by_set
from faithline.legibility.scoring import ReferenceScorer
from faithline.legibility.text import Vocabulary
from faithline.models import Model, load_model
from faithline.runs import Run
from faithline.types import Transcript

CONTEXTS = ("none", "prompt", "chat")
HEADLINE = ("perplexity", "oov_share", "non_latin_share", "unusual_char_share",
            "compression_ratio", "tokens", "chars", "paraphrase_changed", "invisible_chars")
CLASS_SHARES = ("letter_share", "digit_share", "space_share", "punct_share", "symbol_share",
                "other_share")



@dataclass(frozen=True)
class LegibilityConfig:
    """Settings of one ``legibility`` run (what the per-transcript metrics depend on)."""

    a: str = field(metadata=_help("Transcript JSONL under test (A, e.g. a checkpoint)"))
    out: str = field(default="", metadata=_help(
        "run directory; re-running the same command resumes it (default: "
        "runs/legibility/<A>[-vs-<B>], named after the input files)"))
    b: str | None = field(default=None, metadata=_help(
        "baseline Transcript JSONL (B, e.g. the starting model); without it, absolute limits"))
    reference: str = field(default=DEFAULT_REFERENCE, metadata=_help(
        "frozen reference LM that reads the CoTs (a local model spec: builtin:, hf:, gguf:)"))
    context: str = field(default="none", metadata=_help(
        "what the reference reads before the CoT: none (the CoT alone), prompt (the raw "
        "prompt), chat (the prompt in the reference's chat template)"))
    vocab: str | None = field(default=None, metadata=_help(
        "word-list file (one word a line) for the out-of-vocabulary share; default: the "
        "whole-word entries of the reference's tokenizer"))
    paraphraser: str | None = field(default=None, metadata=_help(
        "paraphraser spec for paraphrase sensitivity (canonical, llm:SPEC, ...); off if unset"))
    answerer: str | None = field(default=None, metadata=_help(
        "model that reads answers for paraphrase sensitivity (default: the reference)"))
    max_answer_tokens: int = field(default=16, metadata=_help("token limit of a read answer",
                                                              ge=1))
    max_paraphrase_tokens: int = field(default=512, metadata=_help(
        "token limit of a paraphrase", ge=1))
    batch_size: int = field(default=32, metadata=_help(
        "transcripts scored per batch (and per checkpoint)", ge=1))
    seed: int = field(default=0, metadata=_help("seed of paraphrases and answer reading", **SEED))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above
        if self.context not in CONTEXTS:
            raise BadInputError(f"--context must be one of {', '.join(CONTEXTS)}")


def _contexts(cfg: LegibilityConfig, scorer: ReferenceScorer,
              batch: Sequence[Transcript]) -> list[str] | None:
    if cfg.context == "none":
        return None
    if cfg.context == "prompt":
        return [t.prompt.rstrip() + "\n\n" for t in batch]
    tok = scorer.tokenizer
    if not getattr(tok, "chat_template", None):
        raise BadInputError(f"--context chat: reference '{cfg.reference}' has no chat template")
    return [str(tok.apply_chat_template([{"role": "user", "content": t.prompt}],
                                        tokenize=False, add_generation_prompt=True))
            for t in batch]


class Scorers:
    """The models a run needs, each loaded once: the reference, the answerer, the paraphraser."""

    def __init__(self, cfg: LegibilityConfig, pool: MutableMapping[str, Model]) -> None:
        self.pool = pool
        self.reference = self._model(cfg.reference)
        self.scorer = get_scorer(self.reference)
        self.vocab = Vocabulary.from_file(cfg.vocab) if cfg.vocab else self.scorer.vocab
        self.paraphraser: Any = None
        self.answerer: Model | None = None
        if cfg.paraphraser:
            from faithline.pipeline.paraphrase_specs import get_paraphraser

            self.answerer = self._model(cfg.answerer or cfg.reference)
            self.paraphraser = get_paraphraser(cfg.paraphraser, pool, seed=cfg.seed,
                                               max_new_tokens=cfg.max_paraphrase_tokens)

    def _model(self, spec: str) -> Model:
        if spec not in self.pool:
            self.pool[spec] = load_model(spec)
        return self.pool[spec]


def score_set(run: Run, cfg: LegibilityConfig, models: Scorers, label: str,
              transcripts: Sequence[Transcript], progress: bool) -> None:
    """Append the metrics of every transcript of one set not yet in the run."""
    done = run.done_ids()
    todo = [t for t in transcripts if f"{label}:{t.id}" not in done]
    with tqdm(total=len(transcripts), initial=len(transcripts) - len(todo), unit="CoT",
              desc=f"legibility {label}", disable=not progress, dynamic_ncols=True) as bar:
        for start in range(0, len(todo), cfg.batch_size):
            batch = todo[start : start + cfg.batch_size]
            records = cot_metrics([t.cot for t in batch], models.scorer, models.vocab,
                                  _contexts(cfg, models.scorer, batch))
            if models.paraphraser is not None and models.answerer is not None:
                from faithline.legibility.paraphrase_sensitivity import paraphrase_sensitivity

                sens = paraphrase_sensitivity(batch, models.paraphraser, models.answerer,
                                              cfg.max_answer_tokens, cfg.seed)
                for r, s in zip(records, sens, strict=True):
                    r.update(s)
            for t, r in zip(batch, records, strict=True):
                row = Transcript.from_dict(t.to_dict())
                row.id = f"{label}:{t.id}"
                row.extra["legibility"] = {"set": label, **_jsonable(r)}
                run.append(row)
            bar.update(len(batch))


def _jsonable(record: dict[str, Any]) -> dict[str, Any]:
    """NaN is not JSON: write it as null."""
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in record.items()}


def build_metrics(cfg: LegibilityConfig, thresholds: Thresholds,
                  sets: dict[str, list[dict[str, Any]]], vocab_source: str) -> dict[str, Any]:
    """Aggregates, comparison and alarms of the scored sets, as written to metrics.json."""
    a, b = sets.get("A", []), sets.get("B")
    aggs = {label: aggregate(recs) for label, recs in sets.items()}
    m: dict[str, Any] = {
        "reference": cfg.reference, "context": cfg.context, "vocabulary": vocab_source,
        "sets": {"A": {"path": cfg.a, "n": len(a)},
                 **({"B": {"path": cfg.b, "n": len(b)}} if b is not None else {})},
    }
    for metric in HEADLINE:
        cis = {label: agg[metric] for label, agg in aggs.items() if metric in agg}
        if cis:
            m[metric] = cis
    m["char_classes"] = {label: {k: agg[k] for k in CLASS_SHARES if k in agg}
                         for label, agg in aggs.items()}
    m["scripts"] = {label: agg["scripts"] for label, agg in aggs.items()}
    failed = sum(1 for r in a + (b or []) if r.get("paraphrase_failed"))
    if cfg.paraphraser:
        m["paraphrases_failed"] = failed
    comparison = compare(a, b) if b is not None else None
    if comparison is not None:
        m["comparison"] = [{"metric": k, **v} for k, v in comparison.items()]
        m["comparison_table"] = comparison_table(comparison)
    found = alarms(a, b, thresholds, comparison)
    m["alarms"] = found
    m["alarm"] = any(x["fired"] for x in found)
    m["fired"] = [x["metric"] for x in found if x["fired"]]
    m["alarm_table"] = alarm_table(found)
    return m


def comparison_table(comparison: dict[str, Any]) -> str:
    lines = ["| metric | A | B | shift | Cliff's delta | Mann-Whitney U | p |",
             "|---|---|---|---|---|---|---|"]
    for metric, r in comparison.items():
        s = f"{r['shift']:+.3f} ({r['shift_kind']})" if "shift" in r else "-"
        lines.append(f"| {metric} | {r['a']:.4g} | {r['b']:.4g} | {s} | {r['cliffs_delta']:+.3f}"
                     f" | {r['mann_whitney_u']:.1f} | {r['p_value']:.2g} |")
    return "\n".join(lines)


def alarm_table(found: Sequence[dict[str, Any]]) -> str:
    lines = ["| alarm | fired | detail |", "|---|---|---|"]
    lines += [f"| {x['metric']} | {'FIRED' if x['fired'] else 'no'} | {x['message']} |"
              for x in found]
    return "\n".join(lines)


def summary(run: Run) -> str:
    """A few lines for stdout: each headline metric in A (and B), then the alarms."""
    m = run.metrics()
    sets = m.get("sets", {})
    head = f"{run.path}: A={sets.get('A', {}).get('path')} (n={sets.get('A', {}).get('n')})"
    if "B" in sets:
        head += f" vs B={sets['B']['path']} (n={sets['B']['n']})"
    lines = [head + f", reference {m.get('reference')}"]
    for metric in (*ALARM_METRICS, "chars"):
        cis = m.get(metric)
        if not cis:
            continue
        cells = [f"{label} {c['value']:.3g} [{c['ci_low']:.3g}, {c['ci_high']:.3g}]"
                 for label, c in cis.items()]
        lines.append(f"  {metric:20s} " + "   ".join(cells))
    fired = [x for x in m.get("alarms", []) if x["fired"]]
    if fired:
        lines.append(f"ALARM: {len(fired)} of {len(m['alarms'])} fired")
        lines += [f"  {x['message']}" for x in fired]
    else:
        lines.append(f"no alarm ({len(m.get('alarms', []))} checked)")
    return "\n".join(lines)


def default_out(cfg: LegibilityConfig) -> str:
    """``runs/legibility/<A>`` or ``runs/legibility/<A>-vs-<B>``; a file ``RUN/transcripts.jsonl``
    is named after its run directory."""
    return f"runs/legibility/{input_name(cfg.a)}" + (f"-vs-{input_name(cfg.b)}" if cfg.b else "")


def run_legibility(cfg: LegibilityConfig, thresholds: Thresholds | None = None,
                   pool: MutableMapping[str, Model] | None = None,
                   progress: bool = True) -> Run:
    """Score ``cfg.a`` (and ``cfg.b``) into ``cfg.out``, then write metrics and the report."""
    from faithline.legibility.charts import write_report

    thresholds = thresholds or Thresholds()
    if not cfg.out:
        cfg = replace(cfg, out=default_out(cfg))
    Run.check_out(cfg.out)  # before a model loads
    inputs = {"A": load_transcripts(cfg.a)}
    if cfg.b is not None:
        inputs["B"] = load_transcripts(cfg.b)
    models = Scorers(cfg, {} if pool is None else pool)
    run = Run.open(cfg.out, "legibility", asdict(cfg), seeds={"seed": cfg.seed})
    run.info["thresholds"] = asdict(thresholds)
    run.set_models({"reference": {**models.reference.info(), **models.scorer.info()},
                    **({"answerer": models.answerer.info()} if models.answerer else {})})
    with run.working():
        for label, ts in inputs.items():
            score_set(run, cfg, models, label, ts, progress)
        run.write_metrics(build_metrics(cfg, thresholds, records_by_set(run),
                                        models.vocab.source))
    write_report(run, thresholds)
    return run
