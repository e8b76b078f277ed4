"""Arms as data: who writes the answer, where the penalty lands, which paraphraser sits between
the two, which extra reward terms apply.

The five arms of the hold-the-line experiment are registry entries; a new arm is one more
``ARMS.register`` call, or is composed on the command line as ``key=value`` pairs::

    faithline train rl --arm pressure
    faithline train rl --arm "name=face-legible,answer=face,penalty=face,extras=legibility"

Keys: ``answer`` (``policy``: one model writes CoT and answer; ``face``: the policy is the
Shoggoth and stops where the answer would start, a separate Face answers), ``penalty`` (``none``,
``cot``: the monitor penalty lands on the policy's reward and so on its CoT tokens; ``face``: on
the Face's reward alone, reward targeting after Drori et al. 2025), ``paraphrase`` (``yes``: the
``--paraphraser`` rewrites the CoT before the Face reads it; ``step``: it rewrites each step
of the CoT before the Shoggoth writes the next, Kokotajlo's placement, pipeline/steps.py),
``extras`` (``+``-separated extra
reward terms of the policy: ``legibility``), ``name``.
"""

from __future__ import annotations

from dataclasses import dataclass, replace

from faithline.errors import BadInputError
from faithline.registry import Registry

ANSWERERS = ("policy", "face")
PENALTIES = ("none", "cot", "face")
EXTRAS = ("legibility",)


@dataclass(frozen=True)
class Arm:
    """One training arm (see the module docstring)."""

    name: str
    answer: str = "policy"
    penalty: str = "none"
    paraphrase: bool = False
    extras: tuple[str, ...] = ()
    title: str = ""
    steps: bool = False  # the paraphraser rewrites each step in the Shoggoth's own loop

    def __post_init__(self) -> None:
        if self.answer not in ANSWERERS:
            raise BadInputError(f"arm {self.name}: answer must be one of {ANSWERERS}")
        if self.penalty not in PENALTIES:
            raise BadInputError(f"arm {self.name}: penalty must be one of {PENALTIES}")
        if (self.penalty == "face" or self.paraphrase) and self.answer != "face":
            raise BadInputError(f"arm {self.name}: a Face penalty or a paraphraser needs "
                                "answer=face")
        if self.steps and not self.paraphrase:
            raise BadInputError(f"arm {self.name}: per-step placement needs a paraphraser")
        if self.steps and self.extras:
            raise BadInputError(f"arm {self.name}: extra reward terms read the policy's whole "
                                "completion, which per-step rows do not have")
        bad = [e for e in self.extras if e not in EXTRAS]
        if bad:
            raise BadInputError(f"arm {self.name}: unknown extra reward term(s) "
                                f"{', '.join(bad)}; known: {', '.join(EXTRAS)}")

    @property
    def face(self) -> bool:
        return self.answer == "face"


ARMS: Registry[Arm] = Registry("arm")
ARMS.register("outcome", lambda: Arm("outcome", title="1 outcome-only"),
              help="one model writes CoT and answer; reward = task (and any hack) only")
ARMS.register("pressure", lambda: Arm("pressure", penalty="cot", title="2 CoT pressure"),
              help="the monitor's penalty on the policy's reward, so on its CoT")
ARMS.register("face", lambda: Arm("face", answer="face", penalty="face",
                                  title="3 Shoggoth+Face (targeted)"),
              help="the policy writes the CoT, a Face answers; the penalty lands on the Face")
ARMS.register("paraphrase", lambda: Arm("paraphrase", answer="face", penalty="face",
                                        paraphrase=True, title="4 Shoggoth+Paraphraser+Face"),
              help="as face, with --paraphraser rewriting the CoT before the Face reads it")
ARMS.register("legibility", lambda: Arm("legibility", penalty="cot", extras=("legibility",),
                                        title="5 pressure+legibility reg."),
              help="as pressure, plus the legibility regulariser on the policy's reward")
ARMS.register("face-pressure", lambda: Arm("face-pressure", answer="face", penalty="cot",
                                           title="Shoggoth+Face, CoT pressure"),
              help="Shoggoth+Face with the penalty on the Shoggoth's CoT")
ARMS.register("paraphrase-pressure", lambda: Arm(
    "paraphrase-pressure", answer="face", penalty="cot", paraphrase=True,
    title="Shoggoth+Paraphraser+Face, CoT pressure"),
    help="Shoggoth+Paraphraser+Face with the penalty on the Shoggoth's CoT")
ARMS.register("paraphrase-step", lambda: Arm(
    "paraphrase-step", answer="face", penalty="face", paraphrase=True, steps=True,
    title="Shoggoth+Face, per-step paraphraser"),
    help="as paraphrase, with the paraphraser rewriting each step before the Shoggoth writes "
         "the next (Kokotajlo's placement)")
ARMS.register("step-pressure", lambda: Arm(
    "step-pressure", answer="face", penalty="cot", paraphrase=True, steps=True,
    title="per-step paraphraser, CoT pressure"),
    help="as paraphrase-pressure, with the paraphraser rewriting each step in the Shoggoth's "
         "own loop")
DEMO_ARMS = ("outcome", "pressure", "face", "paraphrase", "legibility")


def parse_arm(text: str) -> Arm:
    """A registered arm's name, or an arm composed as ``key=value,...``."""
    text = text.strip()
    if "=" not in text:
        return ARMS.get(text)()
    fields: dict[str, str] = {}
    for item in filter(None, (p.strip() for p in text.split(","))):
        key, eq, value = item.partition("=")
        if not eq or key not in ("name", "answer", "penalty", "paraphrase", "extras"):
            raise BadInputError(f"arm '{text}': '{item}' is not one of name=, answer=, "
                                "penalty=, paraphrase=, extras=")
        fields[key] = value.strip()
    yes = fields.get("paraphrase", "no").lower()
    if yes not in ("yes", "no", "true", "false", "1", "0", "face", "step"):
        raise BadInputError(f"arm '{text}': paraphrase must be yes (= face), step or no")
    arm = Arm(fields.get("name", "custom"), answer=fields.get("answer", "policy"),
              penalty=fields.get("penalty", "none"),
              paraphrase=yes in ("yes", "true", "1", "face", "step"), steps=yes == "step",
              extras=tuple(e for e in fields.get("extras", "").split("+") if e))
    return replace(arm, title=arm.name)
