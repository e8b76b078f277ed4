"""Inline SVG charts for the HTML report (no matplotlib, no external files) and the small
formatting helpers they share with ``report/html.py``: bar charts with CI whiskers per metric
family, line charts for ``metrics["curves"]``."""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

from faithline.invisible import reveal

PALETTE = ("#3b6fd8", "#e0862f", "#2e9d6a", "#c4435b", "#8a5cc7", "#6b7785")


def esc(x: Any) -> str:
    """HTML-escaped text with invisible characters shown as marks (``⟨U+202E⟩``): a bidi
    override in a name or a value cannot reorder what the page shows."""
    return html.escape(reveal(str(x)), quote=True)



def color(i: int) -> str:
    return PALETTE[i % len(PALETTE)]



def fmt(x: Any) -> str:
    """Values for people: two decimals for ordinary floats, three significant digits else;
    ``yes``/``no`` for booleans and ``—`` for a missing value (never Python's ``None``)."""
    if x is None:
        return "—"
    if isinstance(x, bool):
        return "yes" if x else "no"
    if not isinstance(x, (int, float)):
        return str(x)
    if isinstance(x, int):
        return str(x)
    if math.isnan(x):
        return "n/a"
    if x == 0 or 0.01 <= abs(x) < 1e4:
        return f"{x:.2f}"
    return f"{x:.3g}"



def ci_text(m: Mapping[str, Any]) -> str:
    n = f" (n={m['n']})" if "n" in m else ""
    return f"{fmt(m['value'])} [{fmt(m['ci_low'])}, {fmt(m['ci_high'])}]{n}"



def middle_cut(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else its start and end around an ellipsis
    (the end of a metric name, e.g. ``calibrated.recall``, is what tells two rows apart)."""
    if len(text) <= limit:
        return text
    head = (limit - 1) // 2
    return text[:head] + "…" + text[len(text) - (limit - 1 - head):]


# ----- SVG charts -----------------------------------------------------------------------------
def _ticks(lo: float, hi: float, want: int = 5) -> list[float]:
    raw = (hi - lo) / want
    mag = 10 ** math.floor(math.log10(raw))
    step = next(m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= raw)
    start = math.ceil(lo / step - 1e-9) * step
    return [start + i * step for i in range(int((hi - start) / step + 1e-9) + 1)]


def _tick(t: float) -> str:
    return f"{round(t, 10):g}"


def _finite(*xs: Any) -> list[float]:
    return [float(x) for x in xs if isinstance(x, (int, float)) and math.isfinite(x)]


def bar_charts(names: Sequence[str], splits: Sequence[Mapping[str, Any]],
                runs: Sequence[str]) -> str:
    """One chart per top-level metric family (``capacity.synonym.none`` -> ``capacity``);
    a family whose values all lie in [0, 1] gets a fixed 0..1 axis."""
    groups: dict[str, list[str]] = {}
    for n in names:
        groups.setdefault(n.split(".", 1)[0] if "." in n else "", []).append(n)
    charts = []
    for family, group in groups.items():
        vals = _finite(*(v for s in splits for n in group if n in s["ci"]
                         for v in (s["ci"][n]["value"], s["ci"][n]["ci_low"],
                                   s["ci"][n]["ci_high"])))
        unit = bool(vals) and min(vals) >= 0 and max(vals) <= 1
        charts.append(bar_chart(group, [s["ci"] for s in splits], runs, unit=unit,
                                 title=family))
    return f'<div class="charts">{"".join(charts)}</div>'


def bar_chart(names: Sequence[str], cis: Sequence[Mapping[str, Any]], runs: Sequence[str],
              unit: bool, title: str = "", labels: Mapping[str, str] | None = None) -> str:
    """Horizontal bars, one row per (metric, series in ``runs``), with CI whiskers. Rows are
    labelled by ``labels`` (default: the metric name less ``title``); the label column is as
    wide as the longest label (up to 60 characters; longer ones lose their middle)."""
    labels = {n: middle_cut((labels or {}).get(n) or (n.removeprefix(f"{title}.") if title
                                                      else n), 60) for n in names}
    left = 16 + round(6.8 * max([len(v) for v in labels.values()] or [10]))
    width, row, pad = max(700, left + 400), 18, 10
    vals = _finite(*(v for ci in cis for n in names if n in ci
                     for v in (ci[n]["value"], ci[n]["ci_low"], ci[n]["ci_high"])))
    lo, hi = (0.0, 1.0) if unit or not vals else (min(0.0, *vals), max(0.0, *vals))
    hi = hi if hi > lo else lo + 1
    ticks = _ticks(lo, hi)
    lo, hi = min(lo, ticks[0]), max(hi, ticks[-1])

    def x(v: float) -> float:
        return left + (width - left - 60) * (v - lo) / (hi - lo)

    group_h = row * len(runs) + pad
    height = 30 + group_h * len(names)
    out = [f'<svg viewBox="0 0 {width} {height}" width="{width}" role="img">']
    for t in ticks:
        out.append(f'<line class="axis" x1="{x(t):.1f}" x2="{x(t):.1f}" y1="20" y2="{height}"/>'
                   f'<text class="tick" x="{x(t):.1f}" y="13" text-anchor="middle">'
                   f'{esc(_tick(t))}</text>')
    for gi, name in enumerate(names):
        y0 = 24 + gi * group_h
        label = labels[name]
        out.append(f'<text x="{left - 8}" y="{y0 + row * len(runs) / 2 + 4:.1f}" '
                   f'text-anchor="end" font-size="12"><title>{esc(name)}</title>'
                   f"{esc(label)}</text>")
        for ri, ci in enumerate(cis):
            if name in ci:
                out.append(_bar(ci[name], y0 + ri * row, row - 4, x, color(ri), runs[ri]))
    out.append("</svg>")
    legend = "".join(f'<span class="swatch" style="background:{color(i)}"></span>{esc(r)} '
                     for i, r in enumerate(runs)) if len(runs) > 1 else ""
    head = f"<h4>{esc(title)}</h4>" if title else ""
    return f'<div class="panel">{head}{"".join(out)}<div class="muted">{legend}</div></div>'


def _bar(m: Mapping[str, Any], y: float, h: float, x: Any, color: str, run: str) -> str:
    v, low, high = m["value"], m["ci_low"], m["ci_high"]
    tip = f"<title>{esc(run)}: {esc(ci_text(m))}</title>"
    if not _finite(v):
        return f'<text class="tick" x="{x(0):.1f}" y="{y + h - 2:.1f}">{tip}n/a</text>'
    x0, xv = sorted((x(0), x(v)))
    parts = [f'<rect x="{x0:.1f}" y="{y:.1f}" width="{max(xv - x0, 1):.1f}" height="{h:.1f}" '
             f'rx="2" fill="{color}" fill-opacity="0.8">{tip}</rect>']
    end = x(v)
    if len(_finite(low, high)) == 2:
        a, b, mid = x(low), x(high), y + h / 2
        parts.append(f'<path d="M{a:.1f} {mid:.1f}H{b:.1f}M{a:.1f} {y + 2:.1f}V{y + h - 2:.1f}'
                     f'M{b:.1f} {y + 2:.1f}V{y + h - 2:.1f}" stroke="currentColor" '
                     f'style="stroke:var(--fg)" stroke-width="1.3" fill="none"/>')
        end = max(end, b)
    parts.append(f'<text class="tick" x="{end + 5:.1f}" y="{y + h - 2:.1f}">{esc(fmt(v))}</text>')
    return "".join(parts)


def curves(all_metrics: Sequence[Mapping[str, Any]], runs: Sequence[str]) -> str:
    """One line chart per curve name, with a line (and CI band, if given) per run."""
    by_name: dict[str, list[tuple[int, Mapping[str, Any]]]] = {}
    for i, m in enumerate(all_metrics):
        curves = m.get("curves")
        for name, c in (curves.items() if isinstance(curves, Mapping) else []):
            if isinstance(c, Mapping) and isinstance(c.get("x"), list) \
                    and isinstance(c.get("y"), list):
                by_name.setdefault(str(name), []).append((i, c))
    if not by_name:
        return ""
    charts = "".join(_line_chart(n, cs, runs) for n, cs in by_name.items())
    return f'<h3>Curves</h3><div class="charts">{charts}</div>'


def _line_chart(name: str, curves: Sequence[tuple[int, Mapping[str, Any]]],
                runs: Sequence[str]) -> str:
    w, h, ml, mr, mt, mb = 520, 280, 48, 16, 30, 34
    xs = _finite(*(v for _, c in curves for v in c["x"]))
    ys = _finite(*(v for _, c in curves for k in ("y", "ci_low", "ci_high")
                   for v in (c.get(k) or [])))
    if not xs or not ys:
        return f'<div class="panel"><h3>{esc(name)}</h3><p class="muted">no data</p></div>'
    xt, yt = _ticks(min(xs), max(xs) if max(xs) > min(xs) else min(xs) + 1), \
        _ticks(min(ys), max(ys) if max(ys) > min(ys) else min(ys) + 1)
    x0, x1 = min(min(xs), xt[0]), max(max(xs), xt[-1])
    y0, y1 = min(min(ys), yt[0]), max(max(ys), yt[-1])

    def px(v: float) -> float:
        return ml + (w - ml - mr) * (v - x0) / ((x1 - x0) or 1)

    def py(v: float) -> float:
        return h - mb - (h - mt - mb) * (v - y0) / ((y1 - y0) or 1)

    out = [f'<svg viewBox="0 0 {w} {h}" width="{w}" role="img">',
           f'<text x="{ml}" y="18" font-size="13" font-weight="600">{esc(name)}</text>']
    out += [f'<line class="axis" x1="{ml}" x2="{w - mr}" y1="{py(t):.1f}" y2="{py(t):.1f}"/>'
            f'<text class="tick" x="{ml - 6}" y="{py(t) + 4:.1f}" text-anchor="end">'
            f'{esc(_tick(t))}</text>' for t in yt]
    out += [f'<text class="tick" x="{px(t):.1f}" y="{h - mb + 16}" text-anchor="middle">'
            f'{esc(_tick(t))}</text>' for t in xt]
    for i, c in curves:
        out.append(_series(c, px, py, color(i), runs[i]))
    out.append("</svg>")
    legend = "".join(f'<span class="swatch" style="background:{color(i)}"></span>'
                     f'{esc(runs[i])} ' for i, _ in curves) if len(runs) > 1 else ""
    return f'<div class="panel">{"".join(out)}<div class="muted">{legend}</div></div>'


def _series(c: Mapping[str, Any], px: Any, py: Any, color: str, run: str) -> str:
    pts = [(float(a), float(b)) for a, b in zip(c["x"], c["y"], strict=False)
           if len(_finite(a, b)) == 2]
    out = []
    lows, highs = c.get("ci_low"), c.get("ci_high")
    if isinstance(lows, list) and isinstance(highs, list):
        band = [(a, lo, hi) for a, lo, hi in zip(c["x"], lows, highs, strict=False)
                if len(_finite(a, lo, hi)) == 3]
        if band:
            poly = [f"{px(a):.1f},{py(hi):.1f}" for a, _, hi in band] + \
                   [f"{px(a):.1f},{py(lo):.1f}" for a, lo, _ in reversed(band)]
            out.append(f'<polygon points="{" ".join(poly)}" fill="{color}" fill-opacity="0.15"/>')
    line = " ".join(f"{px(a):.1f},{py(b):.1f}" for a, b in pts)
    out.append(f'<polyline points="{line}" fill="none" stroke="{color}" stroke-width="2"/>')
    out += [f'<circle cx="{px(a):.1f}" cy="{py(b):.1f}" r="3" fill="{color}">'
            f"<title>{esc(run)}: x={esc(fmt(a))}, y={esc(fmt(b))}</title></circle>"
            for a, b in pts]
    return "".join(out)
