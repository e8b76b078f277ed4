"""Aggregates, comparison, alarms and per-transcript scores on hand-made records."""

from __future__ import annotations

import math

import pytest

from faithline.errors import BadInputError
from faithline.legibility.alarms import (
    Thresholds,
    aggregate,
    alarm_scores,
    alarms,
    auroc,
    compare,
)


def records(ppl: float, oov: float, n: int = 20) -> list[dict[str, float]]:
    """n records spread a little around the given perplexity and OOV share."""
    return [{"perplexity": ppl * (1 + 0.01 * i), "nll": math.log(ppl * (1 + 0.01 * i)),
             "oov_share": oov + 0.001 * i, "non_latin_share": 0.0,
             "unusual_char_share": 0.01, "compression_ratio": 0.5 + 0.001 * i,
             "chars": 100.0 + i} for i in range(n)]


def test_alarm_fires_on_the_metric_that_moved_and_says_by_how_much() -> None:
    found = alarms(records(30.0, 0.02), records(5.0, 0.02), Thresholds())
    by = {a["metric"]: a for a in found}
    assert by["perplexity"]["fired"] and not by["oov_share"]["fired"]
    assert math.exp(by["perplexity"]["shift"]) == pytest.approx(6.0, rel=0.01)
    assert "6.00x" in by["perplexity"]["message"] and "4.00x" in by["perplexity"]["message"]
    assert by["perplexity"]["p_value"] < 0.01
    # the same shift on too few transcripts is not significant: no alarm
    few = alarms(records(30.0, 0.02, n=2), records(5.0, 0.02, n=2), Thresholds())
    assert not any(a["fired"] for a in few)


def test_no_b_uses_absolute_limits() -> None:
    found = {a["metric"]: a for a in alarms(records(5.0, 0.5), None, Thresholds())}
    assert found["oov_share"]["fired"] and found["oov_share"]["mode"] == "absolute"
    assert not found["perplexity"]["fired"]
    assert "compression_ratio" not in found  # no absolute limit for a relative measure


def test_compare_effect_size_and_aggregate_cis() -> None:
    cmp = compare(records(30.0, 0.3), records(5.0, 0.0))
    assert cmp["perplexity"]["cliffs_delta"] == 1.0 and cmp["oov_share"]["cliffs_delta"] == 1.0
    assert cmp["non_latin_share"]["p_value"] == 1.0  # identical constant values
    agg = aggregate(records(5.0, 0.1))
    assert agg["perplexity"]["ci_low"] <= agg["perplexity"]["value"] <= agg["perplexity"]["ci_high"]
    assert agg["oov_share"]["n"] == 20


def test_per_transcript_scores_and_auroc() -> None:
    base = records(5.0, 0.0)
    scores = alarm_scores(records(50.0, 0.5), base, Thresholds())
    assert all(s["combined"] >= 1 for s in scores)
    assert all(s["combined"] < 1 for s in alarm_scores(base, base, Thresholds()))
    assert auroc([2, 3], [0, 1]) == 1.0 and auroc([1], [1]) == 0.5
    assert math.isnan(auroc([], [1]))


def test_thresholds_are_checked() -> None:
    with pytest.raises(BadInputError, match="perplexity_ratio"):
        Thresholds(perplexity_ratio=0.5)
    with pytest.raises(BadInputError, match="alpha"):
        Thresholds(alpha=0)
    assert Thresholds(perplexity_ratio=0).relative("perplexity") == 0.0  # turned off


def test_invisible_characters_are_a_metric_with_an_alarm() -> None:
    from faithline.legibility.text import text_metrics

    clean = text_metrics("heads then tails", None)
    hidden = text_metrics("heads\u200b then\u202e tails\U000e0041", None)
    assert clean["invisible_chars"] == 0.0 and hidden["invisible_chars"] == 3.0
    base = records(5.0, 0.02, n=40)
    drifted = [{**r, "invisible_chars": 2.0 if i % 2 else 0.0} for i, r in enumerate(base)]
    for r in base:
        r["invisible_chars"] = 0.0
    by = {a["metric"]: a for a in alarms(drifted, base, Thresholds())}
    assert by["invisible_chars"]["fired"] and not by["oov_share"]["fired"]
    absolute = {a["metric"]: a for a in alarms(drifted, None, Thresholds())}
    honest = {a["metric"]: a for a in alarms(base, None, Thresholds())}
    assert absolute["invisible_chars"]["fired"] and not honest["invisible_chars"]["fired"]
    one = [dict(base[0], invisible_chars=1.0)]
    assert alarm_scores(one, base, Thresholds())[0]["combined"] >= 1  # a single CoT fires
