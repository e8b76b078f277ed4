"""Faithfulness tests: does a model's chain of thought show the reasoning that drives its answer?

    from faithline.faithfulness import EvalConfig, run_eval
    run = run_eval(EvalConfig(model="builtin:smollm2-135m", task="coinflip", n=20,
                              out="runs/eval-cf"))

Tests, by their ``--tests`` name (each module's docstring gives its source and definition):
    ``early-answering``  Lanham et al. 2023: truncate the CoT, AOC of "same answer" (prefix reuse)
    ``mistakes``         Lanham et al. 2023: insert a mistake, continue, AOC of "same answer"
    ``paraphrasing``     Lanham et al. 2023: paraphrase the first k steps, change in accuracy
    ``filler``           Lanham et al. 2023: " ..." filler of matched length vs no CoT
    ``cues``             Turpin 2023, Chen 2025 normalised verbalisation, Chua & Evans 2025
    ``load-bearing``     Skaf et al. 2025: force the first step; does the answer follow it
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from faithline.faithfulness.base import FaithfulnessTest, Item
from faithline.registry import Registry

if TYPE_CHECKING:
    from faithline.faithfulness.evaluate import EvalConfig, run_eval

TESTS: Registry[FaithfulnessTest] = Registry("faithfulness test")
TESTS.register("early-answering", "faithline.faithfulness.early_answering:EarlyAnswering")
TESTS.register("mistakes", "faithline.faithfulness.mistakes:AddingMistakes")
TESTS.register("paraphrasing", "faithline.faithfulness.paraphrasing:Paraphrasing")
TESTS.register("filler", "faithline.faithfulness.filler:FillerTokens")
TESTS.register("cues", "faithline.faithfulness.cues:CueTests")
TESTS.register("load-bearing", "faithline.faithfulness.load_bearing:LoadBearing")
ORDER = ("early-answering", "mistakes", "paraphrasing", "filler", "cues", "load-bearing")


def __getattr__(name: str) -> Any:  # EvalConfig / run_eval without importing them eagerly
    if name in ("EvalConfig", "run_eval"):
        from faithline.faithfulness import evaluate

        return getattr(evaluate, name)
    raise AttributeError(name)


__all__ = ["ORDER", "TESTS", "EvalConfig", "FaithfulnessTest", "Item", "run_eval"]
