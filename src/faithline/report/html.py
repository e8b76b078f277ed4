"""The HTML report: one self-contained page for one run, or comparing several runs.

Usage: ``faithline report RUN [RUN ...] [--out FILE]``. With one run the page goes to
``RUN/report.html`` unless ``--out`` says otherwise; with several runs ``--out`` is required.
From Python: ``write_report(["runs/a", "runs/b"], out="compare.html")``.

The page holds a header (names, status, dates, faithline version), a summary table per run
(command, config, models, counts), metrics (values with confidence intervals in a table with a
column per run, an SVG bar chart with CI error bars, other scalars, curves as SVG line charts,
anything else as JSON), recorded failures and a transcript viewer (CoT / paraphrased CoT /
answer side by side, monitor flags, a filter bar; ``#filter=incorrect&q=text`` in the URL sets
the initial filter). Everything is inline: no external URL is fetched, and a Content Security
Policy allows only the page's own script. All model text is HTML-escaped.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

from faithline import invisible
from faithline.errors import BadInputError
from faithline.io import check_output, write_text_atomic
from faithline.registry import Registry
from faithline.report.charts import bar_charts as _bar_charts
from faithline.report.charts import ci_text as _ci_text
from faithline.report.charts import color as _color
from faithline.report.charts import curves as _curves
from faithline.report.charts import esc as _e
from faithline.report.charts import fmt as _fmt
from faithline.report.transcripts import FORCED_HELP, TRUNCATED_HELP, transcripts_section
from faithline.runs.run import Run
from faithline.types import Transcript

CI_KEYS = frozenset({"value", "ci_low", "ci_high", "n"})

CSS = """
:root{--bg:#f6f7f9;--fg:#1d232b;--mut:#5f6b7a;--card:#fff;--line:#dde2e8;--acc:#3b6fd8;
--ok:#1f8a55;--okbg:#e3f4ea;--bad:#c0392b;--badbg:#fbe6e3;--warn:#9a6b00;--warnbg:#fdf1d3;
--code:#f2f4f7;font-family:system-ui,-apple-system,"Segoe UI",Roboto,sans-serif}
@media (prefers-color-scheme:dark){:root{--bg:#15181d;--fg:#e4e8ee;--mut:#97a2b0;--card:#1e232a;
--line:#333b46;--code:#262c34;--okbg:#173526;--badbg:#3d1d1a;--warnbg:#3a3018}}
*{box-sizing:border-box}[hidden]{display:none!important}
body{margin:0;background:var(--bg);color:var(--fg);font-size:14px;line-height:1.45}
main{max-width:1280px;margin:0 auto;padding:0 24px 48px}
header.top{background:#1d2633;color:#eef2f7;padding:20px 24px}
header.top .in{max-width:1232px;margin:0 auto}
header.top h1{margin:0 0 6px;font-size:22px;font-weight:600}
header.top .brand{color:#8fb0ff;font-weight:700;margin-right:8px}
.runline{color:#c5cfdb;font-size:13px;margin-top:2px}.runline b{color:#fff}
h2{font-size:18px;margin:32px 0 12px;padding-bottom:6px;border-bottom:1px solid var(--line)}
h3{font-size:15px;margin:18px 0 8px}
.grid{display:grid;grid-template-columns:repeat(auto-fit,minmax(380px,1fr));gap:16px}
.panel{background:var(--card);border:1px solid var(--line);border-radius:8px;padding:14px 16px;
overflow:auto}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{color:var(--mut);font-weight:600;font-size:12px}
td.num{font-variant-numeric:tabular-nums;white-space:nowrap}
table.kv th{width:34%}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-size:12px;font-weight:600;
background:var(--code);color:var(--mut)}
.b-ok{background:var(--okbg);color:var(--ok)}.b-bad{background:var(--badbg);color:var(--bad)}
.b-warn{background:var(--warnbg);color:var(--warn)}
.swatch{display:inline-block;width:10px;height:10px;border-radius:2px;margin-right:6px}
pre{margin:0;font:12.5px/1.45 ui-monospace,SFMono-Regular,Menlo,Consolas,monospace;
white-space:pre-wrap;word-break:break-word}
pre.json,pre.err{background:var(--code);padding:8px;border-radius:6px;max-height:20em;overflow:auto}
details>summary{cursor:pointer;color:var(--mut);font-size:12px;margin:6px 0}
svg{max-width:100%;height:auto;font-family:inherit}svg text{fill:var(--fg)}
svg .axis{stroke:var(--line)}svg .tick{fill:var(--mut);font-size:11px}
.charts{margin:12px 0;display:grid;gap:16px;
grid-template-columns:repeat(auto-fill,minmax(460px,1fr))}
.bar{display:flex;flex-wrap:wrap;gap:8px;align-items:center;position:sticky;top:0;z-index:2;
background:var(--bg);padding:10px 0}
.bar button{border:1px solid var(--line);background:var(--card);color:var(--fg);padding:5px 12px;
border-radius:16px;cursor:pointer;font-size:13px}
.bar button.active{background:var(--acc);border-color:var(--acc);color:#fff}
.bar input{flex:1;min-width:200px;padding:6px 10px;border:1px solid var(--line);border-radius:6px;
background:var(--card);color:var(--fg);font-size:13px}
.shown{color:var(--mut);font-size:12px}
.card{background:var(--card);border:1px solid var(--line);border-left:4px solid var(--line);
border-radius:8px;padding:12px 14px;margin:12px 0}
.card.is-correct{border-left-color:var(--ok)}.card.is-incorrect{border-left-color:var(--bad)}
.card .head{display:flex;flex-wrap:wrap;gap:8px;align-items:center}
.card .tid{font-weight:700;font-family:ui-monospace,Menlo,Consolas,monospace}
.card .ga{color:var(--mut);font-size:13px}.card .ga code{color:var(--fg)}
.cols{display:grid;gap:12px;margin-top:8px}
.cols>div{min-width:0}.cols h4{margin:0 0 4px;font-size:11px;text-transform:uppercase;
letter-spacing:.04em;color:var(--mut)}
.cols pre{background:var(--code);padding:8px;border-radius:6px;max-height:26em;overflow:auto}
.empty{color:var(--mut);font-style:italic}
.flag{font-size:12px;padding:1px 8px;border-radius:10px;border:1px solid var(--line)}
.flag.on{background:var(--badbg);color:var(--bad);border-color:transparent;font-weight:600}
.muted{color:var(--mut)}footer{color:var(--mut);font-size:12px;margin-top:40px}
.m{unicode-bidi:isolate}.inv{color:var(--bad);background:var(--badbg);border-radius:3px;
padding:0 2px;font-size:.85em;font-style:normal}
details.config>summary{font-size:13px}details.config table.kv th{width:40%;font-weight:500}
"""

JS = """
(function () {
  var names = ['all', 'correct', 'incorrect', 'unparsed'];
  var p = new URLSearchParams(location.hash.slice(1) || location.search.slice(1));
  var f0 = p.get('filter') === 'failed-to-parse' ? 'unparsed' : p.get('filter');
  function apply(sec) {
    var f = sec.getAttribute('data-filter'), q = sec.querySelector('input').value.toLowerCase();
    var cards = sec.querySelectorAll('.card'), shown = 0;
    cards.forEach(function (c) {
      var ok = (f === 'all' || c.classList.contains('is-' + f)) &&
        (!q || c.textContent.toLowerCase().indexOf(q) >= 0);
      c.hidden = !ok; if (ok) { shown++; }
    });
    sec.querySelector('.shown').textContent = shown + ' of ' + cards.length + ' shown';
    sec.querySelectorAll('.bar button').forEach(function (b) {
      b.classList.toggle('active', b.getAttribute('data-filter') === f);
    });
  }
  document.querySelectorAll('section.transcripts').forEach(function (sec) {
    sec.setAttribute('data-filter', names.indexOf(f0) >= 0 ? f0 : 'all');
    sec.querySelector('input').value = p.get('q') || '';
    sec.querySelectorAll('.bar button').forEach(function (b) {
      b.addEventListener('click', function () {
        sec.setAttribute('data-filter', b.getAttribute('data-filter')); apply(sec);
      });
    });
    sec.querySelector('input').addEventListener('input', function () { apply(sec); });
    apply(sec);
  });
})();
"""

JS_HASH = base64.b64encode(hashlib.sha256(JS.encode("utf-8")).digest()).decode("ascii")
CSP = (f"default-src 'none'; style-src 'unsafe-inline'; img-src data:; "
       f"script-src 'sha256-{JS_HASH}'")


# ----- entry points ---------------------------------------------------------------------------
def write_report(runs: Sequence[str | Path], out: str | Path | None = None,
                 preface: str | None = None) -> Path:
    """Write the report for one run (default ``RUN/report.html``) or several (``out`` needed).

    ``preface``: markdown (headings in bold, paragraphs, pipe tables) shown before the runs,
    e.g. an experiment's summary table across them."""
    if isinstance(runs, (str, Path)):
        runs = [runs]
    if not runs:
        raise BadInputError("report: give at least one run directory")
    if out is None and len(runs) > 1:
        raise BadInputError("report: comparing several runs needs --out FILE")
    loaded = [Run.load(r) for r in runs]
    target = Path(out) if out is not None else loaded[0].path / "report.html"
    if target.is_dir():
        target = target / "report.html"
    check_output(target, "file")
    shown: list[Run] = []
    for run in loaded:  # an experiment's run (e.g. `faithline demo`) shows its parts
        parts = run.info.get("parts")
        if isinstance(parts, list) and parts:
            shown += [Run.load(run.path / str(part)) for part in parts]
            stored = run.metrics().get("preface")
            preface = preface or (stored if isinstance(stored, str) else None)
        else:
            shown.append(run)
    _write_atomic(target, render_report(shown, preface))
    return target


def _write_atomic(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    write_text_atomic(path, text)


# Sections the command that made a run adds to its page: command name -> function(run) -> HTML,
# registered by the part that owns the command (its package ``__init__``), with ``shows``: the
# metric prefixes the section already charts, which the generic metrics section leaves out.
REPORT_SECTIONS: Registry[str] = Registry("report section")


def _run_sections(runs: Sequence[Run]) -> str:
    parts = []
    for run in runs:
        command = str(run.info.get("command"))
        if command in REPORT_SECTIONS:
            parts.append(REPORT_SECTIONS.get(command)(run))
    return "".join(parts)


def _section_shows(run: Run) -> tuple[str, ...]:
    entry = REPORT_SECTIONS.entry(str(run.info.get("command")))
    return tuple(entry.meta.get("shows", ())) if entry else ()


def render_report(runs: Sequence[Run], preface: str | None = None) -> str:
    """The whole page as one string."""
    names = [_name(r) for r in runs]
    body = [
        _header(runs),
        "<main>",
        f'<h2 id="summary-of-experiment">Experiment</h2>{_markdown_tables(preface)}'
        if preface else "",
        _summary_section(runs),
        _run_sections(runs),
        _metrics_section(runs),
        _failures_section(runs),
        *(transcripts_section(r, i, len(runs) > 1) for i, r in enumerate(runs)),
        "<footer>Written by faithline. Self-contained page: nothing is loaded from the network."
        "</footer></main>",
    ]
    return (
        "<!DOCTYPE html>\n<html lang=\"en\"><head><meta charset=\"utf-8\">"
        f"<meta http-equiv=\"Content-Security-Policy\" content=\"{CSP}\">"
        "<meta name=\"viewport\" content=\"width=device-width,initial-scale=1\">"
        f"<title>faithline report: {_e(' vs '.join(names))}</title>"
        f"<style>{CSS}</style></head><body>\n" + "\n".join(body) +
        f"\n<script>{JS}</script></body></html>\n"
    )


# ----- small helpers --------------------------------------------------------------------------
def _name(run: Run) -> str:
    return str(run.info.get("name") or run.path.name)


def _json(x: Any) -> str:
    return json.dumps(x, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _is_ci(x: Any) -> bool:
    return isinstance(x, Mapping) and {"value", "ci_low", "ci_high"} <= set(x) <= CI_KEYS


def _status_badge(status: Any) -> str:
    cls = {"done": "b-ok", "complete": "b-ok", "completed": "b-ok", "failed": "b-bad",
           "running": "b-warn", "interrupted": "b-warn"}.get(str(status), "")
    return f'<span class="badge {cls}">{_e(status)}</span>'


def _kv_table(rows: Sequence[tuple[str, str]]) -> str:
    """A two-column table; keys are escaped here, values must already be HTML."""
    body = "".join(f"<tr><th>{_e(k)}</th><td>{v}</td></tr>" for k, v in rows)
    return f'<table class="kv">{body}</table>'


def _plain(v: Any) -> str:
    """A config or metadata value as a person writes it: ``—`` for unset, ``yes``/``no``,
    lists comma-separated, objects as ``key: value`` pairs (nested deeper: JSON)."""
    if isinstance(v, (list, tuple)):
        return ", ".join(_plain(x) for x in v) if v else "none"
    if isinstance(v, Mapping):
        return ", ".join(f"{k}: {_plain(x) if not isinstance(x, (Mapping, list)) else _json(x)}"
                         for k, x in v.items()) or "none"
    return _fmt(v)


def _value_html(v: Any) -> str:
    if v is None:
        return '<span class="muted">—</span>'
    return _e(_plain(v))


# ----- header and summary ---------------------------------------------------------------------
def _header(runs: Sequence[Run]) -> str:
    lines = []
    for i, r in enumerate(runs):
        info = r.info
        version = (info.get("versions") or {}).get("faithline") or "?"
        swatch = f'<span class="swatch" style="background:{_color(i)}"></span>' \
            if len(runs) > 1 else ""
        lines.append(
            f'<div class="runline">{swatch}<b>{_e(_name(r))}</b> '
            f'{_status_badge(info.get("status"))}'
            f' · created {_e(info.get("created", "?"))} · updated {_e(info.get("updated", "?"))}'
            f' · faithline {_e(version)}</div>'
        )
    title = "Comparison of runs" if len(runs) > 1 else f"Run {_e(_name(runs[0]))}"
    return (f'<header class="top"><div class="in"><h1><span class="brand">faithline</span>'
            f'{title}</h1>{"".join(lines)}</div></header>')


# Commands that read transcripts made elsewhere: their answers' correctness is not theirs.
READING_COMMANDS = frozenset({"monitor", "legibility"})


def _counts(run: Run, ts: Sequence[Transcript]) -> list[tuple[str, str]]:
    rows = [("transcripts", _e(len(ts)))]
    if run.info.get("command") not in READING_COMMANDS:
        correct = sum(t.correct is True for t in ts)
        judged = sum(t.correct is not None for t in ts)
        acc = f" ({correct / judged:.0%} of {judged} judged)" if judged else ""
        forced = sum(bool(t.meta.get("answer_forced")) for t in ts)
        truncated = sum(t.meta.get("finish_reason") == "length" for t in ts)
        rows += [("correct", _e(f"{correct}{acc}")),
                 ("failed to parse", _e(sum(t.answer == "" for t in ts)))]
        if forced:
            rows.append(("answers forced", f'{forced} <span class="muted">{_e(FORCED_HELP)}'
                                           "</span>"))
        if truncated:
            rows.append(("CoTs truncated", f'{truncated} <span class="muted">'
                                           f"{_e(TRUNCATED_HELP)}</span>"))
    hidden = sum(invisible.count(t.cot) for t in ts)
    if hidden:
        rows.append(("invisible characters", '<span class="badge b-bad">'
                     f"{hidden} in {sum(invisible.count(t.cot) > 0 for t in ts)} CoTs</span>"))
    rows.append(("unresolved failures", _e(len(run.failures()))))
    return rows


def _summary_table(run: Run, idx: int, many: bool) -> str:
    info = run.info
    rows: list[tuple[str, str]] = [("command", f"<code>{_e(info.get('command', '?'))}</code>"),
                                   ("status", _status_badge(info.get("status")))]
    if info.get("resumed"):
        rows.append(("resumed", _e(f"{info['resumed']} time(s)")))
    for role, m in (info.get("models") or {}).items():
        if isinstance(m, Mapping):
            rest = _plain({k: v for k, v in m.items() if k != "spec"})
            cell = f"<code>{_e(m.get('spec', '?'))}</code> <span class=muted>{_e(rest)}</span>"
        else:
            cell = f"<code>{_e(m)}</code>"
        rows.append((f"model: {role}", cell))
    rows += _counts(run, run.transcripts())
    config = dict(info.get("config") or {})
    if info.get("seeds"):
        config["seeds"] = info["seeds"]
    folded = ""
    if config:
        table = _kv_table([(k, _value_html(v)) for k, v in config.items()])
        folded = (f'<details class="config"><summary>configuration ({len(config)} settings)'
                  f"</summary>{table}</details>")
    swatch = f'<span class="swatch" style="background:{_color(idx)}"></span>' if many else ""
    return (f'<div class="panel"><h3>{swatch}{_e(_name(run))}</h3>{_kv_table(rows)}'
            f"{folded}</div>")


def _summary_section(runs: Sequence[Run]) -> str:
    tables = "".join(_summary_table(r, i, len(runs) > 1) for i, r in enumerate(runs))
    return f'<h2 id="summary">Summary</h2><div class="grid">{tables}</div>'


# ----- metrics --------------------------------------------------------------------------------
def _split_metrics(metrics: Mapping[str, Any], prefix: str = "",
                   out: dict[str, dict[str, Any]] | None = None) -> dict[str, dict[str, Any]]:
    """Sort metrics into ``ci``, ``scalar`` and ``other`` by shape; nested names get dots."""
    out = out if out is not None else {"ci": {}, "scalar": {}, "other": {}, "tables": {},
                                       "records": {}}
    for key, value in metrics.items():
        name = f"{prefix}{key}"
        if not prefix and key in ("schema", "curves"):
            continue
        if _is_ci(value):
            out["ci"][name] = value
        elif isinstance(value, str) and "\n|" in value:
            out["tables"][name] = value
        elif value is None or isinstance(value, (int, float, str)):
            out["scalar"][name] = value
        elif isinstance(value, list) and all(isinstance(x, (int, float, str)) for x in value):
            out["scalar"][name] = ", ".join(_fmt(x) for x in value) or "none"
        elif _is_records(value):
            out["records"][name] = value
        elif isinstance(value, Mapping) and value:
            _split_metrics(value, f"{name}.", out)
        else:
            out["other"][name] = value
    return out


def _is_records(value: Any) -> bool:
    """A non-empty list of flat objects (rows of a table, e.g. a command's alarms)."""
    return isinstance(value, list) and bool(value) and all(
        isinstance(r, Mapping) and all(not isinstance(v, (Mapping, list)) for v in r.values())
        for r in value)


def _records_table(rows: Sequence[Mapping[str, Any]]) -> str:
    keys = list(dict.fromkeys(k for r in rows for k in r))
    head = "".join(f"<th>{_e(k)}</th>" for k in keys)
    body = "".join("<tr>" + "".join(f"<td>{_value_html(r.get(k))}</td>" for k in keys) + "</tr>"
                   for r in rows)
    return f'<div class="panel"><table><tr>{head}</tr>{body}</table></div>'


def _by_run_table(rows: Mapping[str, Sequence[str | None]], runs: Sequence[Run]) -> str:
    head = "".join(f"<th>{_e(_name(r))}</th>" for r in runs)
    body = "".join(
        f"<tr><th>{_e(name)}</th>" + "".join(
            f'<td class="num">{_e(c) if c is not None else "<span class=muted>—</span>"}</td>'
            for c in cells) + "</tr>"
        for name, cells in rows.items())
    return f'<div class="panel"><table><tr><th>metric</th>{head}</tr>{body}</table></div>'


def _metrics_section(runs: Sequence[Run]) -> str:
    all_metrics = [r.metrics() for r in runs]
    splits = [_split_metrics(m) for m in all_metrics]
    for run, s in zip(runs, splits, strict=True):
        shown = _section_shows(run)
        s["ci"] = {k: v for k, v in s["ci"].items() if not k.startswith(shown)}
    parts = ['<h2 id="metrics">Metrics</h2>']
    for run, s in zip(runs, splits, strict=True):
        for name, md in s["tables"].items():
            title = f"{_name(run)}: {name}" if len(runs) > 1 else name
            parts += [f"<h3>{_e(title)}</h3>", _markdown_tables(md)]
    ci_names = list(dict.fromkeys(n for s in splits for n in s["ci"]))
    if ci_names:
        rows = {n: [_ci_text(s["ci"][n]) if n in s["ci"] else None for s in splits]
                for n in ci_names}
        parts += ["<h3>With 95% confidence intervals</h3>", _by_run_table(rows, runs),
                  _bar_charts(ci_names, splits, [_name(r) for r in runs])]
    sc_names = list(dict.fromkeys(n for s in splits for n in s["scalar"]))
    if sc_names:
        rows = {n: [_fmt(s["scalar"][n]) if n in s["scalar"] else None for s in splits]
                for n in sc_names}
        parts += ["<h3>Other values</h3>", _by_run_table(rows, runs)]
    parts += [c for c in [_curves(all_metrics, [_name(r) for r in runs])] if c]
    for run, s in zip(runs, splits, strict=True):
        for name, rows in s["records"].items():
            title = f"{_name(run)}: {name}" if len(runs) > 1 else name
            parts += [f"<h3>{_e(title)}</h3>", _records_table(rows)]
        for name, value in s["other"].items():
            parts.append(f"<details><summary>{_e(_name(run))}: {_e(name)}</summary>"
                         f'<pre class="json">{_e(_json(value))}</pre></details>')
    if len(parts) == 1:
        parts.append('<p class="muted">No metrics.json yet.</p>')
    return "\n".join(parts)


def _markdown_tables(md: str) -> str:
    """Render markdown text made of pipe tables, bold headings and paragraphs (no raw HTML)."""
    out: list[str] = []
    rows: list[list[str]] = []

    def flush() -> None:
        if rows:
            head = "".join(f"<th>{_e(c)}</th>" for c in rows[0])
            body = "".join("<tr>" + "".join(f"<td>{_e(c)}</td>" for c in r) + "</tr>"
                           for r in rows[1:])
            out.append(f'<div class="panel"><table><tr>{head}</tr>{body}</table></div>')
            rows.clear()

    for line in md.splitlines():
        text = line.strip()
        if text.startswith("|"):
            cells = [c.strip().strip("`") for c in text.strip("|").split("|")]
            if not all(set(c) <= set("-: ") for c in cells):
                rows.append(cells)
            continue
        flush()
        if text.startswith("**") and text.endswith("**"):
            out.append(f"<h4>{_e(text.strip('*'))}</h4>")
        elif text:
            out.append(f'<p class="muted">{_e(text)}</p>')
    flush()
    return "".join(out)


# ----- failures -------------------------------------------------------------------------------
def _failures_section(runs: Sequence[Run]) -> str:
    parts = ['<h2 id="failures">Failures</h2>']
    for run in runs:
        rows = run.failures()
        title = f"<h3>{_e(_name(run))}</h3>" if len(runs) > 1 else ""
        if not rows:
            parts.append(f'{title}<p class="muted">No unresolved failures.</p>')
            continue
        body = "".join(
            f"<tr><td><code>{_e(r.get('id', ''))}</code></td><td>{_e(r.get('stage', ''))}</td>"
            f"<td><span class='badge b-bad'>{_e(r.get('kind', ''))}</span></td>"
            f"<td><pre class='err'>{_e(r.get('error', ''))}</pre></td></tr>" for r in rows)
        parts.append(f'{title}<div class="panel"><table><tr><th>id</th><th>stage</th>'
                     f'<th>kind</th><th>error</th></tr>{body}</table></div>')
    return "\n".join(parts)
