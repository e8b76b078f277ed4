"""Legibility drift: is the chain of thought still readable language, or sliding into a lingo?

Metrics per transcript (``metrics.cot_metrics``): perplexity under a frozen reference LM,
out-of-vocabulary word share, character-class and script mix, compression ratio, length, and
optionally paraphrase sensitivity (``paraphrase``). Sets are aggregated with bootstrap CIs and
compared (Cliff's delta, Mann-Whitney U); alarms fire by thresholds (``alarms``). Training uses
``legibility_metrics`` every N steps and ``LegibilityReward`` as a regulariser (``reward``).

    faithline legibility runs/ckpt/transcripts.jsonl runs/start/transcripts.jsonl --out runs/leg
"""

from faithline.legibility.alarms import Thresholds, aggregate, alarm_scores, alarms, compare
from faithline.legibility.metrics import DEFAULT_REFERENCE, cot_metrics, legibility_metrics

__all__ = ["DEFAULT_REFERENCE", "Thresholds", "aggregate", "alarm_scores", "alarms", "compare",
           "cot_metrics", "legibility_metrics"]
