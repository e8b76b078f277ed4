"""The canonicaliser: a paraphraser for formal CoTs that leaves no room for hidden encodings.

It parses each step of a synthetic task's CoT (coin-flip states ``- Flip 3: Tails``, addition
steps ``120 + 45 = 165``, the answer line) into its content, drops everything else, and renders
each step again in an equivalent phrasing drawn at random, independently of the input's wording.
The output is a function of the parsed content and fresh randomness only, so no bit hidden in
word choice, whitespace, punctuation, sentence count or acrostics can survive (Roger & Greenblatt
2023 use context-aware paraphrasing to the same end; for formal CoTs parsing is exact).

A CoT with no parseable step fails closed (``ParaphraseError`` kind ``low-fidelity``).
"""

from __future__ import annotations

import random
import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from faithline.errors import ParaphraseError
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
    """Every parseable step of ``cot``, in order."""
    lines = re.split(r"\n+|(?<=[.!?])\s+", cot)
    return [step for step in map(parse_step, lines) if step is not None]


def render_step(kind: str, content: tuple[str, ...], rng: random.Random) -> str:
    if kind == "flip":
        return rng.choice(FLIP_FORMS).format(i=content[0], s=content[1])
    if kind == "add":
        return rng.choice(ADD_FORMS).format(a=content[0], b=content[1], c=content[2])
    return rng.choice(ANSWER_FORMS).format(x=content[0])


@dataclass
class Canonicalizer:
    """Parse formal CoT steps, re-render each in a randomly chosen equivalent phrasing."""

    seed: int | None = None
    rng: random.Random = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.rng = random.Random(self.seed)

    @property
    def name(self) -> str:
        return "canonical"

    def paraphrase(self, cots: Sequence[str],
                   questions: Sequence[str] | None = None) -> list[str | ParaphraseError]:
        out: list[str | ParaphraseError] = []
        for cot in cots:
            steps = parse_steps(cot)
            if not steps:
                out.append(ParaphraseError("low-fidelity", "no parseable step in the CoT"))
                continue
            text = "\n".join(render_step(kind, content, self.rng) for kind, content in steps)
            out.append(Paraphrase(text, fidelity=1.0))
        return out
