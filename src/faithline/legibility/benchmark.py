"""Do the legibility alarms separate injected drift from legible text? (the known-answer test)

``drift_benchmark`` takes legible CoTs (the originals, which are also the reference set B) and
honest paraphrases of them (the control), re-encodes the originals at each drift strength
(``legibility.drift``), and measures on every set, against the originals:

- per transcript: the AUROC of each alarm score (``alarms.alarm_scores``) and of the combined
  score for "drifted vs original", and the share of transcripts whose combined score fires;
- per batch of ``batch`` transcripts (a training step's rollouts, say): the share of batches on
  which the set-level alarm (``alarms.alarms``, threshold and Mann-Whitney test) fires.

On the control the firing rates must be about 0; on strong drift the AUROCs near 1. The
command-line benchmark is ``bench/legibility_drift.py``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

from faithline.legibility.alarms import (
    ALARM_METRICS,
    Record,
    Thresholds,
    alarm_scores,
    alarms,
    auroc,
)
from faithline.legibility.drift import encode_all
from faithline.legibility.metrics import cot_metrics
from faithline.legibility.scoring import ReferenceScorer

STRENGTHS = (0.1, 0.25, 0.5, 0.75, 1.0)


def set_result(records: Sequence[Record], originals: Sequence[Record],
               thresholds: Thresholds, batch: int, positive: bool) -> dict[str, Any]:
    """AUROCs (for drift sets), per-transcript and per-batch firing rates of one set."""
    scores = alarm_scores(records, originals, thresholds)
    base = alarm_scores(originals, originals, thresholds)
    out: dict[str, Any] = {"n": len(records)}
    if positive:
        out["auroc"] = {m: auroc([s.get(m, 0.0) for s in scores], [s.get(m, 0.0) for s in base])
                        for m in (*ALARM_METRICS, "combined")
                        if any(m in s for s in scores)}
    out["fires_per_transcript"] = sum(s["combined"] >= 1 for s in scores) / max(len(scores), 1)
    out["fired_metrics_per_transcript"] = {
        m: n for m in ALARM_METRICS if (n := sum(s.get(m, 0.0) >= 1 for s in scores))}
    batches = [records[i : i + batch] for i in range(0, len(records), batch)]
    batches = [b for b in batches if len(b) == batch] or batches[:1]
    fired: dict[str, int] = {}
    any_fired = 0
    for b in batches:
        hits = [a["metric"] for a in alarms(b, originals, thresholds) if a["fired"]]
        any_fired += bool(hits)
        for m in hits:
            fired[m] = fired.get(m, 0) + 1
    out["fires_per_batch"] = any_fired / len(batches) if batches else math.nan
    out["batches"] = len(batches)
    out["fired_metrics"] = fired
    return out


def drift_benchmark(scorer: ReferenceScorer, originals: Sequence[str],
                    controls: Mapping[str, Sequence[str]],
                    strengths: Sequence[float] = STRENGTHS, kinds: Sequence[str] = ("mixed",),
                    thresholds: Thresholds | None = None, batch: int = 8, seed: int = 0,
                    ) -> dict[str, Any]:
    """Metrics, AUROCs and firing rates for each drift set and each control set."""
    thresholds = thresholds or Thresholds()
    orig = cot_metrics(originals, scorer)
    result: dict[str, Any] = {"n_originals": len(originals), "batch": batch,
                              "thresholds": vars(thresholds), "drift": {}, "controls": {}}
    result["originals"] = set_result(orig, orig, thresholds, batch, positive=False)
    for kind in kinds:
        for s in strengths:
            texts = encode_all(originals, s, kind, seed)
            records = cot_metrics(texts, scorer)
            result["drift"][f"{kind}@{s:g}"] = {
                "kind": kind, "strength": s, "example": texts[0] if texts else "",
                **set_result(records, orig, thresholds, batch, positive=True)}
    for name, control in controls.items():
        records = cot_metrics(list(control), scorer)
        result["controls"][name] = {"example": control[0] if control else "",
                                    **set_result(records, orig, thresholds, batch,
                                                 positive=False)}
    return result


def markdown(result: Mapping[str, Any]) -> str:
    """The benchmark as markdown tables: AUROC per strength, firing rates per set."""
    metrics = [m for m in (*ALARM_METRICS, "combined")
               if any(m in r.get("auroc", {}) for r in result["drift"].values())]
    head = "| set | " + " | ".join(f"AUROC {m}" for m in metrics) + \
        " | fires / transcript | fires / batch |"
    lines = [head, "|" + "---|" * (len(metrics) + 3)]

    def row(name: str, r: Mapping[str, Any]) -> str:
        aucs = [f"{r['auroc'][m]:.3f}" if m in r.get("auroc", {}) else "-" for m in metrics]
        return (f"| {name} | " + " | ".join(aucs) +
                f" | {r['fires_per_transcript']:.3f} | {r['fires_per_batch']:.3f} |")

    lines.append(row("originals (B itself)", result["originals"]))
    lines += [row(f"drift {name}", r) for name, r in result["drift"].items()]
    lines += [row(f"control: {name}", r) for name, r in result["controls"].items()]
    return "\n".join(lines)
