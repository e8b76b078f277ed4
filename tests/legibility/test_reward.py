"""The legibility regulariser as TRL calls it, on the real SmolLM2 as reference."""

from __future__ import annotations

from typing import Any

import pytest

from faithline.errors import BadInputError
from faithline.legibility.drift import encode
from faithline.legibility.reward import LegibilityReward, LegibilityRewardConfig

PROMPT = "A coin starts on Heads and is flipped twice, landing on the other side each time."
COT = "After the first flip it shows Tails. After the second flip it shows Heads. Answer: Heads"


def test_legible_cot_earns_more_than_a_code(smollm2: Any) -> None:
    cfg = LegibilityRewardConfig(weight=0.5, clip_min=-8.0)
    reward = LegibilityReward(smollm2, config=cfg)
    logged: dict[str, float] = {}
    out = reward(prompts=[PROMPT] * 3, completions=[COT, encode(COT, 1.0), ""],
                 completion_ids=None, log_metric=lambda k, v: logged.__setitem__(k, v))
    assert len(out) == 3 and out[0] > out[1]
    assert all(0.5 * -8.0 <= r <= 0 for r in out) and out[2] == 0.5 * -8.0
    assert "legibility/mean_logprob" in logged
    assert reward.__name__ == "legibility"


def test_conversational_inputs_and_a_raw_model_reference(smollm2: Any) -> None:
    by_model = LegibilityReward(smollm2.model, tokenizer=smollm2.tokenizer)
    by_hf = LegibilityReward(smollm2)
    plain = by_hf(prompts=[[{"role": "user", "content": PROMPT}]],
                  completions=[[{"role": "assistant", "content": COT}]])
    assert by_model(prompts=[[{"role": "user", "content": PROMPT}]],
                    completions=[[{"role": "assistant", "content": COT}]]) == pytest.approx(plain)
    unweighted = LegibilityReward(smollm2, config=LegibilityRewardConfig(weight=1.0))
    assert unweighted(prompts=[[{"role": "user", "content": PROMPT}]],
                      completions=[COT])[0] == pytest.approx(plain[0] / 0.1)
    cot_only = LegibilityReward(smollm2, cot_of=lambda t: t.split("Answer:")[0])
    assert cot_only(prompts=None, completions=[COT])[0] != by_hf(completions=[COT])[0]
    with pytest.raises(BadInputError, match="one prompt per completion"):
        by_hf(prompts=[PROMPT], completions=[COT, COT])
    with pytest.raises(BadInputError, match="context"):
        LegibilityRewardConfig(context="chat")
