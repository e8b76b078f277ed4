"""Legibility during training: the step's CoTs against the starting model's, every N steps.

``LegibilityTracker`` scores a baseline set once (the CoTs of the starting checkpoint, or of a
held-out probe set) and then, for each batch of rollouts, returns flat scalars a trainer can log
(TensorBoard, W&B, the run's files)::

    tracker = LegibilityTracker(start_cots, reference="builtin:smollm2-135m")
    logs = tracker(step_completions)
    # {"legibility/perplexity": 9.1, "legibility/oov_share": 0.04, ...,
    #  "legibility/shift/oov_share": 0.03, "legibility/alarm": 0.0,
    #  "legibility/fired/oov_share": 0.0, ...}

``alarm`` is 1.0 when any alarm fires (``alarms.alarms``: threshold and Mann-Whitney test
against the baseline), and ``fired/<metric>`` says which.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faithline.legibility.alarms import Thresholds, alarms, compare
from faithline.legibility.metrics import (
    DEFAULT_REFERENCE,
    cot_metrics,
    cot_text,
    get_scorer,
    summarize_records,
)


class LegibilityTracker:
    """Legibility metrics and alarms of CoTs against a fixed baseline set."""

    def __init__(self, baseline: Sequence[Any], reference: Any = DEFAULT_REFERENCE,
                 tokenizer: Any = None, thresholds: Thresholds | None = None,
                 prefix: str = "legibility/") -> None:
        self.scorer = get_scorer(reference, tokenizer)
        self.thresholds = thresholds or Thresholds()
        self.prefix = prefix
        self.baseline = cot_metrics([cot_text(b) for b in baseline], self.scorer)

    def __call__(self, transcripts: Sequence[Any]) -> dict[str, float]:
        records = cot_metrics([cot_text(t) for t in transcripts], self.scorer)
        out = {f"{self.prefix}{k}": v for k, v in summarize_records(records).items()}
        comparison = compare(records, self.baseline)
        found = alarms(records, self.baseline, self.thresholds, comparison)
        for a in found:
            out[f"{self.prefix}shift/{a['metric']}"] = float(a["shift"])
            out[f"{self.prefix}fired/{a['metric']}"] = float(a["fired"])
        out[f"{self.prefix}alarm"] = float(any(a["fired"] for a in found))
        return out
