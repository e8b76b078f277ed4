"""Monitors: read transcripts and flag misbehaviour, behind one interface.

    >>> from faithline.monitors import get_monitor, apply_monitors     # doctest: +SKIP
    >>> leak = get_monitor("rule:leak")                                 # doctest: +SKIP
    >>> verdicts = leak(transcripts)  # one Verdict(score, flag, reason, failed) each
    >>> apply_monitors([leak], transcripts)  # also stores t.monitor["rule:leak"]

Kinds (spec strings, see ``specs.py``): rule monitors (``rules.py``), the LLM judge over any
model spec with a CoT+answer and an answer-only view (``llm_judge.py``), a trained scikit-learn
classifier (``classifier.py``), ensembles (``ensemble.py``), a paraphrase-before wrapper
(``paraphrased.py``) and stored verdicts (``stored.py``). ``metrics.py`` computes recall,
precision, FPR, g-mean² and AUROC with bootstrap CIs and calibrates thresholds to a target FPR;
``benchmark.py`` is ``faithline monitor``. Monitors fail closed: a verdict that could not be
reached is ``failed`` (and flagged), never "not flagged".
"""

from __future__ import annotations

from typing import Any

from faithline.monitors.base import Monitor, Verdict, apply_monitors
from faithline.monitors.specs import get_monitor


def calibrate(monitor: Monitor, transcripts: Any, label: str,
              target_fpr: float) -> dict[str, Any]:
    """Set ``monitor.threshold`` to the lowest threshold with FPR <= ``target_fpr`` on these
    labelled transcripts; returns the threshold and the metrics there (bootstrap CIs)."""
    from faithline.monitors.metrics import arrays, binary_metrics, labels_of, threshold_for_fpr

    labels = labels_of(transcripts, label)
    scores, _, failed = arrays(monitor(transcripts))
    t = threshold_for_fpr(scores, labels, target_fpr)
    monitor.threshold = t
    return {"threshold": t, "target_fpr": target_fpr,
            **binary_metrics(scores, failed | (scores >= t), labels)}


__all__ = ["Monitor", "Verdict", "apply_monitors", "calibrate", "get_monitor"]

from faithline.config import COMMANDS  # noqa: E402

COMMANDS.register("monitor", "faithline.monitors.cli:install_monitor")
COMMANDS.register("monitor-train", "faithline.monitors.cli:install_train")
from faithline.report.html import REPORT_SECTIONS  # noqa: E402

REPORT_SECTIONS.register("monitor", "faithline.monitors.report:report_section",
                         help="the monitor table and ROC curves", shows=("monitors.",))
