"""The report's transcript viewer: one card per transcript, a filter bar per run.

A card shows the CoT, the paraphrased CoT (when there is one) and the answer side by side, with
badges for what a reader must know before trusting it: correct or not, an answer that failed to
parse, an answer *forced* (the model wrote none, so it was read after the CoT by prompting for
it, or from option scores for multiple choice), a CoT *truncated* at the token limit, and
invisible characters. Model text is isolated (``dir=ltr``, ``unicode-bidi: isolate``) and its
bidi controls and zero-width characters show as marks (``⟨U+202E⟩``, named on hover), so a
right-to-left override cannot make a CoT display in another order than it reads.
"""

from __future__ import annotations

import html
import json
from collections.abc import Mapping
from typing import Any

from faithline import invisible
from faithline.report.charts import esc as _e
from faithline.report.charts import fmt as _fmt
from faithline.runs.run import Run
from faithline.types import Transcript

FILTERS = (("all", "all"), ("correct", "correct"), ("incorrect", "incorrect"),
           ("unparsed", "failed to parse"))
FORCED_HELP = ("the model wrote no answer it could parse, so the answer was read after the CoT "
               "by prompting for one (from option scores for multiple choice)")
TRUNCATED_HELP = "the CoT stopped at the token limit (--max-cot-tokens): it may be cut short"


def model_html(text: str) -> str:
    """Model text as HTML: escaped, each invisible character a highlighted, named mark."""
    out, last = [], 0
    for m in invisible.PATTERN.finditer(text):
        ch = m.group()
        out.append(html.escape(text[last:m.start()]))
        out.append(f'<span class="inv" title="{html.escape(invisible.name(ch))}">'
                   f"{invisible.mark(ch)}</span>")
        last = m.end()
    out.append(html.escape(text[last:]))
    return "".join(out)


def _inline(text: str) -> str:
    """Model text inside a line of the page: isolated from its surroundings."""
    return f'<code class="m" dir="ltr">{model_html(text)}</code>'


def transcripts_section(run: Run, idx: int, many: bool) -> str:
    ts = run.transcripts()
    name = str(run.info.get("name") or run.path.name)
    title = f"Transcripts: {_e(name)}" if many else "Transcripts"
    counts = {"all": len(ts), "correct": sum(t.correct is True for t in ts),
              "incorrect": sum(t.correct is False for t in ts),
              "unparsed": sum(t.answer == "" for t in ts)}
    buttons = "".join(f'<button type="button" data-filter="{k}">{_e(label)} '
                      f'<span class="muted">{counts[k]}</span></button>'
                      for k, label in FILTERS)
    bar = (f'<div class="bar">{buttons}<input type="search" placeholder="search id, prompt, '
           f'CoT, answer…" aria-label="search transcripts"><span class="shown"></span></div>')
    cards = "".join(_card(t, f"r{idx}-t{i}") for i, t in enumerate(ts)) or \
        '<p class="muted">No transcripts yet.</p>'
    return (f'<section class="transcripts" id="transcripts-{idx}" data-filter="all">'
            f"<h2>{title}</h2>{bar}{cards}</section>")


def _card_classes(t: Transcript) -> str:
    cls = ["card"]
    if t.correct is True:
        cls.append("is-correct")
    elif t.correct is False:
        cls.append("is-incorrect")
    if t.answer == "":
        cls.append("is-unparsed")
    return " ".join(cls)


def _badges(t: Transcript) -> str:
    out = []
    if t.correct is not None:
        out.append('<span class="badge b-ok">correct</span>' if t.correct
                   else '<span class="badge b-bad">incorrect</span>')
    if t.answer == "":
        out.append('<span class="badge b-warn">failed to parse</span>')
    if t.meta.get("answer_forced"):
        out.append(f'<span class="badge b-warn" title="{_e(FORCED_HELP)}">answer forced</span>')
    if t.meta.get("finish_reason") == "length":
        out.append(f'<span class="badge b-warn" title="{_e(TRUNCATED_HELP)}">CoT truncated'
                   "</span>")
    hidden = sum(invisible.count(x) for x in (t.cot, t.paraphrased_cot or "", t.answer))
    if hidden:
        out.append(f'<span class="badge b-bad" title="bidi controls or zero-width characters, '
                   f'shown as ⟨U+…⟩ marks">{hidden} invisible char{"s" if hidden > 1 else ""}'
                   "</span>")
    return " ".join(out)


def _card_head(t: Transcript) -> str:
    answer = _inline(t.answer) if t.answer else '<span class="empty">none</span>'
    gold = f" · gold {_inline(t.gold)}" if t.gold is not None else ""
    chips = _monitor_chips(t.monitor) + "".join(
        f'<span class="flag">{_e(k)}: {_e(_fmt(v) if isinstance(v, bool) else json.dumps(v))}'
        "</span>" for k, v in (t.label or {}).items())
    return (f'<div class="head"><span class="tid m" dir="ltr">{model_html(t.id)}</span>'
            f'{_badges(t)}<span class="ga">answer {answer}{gold}</span>{chips}</div>')


def _monitor_chips(monitor: Mapping[str, Any] | None) -> str:
    chips = []
    for name, v in (monitor or {}).items():
        if not isinstance(v, Mapping):
            chips.append(f'<span class="flag">{_e(name)}: {_e(_fmt(v))}</span>')
            continue
        on = " on" if v.get("flag") else ""
        score = f" {_fmt(v['score'])}" if isinstance(v.get("score"), (int, float)) else ""
        mark = "⚑ " if on else ""
        chips.append(f'<span class="flag{on}" title="{_e(v.get("reason", ""))}">'
                     f'{mark}{_e(name)}{_e(score)}</span>')
    return "".join(chips)


def _text_col(title: str, text: str) -> str:
    body = model_html(text) if text else '<span class="empty">(empty)</span>'
    return f'<div><h4>{_e(title)}</h4><pre class="m" dir="ltr">{body}</pre></div>'


def _json(x: Any) -> str:
    return json.dumps(x, indent=2, ensure_ascii=False, sort_keys=True, default=str)


def _card(t: Transcript, dom_id: str) -> str:
    cols = [_text_col("CoT", t.cot)]
    if t.paraphrased_cot is not None:
        cols.append(_text_col("Paraphrased CoT", t.paraphrased_cot))
    cols.append(_text_col("Answer", t.answer))
    template = " ".join(["minmax(0,1fr)"] * (len(cols) - 1) + ["minmax(120px,0.4fr)"])
    details = [f'<details><summary>prompt</summary><pre class="json m" dir="ltr">'
               f"{model_html(t.prompt)}</pre></details>"]
    reasons = {k: v.get("reason") for k, v in (t.monitor or {}).items()
               if isinstance(v, Mapping) and v.get("reason")}
    for label, value in (("monitor reasons", reasons), ("meta", t.meta), ("other fields", t.extra)):
        if value:
            details.append(f'<details><summary>{label}</summary>'
                           f'<pre class="json m" dir="ltr">{model_html(_json(value))}</pre>'
                           "</details>")
    return (f'<article class="{_card_classes(t)}" id="{dom_id}" data-id="{_e(t.id)}">'
            f"{_card_head(t)}{''.join(details[:1])}"
            f'<div class="cols" style="grid-template-columns:{template}">{"".join(cols)}</div>'
            f"{''.join(details[1:])}</article>")
