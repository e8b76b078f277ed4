"""The legibility report: the run's standard HTML report with a distributions section on top.

One panel per alarm metric: every CoT of A and of B as a dot (jittered), the interquartile box
and the median, and the alarm threshold as a dashed line where the metric has one, with the
alarm's verdict in the panel's title. Perplexity is drawn on a log axis. The section goes
before the report's metrics; everything else is ``faithline.report``'s page.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from faithline.legibility.alarms import ALARM_METRICS, Thresholds, center, values
from faithline.legibility.records import records_by_set
from faithline.report.charts import color, esc, fmt
from faithline.runs import Run

PANEL_METRICS = (*ALARM_METRICS, "chars")
LOG_METRICS = frozenset({"perplexity"})
SET_COLORS = {"A": color(1), "B": color(0)}
W, LEFT, RIGHT, ROW = 460, 34, 16, 44


def _nice_ticks(lo: float, hi: float, log: bool) -> list[float]:
    if log:
        ticks = [m * 10.0**k for k in range(math.floor(math.log10(lo)), math.ceil(
            math.log10(hi)) + 1) for m in (1, 2, 5)]
        return [t for t in ticks if lo <= t <= hi] or [lo, hi]
    span = hi - lo or 1.0
    step = 10 ** math.floor(math.log10(span / 4))
    step = next(s * step for s in (1, 2, 2.5, 5, 10) if span / (s * step) <= 5)
    first = math.ceil(lo / step) * step
    return [first + i * step for i in range(int((hi - first) / step) + 1)]


def threshold_line(metric: str, sets: Mapping[str, Sequence[Mapping[str, Any]]],
                   thresholds: Thresholds) -> float | None:
    """Where the alarm threshold lies in the metric's own units, if it has one."""
    if "B" not in sets:
        limit = thresholds.absolute(metric)
        return limit or None
    base = center(metric, values(sets["B"], metric))
    limit = thresholds.relative(metric)
    if not limit or not math.isfinite(base):
        return None
    if metric == "perplexity":
        return base * math.exp(limit)
    if metric == "compression_ratio":
        return base * (1 + limit)
    return base + limit


def panel(metric: str, sets: Mapping[str, Sequence[Mapping[str, Any]]], line: float | None,
          verdict: Mapping[str, Any] | None) -> str:
    """One metric's distributions in A and B as an SVG panel."""
    data = {label: values(recs, metric) for label, recs in sets.items()}
    log = metric in LOG_METRICS
    allv = np.concatenate([v for v in data.values() if v.size] or [np.zeros(1)])
    if log:
        allv = allv[allv > 0] if (allv > 0).any() else np.ones(1)
    lo, hi = float(allv.min()), float(allv.max())
    if line is not None:
        lo, hi = min(lo, line), max(hi, line)
    if log:
        lo, hi = lo / 1.2, hi * 1.2
    else:
        pad = (hi - lo) * 0.05 or 0.05
        lo, hi = lo - pad, hi + pad
    tf: Callable[[float], float] = (lambda v: math.log10(max(v, 1e-12))) if log else float

    def x(v: float) -> float:
        return LEFT + (W - LEFT - RIGHT) * (tf(v) - tf(lo)) / ((tf(hi) - tf(lo)) or 1)

    height = 30 + ROW * len(data) + 24
    out = [f'<svg viewBox="0 0 {W} {height}" width="{W}" role="img">']
    for t in _nice_ticks(lo, hi, log):
        out.append(f'<line class="axis" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="26" '
                   f'y2="{height - 22}"/><text class="tick" x="{x(t):.1f}" y="{height - 8}" '
                   f'text-anchor="middle">{esc(fmt(t) if not log else f"{t:g}")}</text>')
    for row, (label, vals) in enumerate(data.items()):
        y0 = 30 + row * ROW
        c = SET_COLORS.get(label, color(row + 2))
        out.append(f'<text x="{LEFT - 8}" y="{y0 + ROW / 2 + 4:.1f}" text-anchor="end" '
                   f'font-weight="600" fill="{c}">{esc(label)}</text>')
        if vals.size == 0:
            continue
        q1, med, q3 = np.quantile(vals, [0.25, 0.5, 0.75])
        out.append(f'<rect x="{x(q1):.1f}" y="{y0 + 6}" width="{max(x(q3) - x(q1), 1):.1f}" '
                   f'height="{ROW - 12}" fill="{c}" fill-opacity="0.15" stroke="{c}"/>'
                   f'<line x1="{x(med):.1f}" x2="{x(med):.1f}" y1="{y0 + 4}" y2="{y0 + ROW - 4}"'
                   f' stroke="{c}" stroke-width="3"><title>{esc(label)} median '
                   f'{esc(fmt(float(med)))}</title></line>')
        for i, v in enumerate(vals.tolist()):
            jitter = ((i * 0.6180339887) % 1.0) * (ROW - 18) + 9
            out.append(f'<circle cx="{x(v):.1f}" cy="{y0 + jitter:.1f}" r="2.6" fill="{c}" '
                       f'fill-opacity="0.65"><title>{esc(fmt(v))}</title></circle>')
    if line is not None:
        right = x(line) > W * 0.7  # label on the side with room
        out.append(f'<line x1="{x(line):.1f}" x2="{x(line):.1f}" y1="22" y2="{height - 22}" '
                   f'stroke="#c4435b" stroke-width="1.5" stroke-dasharray="5 3"/>'
                   f'<text x="{x(line) + (-3 if right else 3):.1f}" y="20" font-size="11" '
                   f'fill="#c4435b" text-anchor="{"end" if right else "start"}">'
                   f'alarm {esc(fmt(line))}</text>')
    out.append("</svg>")
    badge = ""
    if verdict is not None:
        cls, word = ("b-bad", "ALARM") if verdict["fired"] else ("b-ok", "ok")
        badge = (f' <span class="badge {cls}" title="{esc(verdict["message"])}">{word}</span>'
                 f' <span class="muted">{esc(verdict["message"])}</span>')
    scale = " (log scale)" if log else ""
    return (f'<div class="panel"><h4>{esc(metric)}{scale}{badge}</h4>{"".join(out)}</div>')


def distributions_section(sets: Mapping[str, Sequence[Mapping[str, Any]]],
                          alarms: Sequence[Mapping[str, Any]], thresholds: Thresholds) -> str:
    verdicts = {a["metric"]: a for a in alarms}
    panels = [panel(m, sets, threshold_line(m, sets, thresholds), verdicts.get(m))
              for m in PANEL_METRICS if any(values(r, m).size for r in sets.values())]
    fired = [a for a in alarms if a["fired"]]
    head = (f'<p><span class="badge b-bad">ALARM</span> {len(fired)} of {len(alarms)} '
            f'legibility alarms fired: {esc(", ".join(a["metric"] for a in fired))}</p>'
            if fired else f'<p><span class="badge b-ok">no alarm</span> {len(alarms)} '
            "legibility alarms checked</p>")
    return (f'<h2 id="legibility">Legibility: A against B</h2>{head}'
            f'<p class="muted">Each dot is one CoT; boxes span the middle half, the thick line '
            f'is the median; the dashed line is where the alarm fires.</p>'
            f'<div class="charts">{"".join(panels)}</div>')


def report_section(run: Run) -> str:
    """The distributions section of a ``faithline legibility`` run; ``faithline.report`` adds it
    to the run's page (see ``RUN_SECTIONS`` there), so ``faithline report RUN`` keeps it."""
    thresholds = Thresholds(**run.info.get("thresholds", {}))
    sets = dict(sorted(records_by_set(run).items()))
    return distributions_section(sets, run.metrics().get("alarms", []), thresholds)


def write_report(run: Run, thresholds: Thresholds) -> Path:
    """``RUN/report.html``: the standard report, which includes :func:`report_section`."""
    from faithline.report import write_report as write_standard

    return write_standard([run.path])
