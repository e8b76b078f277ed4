"""The monitor run's section of the HTML report: how each monitor did, as bar charts.

One chart per measure (recall, precision, FPR, g-mean² = TPR x TNR, AUROC), with a row per
monitor (and per input set when there are several) and 95% CI whiskers; with ``--target-fpr``
each row has a second bar at the calibrated threshold. ``faithline.report`` adds the section to
a ``monitor`` run's page (``RUN_SECTIONS`` there) and leaves these numbers out of its generic
metrics charts, so each figure appears once.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from faithline.monitors.benchmark import METRICS
from faithline.report.charts import bar_chart, esc
from faithline.runs import Run

TITLES = {"recall": "recall (share of positives flagged)",
          "precision": "precision (share of flags that are positives)",
          "fpr": "false-positive rate", "gmean2": "g-mean² (TPR × TNR)", "auroc": "AUROC"}


def report_section(run: Run) -> str:
    m = run.metrics()
    monitors = m.get("monitors")
    if not isinstance(monitors, Mapping) or not monitors:
        return ""
    sets = {s for per in monitors.values() if isinstance(per, Mapping) for s in per}
    default: dict[str, Any] = {}
    calibrated: dict[str, Any] = {}
    target = None
    for spec, per in monitors.items():
        for set_name, r in (per.items() if isinstance(per, Mapping) else []):
            row = f"{spec} · {set_name}" if len(sets) > 1 else str(spec)
            default[row] = r
            cal = r.get("calibrated") if isinstance(r, Mapping) else None
            if isinstance(cal, Mapping):
                calibrated[row] = cal
                target = cal.get("target_fpr", target)
    series = ["default threshold"] + ([f"calibrated to FPR ≤ {target}"] if calibrated else [])
    charts = []
    for measure in METRICS:
        both = calibrated and measure != "auroc"  # AUROC does not depend on the threshold
        cis = [{row: r[measure] for row, r in src.items() if isinstance(r.get(measure), Mapping)}
               for src in ([default, calibrated] if both else [default])]
        names = list(dict.fromkeys(n for ci in cis for n in ci))
        if names:
            charts.append(bar_chart(names, cis, series, unit=True, title=TITLES[measure],
                                    labels={n: n for n in names}))
    label = esc(m.get("labels") or "?")
    return (f'<h2 id="monitors">Monitors against the label <code>{label}</code></h2>'
            f'<p class="muted">{esc(m.get("transcripts"))} transcripts, '
            f'{esc(m.get("positives"))} positive. Bars are values, whiskers 95% bootstrap CIs; '
            "the table under Metrics has every number.</p>"
            f'<div class="charts">{"".join(charts)}</div>')
