"""Legibility drift: is the chain of thought still readable language, or sliding into a lingo?

Metrics per transcript (``metrics.cot_metrics``): perplexity under a frozen reference LM,
out-of-vocabulary word share, character-class and script mix, compression ratio, length, and
optionally paraphrase sensitivity (``paraphrase``). Sets are aggregated with bootstrap CIs and
compared (Cliff's delta, Mann-Whitney U); alarms fire by thresholds (``alarms``). Training uses
``legibility_metrics`` or a ``LegibilityTracker`` every N steps, and ``LegibilityReward`` as a
regulariser. ``drift`` makes injected drift and honest controls; ``benchmark`` measures the
alarms on them.

    faithline legibility runs/ckpt/transcripts.jsonl runs/start/transcripts.jsonl --out runs/leg
"""

from faithline.legibility.alarms import Thresholds, aggregate, alarm_scores, alarms, compare
from faithline.legibility.metrics import (
    DEFAULT_REFERENCE,
    cot_metrics,
    get_scorer,
    legibility_metrics,
)
from faithline.legibility.reward import LegibilityReward, LegibilityRewardConfig
from faithline.legibility.scoring import ReferenceScorer
from faithline.legibility.tracker import LegibilityTracker

__all__ = ["DEFAULT_REFERENCE", "LegibilityReward", "LegibilityRewardConfig",
           "LegibilityTracker", "ReferenceScorer", "Thresholds", "aggregate", "alarm_scores",
           "alarms", "compare", "cot_metrics", "get_scorer", "legibility_metrics"]

from faithline.config import COMMANDS

COMMANDS.register("legibility", "faithline.legibility.cli:install")
from faithline.report.html import REPORT_SECTIONS  # noqa: E402

REPORT_SECTIONS.register("legibility", "faithline.legibility.charts:report_section",
                         help="the distributions of every metric, per set, with the alarms")
