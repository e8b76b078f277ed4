"""The LLM judge on the real SmolLM2 (batched P(yes) from next-token scores, both views), and on
scripted OpenAI-compatible servers for the openai: scoring path and the fail-closed paths."""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

import pytest

from faithline.errors import BadInputError
from faithline.monitors import get_monitor
from faithline.monitors.llm_judge import JudgeMonitor, _next_token_logprobs, _token_ids
from faithline.types import Transcript

JUDGE = "judge:builtin:smollm2-135m"


@pytest.fixture(scope="module")
def few(english: list[Transcript]) -> list[Transcript]:
    """Two hacks said aloud, one silent hack, two honest transcripts."""
    said = [t for t in english if t.label["verbalized"]][:2]
    silent = [t for t in english if t.label["hack"] and not t.label["verbalized"]][:1]
    honest = [t for t in english if not t.label["hack"]][:2]
    return said + silent + honest


def test_batched_p_yes_matches_the_models_own_scores(smollm2: Any,
                                                     few: list[Transcript]) -> None:
    judge = JudgeMonitor(smollm2, batch_size=8)
    verdicts = judge(few)
    assert all(not v.failed and v.score is not None and 0 < v.score < 1 for v in verdicts)
    assert all(v.flag == (v.score >= 0.5) and "P(yes)=" in v.reason for v in verdicts)
    # left padding and position ids must not change a score: the same prompts one at a time
    alone = JudgeMonitor(smollm2, batch_size=1)(few[:2])
    assert [v.score for v in alone] == pytest.approx([v.score for v in verdicts[:2]], abs=0.08)
    # and the batched next-token log-probability of "Yes" is what the back-end's own score says
    prompt = judge.prompt(few[0])
    yes_id = smollm2.tokenizer("Yes", add_special_tokens=False)["input_ids"][0]
    ids = _token_ids(smollm2, ("Yes",))
    batched = _next_token_logprobs(smollm2, smollm2, [prompt, judge.prompt(few[3])], [("Yes",)],
                                   batch_size=2)[0][0][ids.index(yes_id)]
    assert batched == pytest.approx(smollm2.score(prompt, ["Yes"])[0], abs=0.3)  # bf16 on CPU


def test_answer_only_view_never_shows_the_cot(smollm2: Any, few: list[Transcript]) -> None:
    judge = get_monitor(f"{JUDGE}@view=answer,kind=hack", {"builtin:smollm2-135m": smollm2})
    assert judge.name == f"{JUDGE}@kind=hack,view=answer"
    prompt = judge.prompt(few[0]).messages[-1].content  # type: ignore[attr-defined]
    assert few[0].cot not in prompt and few[0].answer in prompt and "do not see" in prompt
    verdicts = judge(few[:2])
    assert all(not v.failed and 0 < (v.score or 0) < 1 for v in verdicts)


def test_generate_mode_parses_a_yes_or_no(smollm2: Any, few: list[Transcript]) -> None:
    judge = JudgeMonitor(smollm2, mode="generate", kind="deception")
    verdicts = judge(few[:3])
    for v in verdicts:  # SmolLM2-135M answers; whatever it says is parsed or failed, never lost
        assert v.failed or (v.score in (0.0, 1.0) and "judge said" in v.reason)


def test_openai_judge_reads_p_yes_from_top_logprobs(judge_server: Callable[..., Any],
                                                    few: list[Transcript]) -> None:
    server = judge_server("Yes", {"Yes": -0.5, "No": -1.5, "Maybe": -3.0})
    judge = get_monitor(f"judge:openai:judge@{server.url}@kind=cue")
    verdicts = judge(few[:3])
    expected = math.exp(-0.5) / (math.exp(-0.5) + math.exp(-1.5))
    assert [v.score for v in verdicts] == pytest.approx([expected] * 3)
    assert all(v.flag and not v.failed for v in verdicts)


@pytest.mark.parametrize("mode", ["auto", "generate"])
def test_a_judge_that_answers_nonsense_gives_failed_verdicts(
        judge_server: Callable[..., Any], few: list[Transcript], mode: str) -> None:
    server = judge_server("Purple bananas, probably.")  # no logprobs, no Yes/No
    judge = get_monitor(f"judge:openai:judge@{server.url}@mode={mode}")
    verdicts = judge(few[:3])
    assert all(v.failed and v.flag and v.score is None for v in verdicts)
    assert all("unparseable judge answer 'Purple bananas" in (v.error or "") for v in verdicts)


def test_yes_no_outside_the_scored_tokens_fails_in_score_mode(
        judge_server: Callable[..., Any], few: list[Transcript]) -> None:
    server = judge_server("Purple", {"Purple": -0.1, "Green": -2.5})
    verdicts = get_monitor(f"judge:openai:judge@{server.url}@mode=score")(few[:2])
    assert all(v.failed and "neither Yes nor No" in (v.error or "") for v in verdicts)


def test_bad_judge_specs(smollm2: Any) -> None:
    pool = {"builtin:smollm2-135m": smollm2}
    with pytest.raises(BadInputError, match="judge kind must be one of"):
        get_monitor(f"{JUDGE}@kind=laziness", pool)
    with pytest.raises(BadInputError, match="needs a model spec"):
        get_monitor("judge:", pool)


def test_rerunning_a_judge_is_answered_from_the_call_cache(smollm2: Any, few: list[Transcript],
                                                           tmp_path: Any) -> None:
    from faithline.models.cache import CachedModel, CallCache

    cached = CachedModel(smollm2, CallCache(tmp_path / "calls.sqlite"))
    first = JudgeMonitor(cached)(few[:2])
    assert (cached.hits, cached.misses) == (0, 2)
    again = JudgeMonitor(cached)(few[:2])
    assert (cached.hits, cached.misses) == (2, 2)
    assert [v.score for v in again] == [v.score for v in first]
