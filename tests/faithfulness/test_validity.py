"""Validity diagnostics: unknown readings, steps per CoT, readout agreement, option position,
and the cue judges side by side (``faithline.faithfulness.validity``, ``cues``)."""

from __future__ import annotations

import math
from typing import Any

import pytest

from faithline.faithfulness.base import area_over
from faithline.faithfulness.cues import cohen_kappa, judge_comparison
from faithline.faithfulness.validity import Validity, aocs, known_points, rotated, same_answer
from faithline.tasks.mcq_cues import McqCuesTask


def test_unparsed_readings_are_unknown_never_changed() -> None:
    """A truncation whose answer cannot be parsed is neither "same" nor "changed": the AOC uses
    the known points, and the bounds count every unknown as retained (low) or changed (high)."""
    assert same_answer(None, "A") is None and same_answer("A", None) is None
    assert same_answer("B", "A") is False and same_answer("A", "A") is True
    xs = [0.0, 0.5, 1.0]
    got = aocs(xs, [None, True, True])
    assert got["aoc"] == 0.0  # the first known value carries back to x = 0
    assert got["aoc_low"] == 0.0
    assert got["aoc_high"] == pytest.approx(area_over(xs, [0, 1, 1]))
    assert known_points(xs, [False, None, True]) == ([0.0, 1.0], [0.0, 1.0])
    assert aocs(xs, [None, None, None])["aoc"] is None


def test_warnings_fire_only_when_the_number_means_nothing() -> None:
    v = Validity("early-answering")
    v.parse(["A", None, None, "B"], bounds={"low": {"value": 0.1}, "high": {"value": 0.6}})
    v.steps([1, 2, 2, 5])
    v.readout(["A", "B", "C", "D"], ["D", "D", "D", "D"])
    v.position([{"same_letter": True, "same_content": False}] * 3
               + [{"same_letter": False, "same_content": True}])
    checks = [w["check"] for w in v.warnings]
    assert checks == ["parse", "steps", "readout", "position"]
    assert "[0.100, 0.600]" in v.warnings[0]["message"]
    assert v.diagnostics["steps"]["median"] == 2.0
    assert v.diagnostics["readout_agreement"]["value"] == pytest.approx(0.25)
    assert v.diagnostics["position"]["same_letter"]["value"] == pytest.approx(0.75)
    ok = Validity("early-answering")
    ok.parse(["A"] * 20)
    ok.steps([8] * 10)
    ok.readout(["A", "B"] * 5, ["A", "B"] * 5)
    ok.position([{"same_letter": False, "same_content": True}] * 4)
    assert ok.warnings == [] and ok.into({})["warnings"] == []
    none_given = Validity("filler")
    none_given.readout([None] * 5, ["A"] * 5)  # the model never gives a parseable answer
    assert [w["check"] for w in none_given.warnings] == ["readout"]


def test_rotated_options_keep_the_gold_content() -> None:
    s = McqCuesTask(cue="professor").samples(1, seed=3)[0]
    r = rotated(s, 1, "pos1")
    assert r.choices is not None and s.choices is not None
    assert r.choices == (*s.choices[1:], s.choices[0])
    assert r.choices[ord(r.answer) - 65] == s.choices[ord(s.answer) - 65]
    assert r.question == s.meta["plain_question"]  # the cue's letter would point elsewhere


def test_judges_side_by_side_and_their_agreement() -> None:
    """Cohen's kappa by hand, and per-judge verbalisation metrics from the same pairs."""
    assert cohen_kappa([(True, True), (False, False)]) == 1.0
    # observed 0.5; both say yes half the time: chance 0.5 -> kappa 0
    assert cohen_kappa([(True, True), (True, False), (False, True), (False, False)]) == 0.0
    assert math.isnan(cohen_kappa([(True, True)] * 3))
    rows: list[dict[str, Any]] = []
    for i in range(8):
        rows.append({"type": "professor", "h": "B", "a_u": "A", "a_h": "B",
                     "correct_u": True, "correct_h": False, "options": 4,
                     "verbalised_by": {"rule": i < 6, "llm:j": i < 3}})
    by_judge, agreement = judge_comparison(rows)
    assert set(by_judge) == {"rule", "llm:j"}
    assert by_judge["rule"]["articulation_recall"]["value"] == pytest.approx(6 / 8)
    assert by_judge["llm:j"]["articulation_recall"]["value"] == pytest.approx(3 / 8)
    assert agreement["rule vs llm:j"]["agreement"]["value"] == pytest.approx(5 / 8)
    assert agreement["rule vs llm:j"]["kappa"]["n"] == 8
