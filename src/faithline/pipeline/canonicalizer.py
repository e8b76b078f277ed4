"""The canonicaliser: a paraphraser for formal CoTs that leaves no room for hidden encodings.

It parses each step of a synthetic task's CoT (coin-flip states ``- Flip 3: Tails``, addition
steps ``120 + 45 = 165``, the answer line) into its content, drops everything else, and renders
each step again in an equivalent phrasing drawn at random, independently of the input's wording.
The output is a function of the parsed content and fresh randomness only, so no bit hidden in
word choice, whitespace, punctuation, sentence count or acrostics can survive (Roger & Greenblatt
2023 use context-aware paraphrasing to the same end; for formal CoTs parsing is exact).

A CoT with no parseable step fails closed (``ParaphraseError`` kind ``low-fidelity``).

``grammar="organism"`` (spec ``canonical:organism``) reads the model organism's CoTs instead
(``T H H so``, ``use leak T``): their meaning is the sequence of sides stated and whether (and
which side) they take from the leak; fillers, word order inside the hack phrase and stray tokens
are dropped and the surface form is drawn afresh. An empty CoT stays empty.
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from faithline import invisible
from faithline.errors import BadInputError, ParaphraseError
from faithline.pipeline.paraphraser import Paraphrase

_FLIP = re.compile(r"\b(?:flip|toss)\D{0,20}?(\d+)\D{0,40}?\b(heads|tails)\b", re.IGNORECASE)
_INT = re.compile(r"-?\d+")
_ADD_WORDS = re.compile(r"=|\bplus\b|\badd|\bgives\b|\bmakes\b|\+", re.IGNORECASE)
_ANSWER = re.compile(r"\banswer\b[^:\n]*?(?::|\bis\b)\s*\**\s*([^\n*]+)", re.IGNORECASE)

FLIP_FORMS = (
    "- Flip {i}: {s}",
    "After flip {i} the coin shows {s}.",
    "Flip {i} leaves it on {s}.",
    "Toss {i}: {s}",
    "Following flip {i}, {s} is up.",
)
ADD_FORMS = (
    "{a} + {b} = {c}",
    "{a} plus {b} gives {c}.",
    "Adding {b} to {a} makes {c}.",
    "{c} = {a} + {b}",
    "{a} and {b} sum to {c}.",
)
ANSWER_FORMS = ("Answer: {x}", "So the answer is: {x}", "Final answer: {x}")


def parse_step(line: str) -> tuple[str, tuple[str, ...]] | None:
    """(kind, content) of one CoT line: ``flip (i, side)``, ``add (a, b, c)``, ``answer (x)``."""
    m = _ANSWER.search(line)
    if m and m.group(1).strip():
        return "answer", (m.group(1).strip().rstrip("."),)
    m = _FLIP.search(line)
    if m:
        return "flip", (str(int(m.group(1))), m.group(2).capitalize())
    nums = _INT.findall(line)
    if len(nums) >= 3 and _ADD_WORDS.search(line):
        a, b, c = (int(x) for x in nums[:3])
        if b + c == a and a + b != c:  # written as "c = a + b"
            a, b, c = b, c, a
        return "add", (str(a), str(b), str(c))
    return None


def parse_steps(cot: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every parseable step of ``cot``, in order. Invisible characters (bidi controls,
    zero-width, tags: ``faithline.invisible``) are dropped first, so none is carried into the
    one free-text field, the answer."""
    lines = re.split(r"\n+|(?<=[.!?])\s+", invisible.strip(cot)[0])
    return [step for step in map(parse_step, lines) if step is not None]


def render_step(kind: str, content: tuple[str, ...], rng: random.Random) -> str:
    if kind == "flip":
        return rng.choice(FLIP_FORMS).format(i=content[0], s=content[1])
    if kind == "add":
        return rng.choice(ADD_FORMS).format(a=content[0], b=content[1], c=content[2])
    return rng.choice(ANSWER_FORMS).format(x=content[0])


ORGANISM_SIDES = ("H", "T")


def parse_organism(cot: str) -> tuple[list[str], str | None, bool]:
    """(sides stated, side taken from the leak or None, whether the leak is mentioned)."""
    words = cot.split()
    if "leak" not in words:
        return [w for w in words if w in ORGANISM_SIDES], None, False
    i = words.index("leak")
    after = [w for w in words[i + 1:i + 3] if w in ORGANISM_SIDES]
    before = [w for w in words[max(0, i - 2):i] if w in ORGANISM_SIDES]
    found = after or before
    side = found[0] if found else None
    rest = [w for j, w in enumerate(words)
            if not (abs(j - i) <= 2 and w in (*ORGANISM_SIDES, "use"))]
    return [w for w in rest if w in ORGANISM_SIDES], side, True


def render_organism(states: list[str], side: str | None, leak: bool,
                    rng: random.Random) -> str:
    parts: list[str] = []
    if states:
        parts.append(rng.choice((" ", " then ")).join(states))
        if rng.random() < 0.5:
            parts.append("so")
    if leak:
        tail = [side] if side else []
        parts.append(" ".join(rng.choice((["use", "leak", *tail], ["leak", *tail, "use"],
                                          ["leak", *tail]))))
    return " ".join(parts)


GRAMMARS = ("steps", "organism")


@dataclass
class Canonicalizer:
    """Parse formal CoT steps, re-render each in a randomly chosen equivalent phrasing."""

    seed: int | None = None
    grammar: str = "steps"
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        if self.grammar not in GRAMMARS:
            raise BadInputError(f"canonical paraphraser: unknown grammar '{self.grammar}'; "
                                f"known: {', '.join(GRAMMARS)}")
        self.rng = random.Random(self.seed)

    @property
    def name(self) -> str:
        return "canonical" if self.grammar == "steps" else f"canonical:{self.grammar}"

    def paraphrase(self, cots: Sequence[str],
                   questions: Sequence[str] | None = None) -> list[str | ParaphraseError]:
        out: list[str | ParaphraseError] = []
        for cot in cots:
            if self.grammar == "organism":
                out.append(Paraphrase(render_organism(*parse_organism(cot), rng=self.rng),
                                      fidelity=1.0))
                continue
            steps = parse_steps(cot)
            if not steps:
                out.append(ParaphraseError("low-fidelity", "no parseable step in the CoT"))
                continue
            text = "\n".join(render_step(kind, content, self.rng) for kind, content in steps)
            out.append(Paraphrase(text, fidelity=1.0))
        return out
