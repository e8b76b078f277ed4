"""Arms as data: the registered arms and arms composed on the command line."""

from __future__ import annotations

import pytest

from faithline.errors import BadInputError
from faithline.train.arms import ARMS, DEMO_ARMS, parse_arm


def test_the_arms_say_who_answers_and_where_the_penalty_lands() -> None:
    assert sorted({*DEMO_ARMS, "face-pressure", "paraphrase-pressure", "paraphrase-step",
                   "step-pressure"}) == ARMS.names()
    arms = {name: parse_arm(name) for name in ARMS.names()}
    assert (arms["outcome"].answer, arms["outcome"].penalty) == ("policy", "none")
    assert (arms["pressure"].answer, arms["pressure"].penalty) == ("policy", "cot")
    assert (arms["face"].face, arms["face"].penalty, arms["face"].paraphrase) == (
        True, "face", False)
    assert arms["paraphrase"].paraphrase and arms["paraphrase"].penalty == "face"
    assert arms["legibility"].extras == ("legibility",) and arms["legibility"].penalty == "cot"
    # the encoded-reasoning experiment's arms: the CoT pressure with a Face, with and without
    # the paraphraser between the two
    assert (arms["face-pressure"].face, arms["face-pressure"].penalty,
            arms["face-pressure"].paraphrase) == (True, "cot", False)
    assert arms["paraphrase-pressure"].paraphrase and arms["paraphrase-pressure"].penalty == "cot"
    assert not arms["paraphrase-pressure"].steps
    # per-step placement: the paraphraser in the Shoggoth's own loop
    assert arms["paraphrase-step"].steps and arms["paraphrase-step"].penalty == "face"
    assert arms["step-pressure"].steps and arms["step-pressure"].penalty == "cot"


def test_arms_compose_on_the_command_line() -> None:
    arm = parse_arm("name=face-legible,answer=face,penalty=cot,extras=legibility")
    assert (arm.name, arm.face, arm.penalty, arm.extras) == (
        "face-legible", True, "cot", ("legibility",))
    assert parse_arm("answer=face,paraphrase=yes").paraphrase
    step = parse_arm("answer=face,penalty=cot,paraphrase=step")
    assert step.paraphrase and step.steps


@pytest.mark.parametrize("text, match", [
    ("nosuch", "unknown arm 'nosuch'"),
    ("answer=policy,penalty=face", "needs answer=face"),
    ("answer=policy,paraphrase=yes", "needs answer=face"),
    ("extras=speed", "unknown extra"),
    ("colour=red", "is not one of"),
    ("answer=face,paraphrase=maybe", "yes .= face., step or no"),
    ("answer=face,paraphrase=step,extras=legibility", "per-step rows"),
])
def test_bad_arms_are_clear_errors(text: str, match: str) -> None:
    with pytest.raises(BadInputError, match=match):
        parse_arm(text)
