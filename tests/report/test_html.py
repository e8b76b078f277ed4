"""Tests for the HTML report: real run directories in, one self-contained page out.

The browser tests open the page in headless Chromium (skipped when it is not installed) to check
that the viewer's JavaScript runs, that model text cannot inject script, and that it renders.
"""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest

from faithline.errors import BadInputError
from faithline.report import write_report
from faithline.runs.run import Run
from faithline.types import Transcript

EVIL = "<script>alert(1)</script> & then A&B"


def _ci(value: float, low: float, high: float, n: int) -> dict[str, float | int]:
    return {"value": value, "ci_low": low, "ci_high": high, "n": n}


def make_run(path: Path, *, paraphrase: bool = False, accuracy: float = 0.62) -> Path:
    config = {"model": "builtin:organism", "task": "coinflip", "n": 4, "seed": 0}
    if paraphrase:
        config.update(paraphraser="builtin:smollm2-135m", face="builtin:organism")
    run = Run.open(path, command="generate", config=config, seeds={"sample": 0})
    run.set_models({"model": {"spec": "builtin:organism", "dtype": "float32", "device": "cpu"}})
    para = "Paraphrased: two flips cancel." if paraphrase else None
    run.append(Transcript(id="s-ok", prompt="Coin starts heads. Flip, flip. State?",
                          cot="Two flips cancel out, so heads.", answer="heads", gold="heads",
                          correct=True, paraphrased_cot=para, meta={"flips": 2},
                          monitor={"rules": {"score": 0.1, "flag": False, "reason": "clean"}}))
    run.append(Transcript(id="s-bad", prompt="Coin starts tails. Flip. State?", cot=EVIL,
                          answer="tails", gold="heads", correct=False, paraphrased_cot=para,
                          label={"misbehavior": True},
                          monitor={"rules": {"score": 0.9, "flag": True, "reason": "<b>x</b>"}}))
    run.append(Transcript(id="s-empty", prompt="Coin starts heads. State?", cot="hmm",
                          answer="", gold="heads", correct=False, extra={"note": "kept"}))
    run.record_failure("s-fail", stage="paraphrase", kind="refused", error="no <way> & never")
    run.write_metrics({
        "accuracy": _ci(accuracy, 0.41, 0.80, 16),
        "cues": {"suggested": _ci(0.25, 0.05, 0.5, 8)},
        "bits": _ci(3.2, 2.1, 4.4, 16),
        "n_transcripts": 3,
        "tag": "demo",
        "per_length": [1, 2, 3],
        "curves": {"early_answering": {"x": [0, 0.5, 1], "y": [0.2, 0.5, accuracy],
                                       "ci_low": [0.1, 0.3, 0.41], "ci_high": [0.3, 0.7, 0.8]}},
    })
    run.set_status("done")
    return path


def test_single_run_report(tmp_path: Path) -> None:
    out = write_report([make_run(tmp_path / "single")])
    assert out == tmp_path / "single" / "report.html"
    page = out.read_text(encoding="utf-8")
    assert "http://" not in page and "https://" not in page
    assert "<script>alert" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; then A&amp;B" in page
    assert page.count("<script>") == 1
    for text in ("s-ok", "s-bad", "s-empty", "heads", "tails", "builtin:organism", "float32",
                 "coinflip", "generate", "s-fail", "no &lt;way&gt; &amp; never", "refused"):
        assert text in page, text
    assert "0.62 [0.41, 0.80] (n=16)" in page
    assert "cues.suggested" in page and "0.25 [0.05, 0.50] (n=8)" in page
    assert "3.20 [2.10, 4.40] (n=16)" in page
    assert "early_answering" in page and "<polyline" in page and "<polygon" in page
    assert "per_length" in page and "<details>" in page
    assert "kept" in page  # unknown transcript keys are shown, not dropped
    assert "&lt;b&gt;x&lt;/b&gt;" in page  # monitor reasons are escaped too


def test_comparison_report(tmp_path: Path) -> None:
    a = make_run(tmp_path / "single")
    b = make_run(tmp_path / "shoggoth-face", paraphrase=True, accuracy=0.75)
    out = write_report([a, b], out=tmp_path / "cmp" / "compare.html")
    page = out.read_text(encoding="utf-8")
    assert out.is_file() and "Comparison of runs" in page
    assert "0.62 [0.41, 0.80] (n=16)" in page and "0.75 [0.41, 0.80] (n=16)" in page
    assert "Paraphrased CoT" in page and "transcripts-1" in page
    assert not list(out.parent.glob(".*"))  # no temp file left behind


def test_paraphrase_column_only_when_present(tmp_path: Path) -> None:
    page = write_report([make_run(tmp_path / "r")]).read_text(encoding="utf-8")
    assert "Paraphrased CoT" not in page


def test_bad_inputs(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="not a faithline run"):
        write_report([tmp_path])
    a, b = make_run(tmp_path / "a"), make_run(tmp_path / "b")
    with pytest.raises(BadInputError, match="--out"):
        write_report([a, b])
    with pytest.raises(BadInputError):
        write_report([])


def test_empty_run(tmp_path: Path) -> None:
    Run.open(tmp_path / "r", command="generate", config={})
    page = write_report([tmp_path / "r"]).read_text(encoding="utf-8")
    assert "No transcripts yet" in page and "No metrics.json yet" in page


# ----- real browser ----------------------------------------------------------------------------
def _chromium() -> str | None:
    if Path("/usr/bin/chromium").exists():
        return "/usr/bin/chromium"
    for name in ("chromium", "chromium-browser", "google-chrome"):
        if found := shutil.which(name):
            return found
    return None


needs_chromium = pytest.mark.skipif(_chromium() is None,
                                    reason="chromium not installed: apt-get install chromium")


def _browse(tmp_path: Path, url: str, *extra: str) -> str:
    chrome = _chromium()
    assert chrome is not None
    cmd = [chrome, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
           "--no-first-run", "--disable-background-networking", "--disable-component-update",
           "--disable-sync", f"--user-data-dir={tmp_path / 'profile'}", *extra, url]
    done = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=True)
    return done.stdout


def _card(dom: str, tid: str) -> str:
    m = re.search(rf'<article [^>]*data-id="{tid}"[^>]*>', dom)
    assert m, tid
    return m.group(0)


@needs_chromium
def test_browser_runs_js_and_stays_safe(tmp_path: Path) -> None:
    out = write_report([make_run(tmp_path / "run")])
    dom = _browse(tmp_path, out.as_uri(), "--dump-dom")
    assert "3 of 3 shown" in dom  # the viewer's script ran
    assert dom.count('class="card') == 3
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in dom
    assert not re.search(r"<script[^>]*>\s*alert", dom)
    assert all("hidden" not in _card(dom, t) for t in ("s-ok", "s-bad", "s-empty"))


@needs_chromium
@pytest.mark.parametrize(("hash_", "visible"), [
    ("#filter=incorrect", {"s-bad", "s-empty"}),
    ("#filter=correct", {"s-ok"}),
    ("#filter=failed-to-parse", {"s-empty"}),
    ("#q=flips%20cancel", {"s-ok"}),
])
def test_browser_filter_from_hash(tmp_path: Path, hash_: str, visible: set[str]) -> None:
    out = write_report([make_run(tmp_path / "run")])
    dom = _browse(tmp_path, out.as_uri() + hash_, "--dump-dom")
    for tid in ("s-ok", "s-bad", "s-empty"):
        assert ("hidden" not in _card(dom, tid)) == (tid in visible), tid
    assert f"{len(visible)} of 3 shown" in dom


@needs_chromium
def test_browser_screenshot(tmp_path: Path) -> None:
    a = make_run(tmp_path / "single")
    b = make_run(tmp_path / "shoggoth-face", paraphrase=True, accuracy=0.75)
    out = write_report([a, b], out=tmp_path / "compare.html")
    shot = tmp_path / "shot.png"
    _browse(tmp_path, out.as_uri(), f"--screenshot={shot}", "--window-size=1280,2000",
            "--hide-scrollbars")
    assert shot.is_file() and shot.stat().st_size > 10_000


def test_odd_metric_shapes_do_not_break(tmp_path: Path) -> None:
    run = Run.open(tmp_path / "r", command="eval", config={"n": 0})
    nan = float("nan")
    run.write_metrics({
        "empty": {"value": nan, "ci_low": nan, "ci_high": nan, "n": 0},
        "loss": _ci(-2.5, -3.0, -2.0, 10),
        "nested": {"deep": {"er": _ci(0.5, 0.4, 0.6, 5)}, "flag": True},
        "curves": {"one_point": {"x": [1], "y": [2.0]}, "bad": {"x": "no"}, "n": 3},
        "blob": {"list": [{"a": "<i>"}]},
    })
    page = write_report([tmp_path / "r"]).read_text(encoding="utf-8")
    assert "n/a [n/a, n/a] (n=0)" in page
    assert "-2.50 [-3.00, -2.00] (n=10)" in page
    assert "nested.deep.er" in page and "one_point" in page
    assert "&lt;i&gt;" in page and "<i>" not in page


def test_markdown_tables_in_metrics_render_as_tables(tmp_path: Path) -> None:
    run = Run.open(tmp_path / "r", "stego-capacity", {})
    md = ("Intro <b>line</b>.\n\n**Bits per KB**\n\n| attack | `none` |\n|---|---|\n"
          "| synonym | 71.7 [71.4, 72.1] |\n| <script>x</script> | 0 |\n")
    run.write_metrics({"capacity_table": md, "fam": {"a": _ci(2.0, 1.0, 3.0, 4),
                                                    "b": _ci(5.0, 4.0, 6.0, 4)}})
    html = write_report([run.path]).read_text()
    assert "<th>attack</th><th>none</th>" in html
    assert "<td>synonym</td><td>71.7 [71.4, 72.1]</td>" in html
    assert "<h4>Bits per KB</h4>" in html
    assert "<script>x</script>" not in html and "&lt;script&gt;x&lt;/script&gt;" in html
    assert "<h4>fam</h4>" in html  # one chart for the metric family


# ----- invisible characters and a page a researcher can read ----------------------------------
RLO_COT = "step one\u202eevil\u202c then \u200bhidden"


def invisible_run(path: Path) -> Path:
    run = Run.open(path, command="generate",
                   config={"model": "builtin:organism", "paraphraser": None, "cache": True,
                           "stops": ["</think>", "Answer:"], "n": 2})
    run.append(Transcript(id="s-rlo", prompt="p\u2066q", cot=RLO_COT, answer="heads",
                          gold="heads", correct=True, label={"hack": False},
                          meta={"answer_forced": True, "finish_reason": "length"}))
    run.append(Transcript(id="s-plain", prompt="p", cot="plain", answer="tails", correct=False,
                          meta={"answer_forced": False, "finish_reason": "stop"}))
    run.write_metrics({"accuracy": _ci(0.5, 0.0, 1.0, 2), "unset": None, "flag": True,
                       "per_length": [1, 2, 3],
                       "alarms": [{"metric": "oov_share", "fired": False, "value": 0.1}]})
    return path


def test_invisible_characters_are_marks_and_model_text_is_isolated(tmp_path: Path) -> None:
    page = write_report([invisible_run(tmp_path / "r")]).read_text(encoding="utf-8")
    for ch in ("\u202e", "\u202c", "\u200b", "\u2066"):
        assert ch not in page  # never raw on the page
    assert ('step one<span class="inv" title="RIGHT-TO-LEFT OVERRIDE">⟨U+202E⟩</span>evil'
            in page)
    assert '<pre class="m" dir="ltr">' in page and "unicode-bidi:isolate" in page
    assert "3 invisible chars" in page


def test_report_reads_well(tmp_path: Path) -> None:
    page = write_report([invisible_run(tmp_path / "r")]).read_text(encoding="utf-8")
    assert '<details class="config"><summary>configuration (5 settings)' in page
    summary = page[page.index('id="summary"'):page.index('id="metrics"')]
    for leak in (">None<", ">True<", ">False<", "['", '["'):
        assert leak not in summary, leak
    assert "&lt;/think&gt;, Answer:" in summary  # a list as a person writes it
    metrics = page[page.index('id="metrics"'):page.index('id="failures"')]
    assert ">None<" not in metrics and ">True<" not in metrics and "[1, 2, 3]" not in metrics
    assert "<th>metric</th><th>fired</th><th>value</th>" in metrics  # records as a table
    card = page[page.index('data-id="s-rlo"'):page.index('data-id="s-plain"')]
    assert "answer forced" in card and "CoT truncated" in card and "hack: no" in card
    plain = page[page.index('data-id="s-plain"'):]
    assert "answer forced" not in plain.split("</article>")[0]
    assert "answers forced" in summary and "CoTs truncated" in summary


def test_monitor_run_charts_each_figure_once(tmp_path: Path) -> None:
    from faithline.monitors.report import report_section

    run = Run.open(tmp_path / "m", command="monitor", config={"n": 1})
    cal = {"target_fpr": 0.05, "recall": _ci(0.4, 0.2, 0.6, 10)}
    run.write_metrics({"labels": "hack", "transcripts": 20, "positives": 10, "monitors": {
        f"rule:keywords=a-very-long-monitor-spec-{i}": {"all": {
            "recall": _ci(0.5, 0.3, 0.7, 10), "auroc": _ci(0.7, 0.6, 0.8, 20),
            "calibrated": cal}} for i in range(10)}})
    page = write_report([run.path]).read_text(encoding="utf-8")
    section = report_section(Run.load(run.path))
    assert section and section in page
    for i in range(10):  # every monitor labelled in full, in each chart
        assert section.count(f"</title>rule:keywords=a-very-long-monitor-spec-{i}</text>") == 2
    assert "calibrated to FPR ≤ 0.05" in section
    assert "With 95% confidence intervals" not in page  # not charted a second time
    assert ">correct<" not in page[:page.index('id="transcripts-0"')]  # no task accuracy


@needs_chromium
def test_browser_shows_invisible_characters_in_reading_order(tmp_path: Path) -> None:
    out = write_report([invisible_run(tmp_path / "r")])
    dom = _browse(tmp_path, out.as_uri(), "--dump-dom")
    card = dom[dom.index('data-id="s-rlo"'):]
    pre = re.search(r'<pre class="m" dir="ltr">(.*?)</pre>', card, re.S)
    assert pre is not None
    text = re.sub(r"<[^>]+>", "", pre.group(1))
    assert text == "step one⟨U+202E⟩evil⟨U+202C⟩ then ⟨U+200B⟩hidden"  # logical order, marked
    shot = tmp_path / "invisible.png"
    _browse(tmp_path, out.as_uri(), f"--screenshot={shot}", "--window-size=1280,1400",
            "--hide-scrollbars")
    assert shot.is_file() and shot.stat().st_size > 10_000
