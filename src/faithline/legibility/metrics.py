"""Per-transcript legibility metrics, and ``legibility_metrics`` for rollouts during training.

``cot_metrics(cots, scorer, vocab)`` gives one flat record per CoT: the text metrics of
``legibility.text`` plus ``tokens`` (reference tokens), ``nll`` (mean negative log-likelihood
per token, nats, under the frozen reference LM) and ``perplexity`` (``exp(nll)``), and
``scripts`` (the letter share per script).

``legibility_metrics(transcripts, reference=...)`` is the one call a training callback makes
every N steps on the step's rollouts::

    from faithline.legibility import legibility_metrics
    logs = legibility_metrics(completions, reference="builtin:smollm2-135m")
    # {"perplexity": 7.9, "nll": 2.07, "oov_share": 0.02, ...}

It takes transcripts, transcript dicts or plain CoT strings; the reference is a spec (loaded
once per process and kept), an ``HFModel``, a ``ReferenceScorer`` or a torch model with its
``tokenizer``. Values are means over the CoTs, except ``perplexity``, the median (one runaway
CoT should not decide the number).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from faithline.errors import BadInputError
from faithline.legibility.scoring import ReferenceScorer
from faithline.legibility.text import Vocabulary, scripts, text_metrics
from faithline.types import Transcript

DEFAULT_REFERENCE = "builtin:smollm2-135m"
# The per-transcript numbers aggregated over a set (``scripts`` is aggregated on its own).
NUMERIC = ("perplexity", "nll", "tokens", "oov_share", "non_latin_share", "unusual_char_share",
           "compression_ratio", "chars", "words", "letter_share", "digit_share", "space_share",
           "punct_share", "symbol_share", "other_share", "paraphrase_changed", "invisible_chars")
MEDIAN_METRICS = frozenset({"perplexity"})
_SCORERS: dict[str, ReferenceScorer] = {}


def get_scorer(reference: Any, tokenizer: Any = None, **options: Any) -> ReferenceScorer:
    """A ``ReferenceScorer`` for ``reference``; a spec string is loaded once per process."""
    if isinstance(reference, str):
        key = f"{reference}|{sorted(options.items())}"
        if key not in _SCORERS:
            _SCORERS[key] = ReferenceScorer.load(reference, **options)
        return _SCORERS[key]
    return ReferenceScorer.load(reference, tokenizer, **options)


def cot_text(item: Any) -> str:
    """The CoT of a transcript, a transcript dict, or a plain string."""
    if isinstance(item, str):
        return item
    if isinstance(item, Transcript):
        return item.cot
    if isinstance(item, Mapping) and isinstance(item.get("cot"), str):
        return str(item["cot"])
    raise BadInputError(f"legibility: expected a transcript or a CoT string, got "
                        f"{type(item).__name__}" + (" without 'cot'"
                                                    if isinstance(item, Mapping) else ""))


def cot_metrics(cots: Sequence[str], scorer: ReferenceScorer, vocab: Vocabulary | None = None,
                contexts: Sequence[str] | None = None) -> list[dict[str, Any]]:
    """One record per CoT: text metrics, reference NLL and perplexity, script mix."""
    vocab = vocab if vocab is not None else scorer.vocab
    scored = scorer.token_logprobs(cots, contexts)
    records = []
    for cot, s in zip(cots, scored, strict=True):
        nll = s.nll
        records.append({
            "tokens": float(s.tokens),
            "nll": nll,
            "perplexity": math.exp(nll) if math.isfinite(nll) else math.nan,
            **text_metrics(cot, vocab),
            "scripts": scripts(cot),
        })
    return records


def summarize_records(records: Sequence[Mapping[str, Any]]) -> dict[str, float]:
    """Mean of each numeric metric over records (median for perplexity); NaNs are skipped."""
    out: dict[str, float] = {}
    for name in NUMERIC:
        vals = [float(r[name]) for r in records
                if isinstance(r.get(name), (int, float)) and math.isfinite(float(r[name]))]
        if vals:
            out[name] = float(np.median(vals) if name in MEDIAN_METRICS else np.mean(vals))
    out["n"] = float(len(records))
    return out


def legibility_metrics(transcripts: Sequence[Any], reference: Any = DEFAULT_REFERENCE, *,
                       tokenizer: Any = None, vocab: Vocabulary | None = None
                       ) -> dict[str, float]:
    """Aggregate legibility of ``transcripts`` (see the module docstring)."""
    scorer = get_scorer(reference, tokenizer)
    cots = [cot_text(t) for t in transcripts]
    return summarize_records(cot_metrics(cots, scorer, vocab))
