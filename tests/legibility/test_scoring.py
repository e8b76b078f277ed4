"""Token log-likelihoods under the real SmolLM2, and the metrics built on them."""

from __future__ import annotations

import math
from typing import Any

import pytest

from faithline.errors import BadInputError
from faithline.legibility.drift import encode
from faithline.legibility.metrics import legibility_metrics
from faithline.legibility.scoring import ReferenceScorer
from faithline.types import Prompt, Transcript

COT = "- Flip 1: Heads\n- Flip 2: Tails\n- Flip 3: Tails\nAnswer: Tails"


def test_scores_agree_with_the_model_and_do_not_depend_on_batching(smollm2: Any) -> None:
    scorer = ReferenceScorer.load(smollm2)
    prompt = Prompt.user("Which side is up after the last flip?")
    rendered = smollm2.render(prompt)
    [expected] = smollm2.score(prompt, ["The coin shows Tails."])
    [got] = scorer.token_logprobs(["The coin shows Tails."], [rendered])
    assert got.logprobs.sum() == pytest.approx(expected, abs=0.05)
    texts = [COT, "Tails.", "The coin was flipped three times and ended on Tails."]
    together = scorer.token_logprobs(texts)
    alone = [scorer.token_logprobs([t])[0] for t in texts]
    for a, b in zip(together, alone, strict=True):
        assert a.tokens == b.tokens and a.nll == pytest.approx(b.nll, abs=0.05)
    assert math.isnan(scorer.token_logprobs([""])[0].nll)


def test_a_raw_torch_model_needs_its_tokenizer(smollm2: Any) -> None:
    scorer = ReferenceScorer.load(smollm2.model, tokenizer=smollm2.tokenizer)
    assert scorer.token_logprobs([COT])[0].nll == pytest.approx(
        ReferenceScorer.load(smollm2).token_logprobs([COT])[0].nll)
    with pytest.raises(BadInputError, match="tokenizer"):
        ReferenceScorer.load(smollm2.model)


def test_legibility_metrics_reads_transcripts_dicts_and_strings(smollm2: Any) -> None:
    code = encode(COT, 1.0)
    legible = legibility_metrics([COT, Transcript("t", "p", COT, "Tails"), {"cot": COT}],
                                 reference=smollm2)
    drifted = legibility_metrics([code], reference=smollm2)
    assert legible["n"] == 3 and legible["oov_share"] == 0.0
    assert drifted["oov_share"] > 0.3 and drifted["perplexity"] > legible["perplexity"]
    with pytest.raises(BadInputError, match="without 'cot'"):
        legibility_metrics([{"text": COT}], reference=smollm2)
