"""``faithline paraphrase``: add ``paraphrased_cot`` to contract transcripts, failing closed.

    faithline paraphrase --paraphraser canonical runs/cf/transcripts.jsonl --out para.jsonl
    faithline paraphrase --paraphraser context:builtin:smollm2-135m in.jsonl --out para.jsonl

Each output line is the input transcript (unknown keys kept) with ``paraphrased_cot`` and
``meta.paraphrase_fidelity``. A transcript whose paraphrase fails (empty, truncated, refused,
degenerate, low fidelity, answer changed) is not written; it goes to ``OUT.failures.jsonl``
with the reason. The output is appended as it is produced; re-running the same command skips
ids already written. One process writes ``OUT`` at a time (a flock on ``OUT.lock``); a second
one stops with the holder's pid.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

from tqdm import tqdm

from faithline.config import SEED, check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError, ParaphraseError
from faithline.io import (
    append_line,
    check_output,
    load_transcripts,
    read_transcripts,
    repair_jsonl_tail,
)
from faithline.models import Model
from faithline.models.cache import CachedModel, CallCache
from faithline.pipeline.paraphrase_llm import DEFAULT_MIN_FIDELITY
from faithline.pipeline.paraphrase_specs import get_paraphraser, paraphraser_model_specs
from faithline.runs.lock import hold


@dataclass(frozen=True)
class ParaphraseConfig:
    input: str = field(metadata=_help("Transcript JSONL file to paraphrase"))
    out: str = field(metadata=_help("output Transcript JSONL file (resumed if it exists)"))
    paraphraser: str = field(default="canonical", metadata=_help(
        "paraphraser spec: canonical, none, llm:SPEC, context:SPEC, chain:A|B, ensemble:A|B, "
        "checked:READER>P (a reader model checks the answer survives), or a model spec"))
    batch_size: int = field(default=8, metadata=_help("transcripts per batch", ge=1))
    max_new_tokens: int = field(default=512, metadata=_help("token limit of a paraphrase", ge=1))
    min_fidelity: float = field(default=DEFAULT_MIN_FIDELITY, metadata=_help(
        "fail closed below this content fidelity (LLM paraphrasers; the default was chosen on "
        "data, see faithline.pipeline.paraphrase_llm)", ge=0, le=1))
    seed: int = field(default=0, metadata=_help("seed (canonicaliser phrasing, sampling)",
                                                **SEED))
    cache: bool = field(default=True, metadata=_help("cache model calls by content hash"))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above


def paraphrase_file(cfg: ParaphraseConfig, progress: bool = True) -> dict[str, int]:
    """Paraphrase ``cfg.input`` into ``cfg.out``; returns counts (written, skipped, failed).

    Everything is checked before a model loads or a file is touched: the output paths, the
    input, and an existing output (it must be a Transcript JSONL file to resume)."""
    out, failures = Path(cfg.out), Path(cfg.out + ".failures.jsonl")
    for path in (out, failures, Path(cfg.out + ".lock")):
        check_output(path, "file")
    if Path(cfg.input).resolve() == out.resolve():
        raise BadInputError("--out must differ from the input file")
    transcripts = load_transcripts(cfg.input)
    if out.is_file():
        read_transcripts(out, skip_torn_tail=True)
    cache = CallCache() if cfg.cache else None
    from faithline.models import load_model

    pool: dict[str, Model] = {}
    for spec in paraphraser_model_specs(cfg.paraphraser):
        model = load_model(spec)
        pool[spec] = CachedModel(model, cache) if cache else model
    paraphraser = get_paraphraser(cfg.paraphraser, pool, seed=cfg.seed,
                                  max_new_tokens=cfg.max_new_tokens,
                                  min_fidelity=cfg.min_fidelity)
    out.parent.mkdir(parents=True, exist_ok=True)
    lock = hold(cfg.out + ".lock", f"output '{cfg.out}'")  # one writer; released on return
    done = set()
    if out.is_file():
        repair_jsonl_tail(out)
        done = {t.id for t in read_transcripts(out)}
    todo = [t for t in transcripts if t.id not in done]
    counts = {"written": 0, "skipped": len(transcripts) - len(todo), "failed": 0}
    for start in tqdm(range(0, len(todo), cfg.batch_size), disable=not progress,
                      desc=paraphraser.name, unit="batch"):
        batch = todo[start : start + cfg.batch_size]
        results = paraphraser.paraphrase([t.cot for t in batch], [t.prompt for t in batch])
        for t, para in zip(batch, results, strict=True):
            if isinstance(para, ParaphraseError):
                row = {"id": t.id, "kind": para.kind, "error": str(para),
                       "paraphraser": paraphraser.name}
                append_line(failures, json.dumps(row))
                counts["failed"] += 1
                continue
            t.paraphrased_cot = str(para)
            t.meta["paraphrase_fidelity"] = getattr(para, "fidelity", None)
            if stripped := getattr(para, "invisible_stripped", 0):
                t.meta["paraphrase_invisible_stripped"] = stripped
            t.meta["paraphraser"] = paraphraser.name
            append_line(out, t.to_json())
            counts["written"] += 1
    lock.release()
    return counts
