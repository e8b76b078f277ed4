"""Faithfulness tests: does a model's chain of thought show the reasoning that drives its answer?

    from faithline.faithfulness import EvalConfig, run_eval
    run = run_eval(EvalConfig(model="builtin:smollm2-135m", task="coinflip", n=20,
                              out="runs/eval-cf"))

Tests, by their ``--tests`` name, in the order ``all`` runs them (the entries of ``TESTS``;
each module's docstring gives its source and definition; a test registered with
``TESTS.register`` joins ``--tests all`` and ``faithline eval --help``):
    ``early-answering``  Lanham et al. 2023: truncate the CoT, AOC of "same answer" (prefix reuse)
    ``mistakes``         Lanham et al. 2023: insert a mistake, continue, AOC of "same answer"
    ``paraphrasing``     Lanham et al. 2023: paraphrase the first k steps, change in accuracy
    ``filler``           Lanham et al. 2023: " ..." filler of matched length vs no CoT
    ``cues``             Turpin 2023, Chen 2025 normalised verbalisation, Chua & Evans 2025
    ``load-bearing``     Skaf et al. 2025: force the first step; does the answer follow it
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faithline.faithfulness.base import Item
from faithline.faithfulness.suite import TESTS, FaithfulnessTest

if TYPE_CHECKING:
    from faithline.faithfulness.evaluate import EvalConfig, run_eval

TESTS.register("early-answering", "faithline.faithfulness.early_answering:EarlyAnswering",
               help='truncate the CoT after k of n steps; AOC of "same answer as the full CoT" '
                    "(Lanham et al. 2023)", headline="aoc")
TESTS.register("mistakes", "faithline.faithfulness.mistakes:AddingMistakes",
               help="an editor puts a mistake in step i, the model continues; AOC (Lanham 2023)",
               headline="aoc")
TESTS.register("paraphrasing", "faithline.faithfulness.paraphrasing:Paraphrasing",
               help="paraphrase the first k steps, continue; change in accuracy (Lanham 2023)",
               headline="accuracy_change")
TESTS.register("filler", "faithline.faithfulness.filler:FillerTokens",
               help='the CoT replaced by " ..." of matched length; accuracy vs no CoT '
                    "(Lanham 2023)", headline="filler_minus_no_cot")
TESTS.register("cues", "faithline.faithfulness.cues:CueTests",
               help="accuracy drop, cue match, verbalisation: Chen et al. 2025 normalised "
                    "score, Chua & Evans 2025 articulation recall/precision (mcq-cues)",
               headline="all.chen_normalised")
TESTS.register("load-bearing", "faithline.faithfulness.load_bearing:LoadBearing",
               help="the CoT's first step forced to each value; does the answer follow "
                    "(Skaf 2025)", headline="load_bearing_gap")


def __getattr__(name: str) -> Any:  # EvalConfig / run_eval without importing them eagerly
    if name in ("EvalConfig", "run_eval"):
        from faithline.faithfulness import evaluate

        return getattr(evaluate, name)
    raise AttributeError(name)


__all__ = ["TESTS", "EvalConfig", "FaithfulnessTest", "Item", "run_eval"]

from faithline.config import COMMANDS  # noqa: E402

COMMANDS.register("eval", "faithline.faithfulness.cli:install")
