"""Feature activations over CoT tokens, as self-contained HTML (inline SVG, no scripts).

``descriptions_html`` renders ``descriptions.json`` with, per unit: its description and scores
against the shuffled baseline, its top exemplars as token strips shaded by activation, and an
SVG of the unit's activation over every token of its most activating transcript (the CoT span
shaded). ``faithline interp describe`` writes it next to the JSON as ``descriptions.html``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from faithline.interp.align import COT
from faithline.report.charts import esc, fmt

STYLE = """body{font:14px system-ui,sans-serif;margin:24px;max-width:1100px;color:#222}
.unit{border:1px solid #ddd;border-radius:8px;padding:12px 16px;margin:14px 0}
.strip{font-family:ui-monospace,monospace;white-space:pre-wrap;margin:4px 0;line-height:1.7}
.strip span{border-radius:3px}.muted{color:#777}.tick{font-size:10px;fill:#555}
.axis{stroke:#ccc}"""


def token_strip(tokens: Sequence[str], acts: Sequence[float], scale: float) -> str:
    """Tokens as spans shaded by activation (orange, 0 to ``scale``), values on hover."""
    out = []
    for tok, a in zip(tokens, acts, strict=True):
        alpha = min(max(a / scale, 0.0), 1.0) if scale > 0 else 0.0
        shown = tok.replace("\n", "⏎")
        out.append(f'<span style="background:rgba(224,134,47,{alpha:.2f})" '
                   f'title="{fmt(float(a))}">{esc(shown)}</span>')
    return f'<div class="strip">{"".join(out)}</div>'


def activation_svg(tokens: Sequence[str], acts: np.ndarray, segment: np.ndarray,
                   title: str, width: int = 1000, height: int = 160) -> str:
    """Bars of a unit's activation at every token; the CoT tokens on a shaded band."""
    n = len(tokens)
    ml, mr, mt, mb = 40, 8, 22, 18
    top = float(max(acts.max(initial=0.0), 1e-6))
    bw = (width - ml - mr) / max(n, 1)

    def py(v: float) -> float:
        return height - mb - (height - mt - mb) * max(v, 0.0) / top

    out = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img">',
           f'<text x="{ml}" y="14" font-size="12" font-weight="600">{esc(title)}</text>']
    cot = np.flatnonzero(segment == COT)
    if cot.size:
        x0, x1 = ml + bw * cot[0], ml + bw * (cot[-1] + 1)
        out.append(f'<rect x="{x0:.1f}" y="{mt}" width="{x1 - x0:.1f}" '
                   f'height="{height - mt - mb}" fill="#3b6fd8" fill-opacity="0.08"/>'
                   f'<text class="tick" x="{x0 + 3:.1f}" y="{mt + 10}">CoT</text>')
    out.append(f'<line class="axis" x1="{ml}" x2="{width - mr}" y1="{py(0):.1f}" '
               f'y2="{py(0):.1f}"/><text class="tick" x="{ml - 4}" y="{mt + 8}" '
               f'text-anchor="end">{esc(fmt(top))}</text>')
    for i, (tok, a) in enumerate(zip(tokens, acts, strict=True)):
        if a > 0:
            y = py(float(a))
            out.append(f'<rect x="{ml + bw * i:.1f}" y="{y:.1f}" width="{max(bw - 0.5, 0.5):.1f}"'
                       f' height="{py(0) - y:.1f}" fill="#e0862f"><title>{esc(tok)}: '
                       f'{esc(fmt(float(a)))}</title></rect>')
    out.append("</svg>")
    return "".join(out)


def descriptions_html(result: dict[str, Any],
                      traces: dict[int, tuple[Any, np.ndarray, np.ndarray]]) -> str:
    """The page for one ``describe_units`` result; ``traces[unit]`` = (record, the unit's
    activations, segments) of the unit's most activating transcript."""
    s = result["summary"]

    def line(key: str) -> str:
        d = s[key]
        return (f"{esc(key)}: described {esc(fmt(d['described']['value']))}, shuffled "
                f"{esc(fmt(d['shuffled']['value']))}, difference "
                f"{esc(fmt(d['difference']['value']))} "
                f"[{esc(fmt(d['difference']['ci_low']))}, {esc(fmt(d['difference']['ci_high']))}]")

    parts = [f"<!doctype html><meta charset='utf-8'><title>Unit descriptions</title>"
             f"<style>{STYLE}</style><h1>Unit descriptions</h1>"
             f"<p class='muted'>{esc(result['kind'])}s of {esc(result['path'])} in "
             f"{esc(result['store'])}; explainer {esc(result['explainer'])}, scorer "
             f"{esc(result['scorer'])}</p><p>{line('detection_auroc')}<br>"
             f"{line('simulation_r')}</p>"]
    for row in result["units"]:
        u = row["unit"]
        scale = float(row.get("max_activation") or 0.0)
        parts.append(f"<div class='unit'><h3>Unit {u}: {esc(row['description'] or '—')}</h3>"
                     f"<p class='muted'>detection AUROC {esc(fmt(row['detection_auroc']))} "
                     f"(shuffled {esc(fmt(row['shuffled']['detection_auroc']))}), simulation r "
                     f"{esc(fmt(row['simulation_r']))} (shuffled "
                     f"{esc(fmt(row['shuffled']['simulation_r']))})</p>")
        for ex in row.get("top_exemplars", [])[:4]:
            parts.append(token_strip(ex["tokens"], ex["acts"], scale))
        if u in traces:
            rec, acts, segment = traces[u]
            parts.append(activation_svg(rec.tokens, acts, segment,
                                        f"unit {u} over transcript {rec.id}"))
        parts.append("</div>")
    return "".join(parts)
