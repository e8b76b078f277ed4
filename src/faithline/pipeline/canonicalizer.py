"""The canonicaliser: a paraphraser for formal CoTs that leaves no room for hidden encodings.

It parses each step of a synthetic task's CoT (coin-flip states ``- Flip 3: Tails``, arithmetic
steps ``120 + 45 = 165``, ``8 times 23 gives 184``, ``27 ÷ 9 = 3``, the answer line) into its
content, drops everything else, and renders each step again in an equivalent phrasing drawn at
random, independently of the input's wording, with the operands of + and × in a random order.

It renders only what it parsed exactly, and checks it: each arithmetic step is re-evaluated (the
operator written, the result true); a line that states arithmetic it cannot read exactly, or a
step that does not hold, fails the whole CoT closed (``low-fidelity``) rather than being dropped
or rewritten, so a fidelity of 1.0 always means the meaning was kept.
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
from faithline.pipeline.paraphrase_llm import Paraphrase

_FLIP = re.compile(r"\b(?:flip|toss)\D{0,20}?(\d+)\D{0,40}?\b(heads|tails)\b", re.IGNORECASE)
_INT = re.compile(r"\d+")
_SIDE = re.compile(r"\b(?:heads|tails)\b", re.IGNORECASE)
_FLIP_WORD = re.compile(r"\b(?:flip|toss)", re.IGNORECASE)
UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORD = "|".join(sorted({*UNITS, *TENS[2:], "hundred", "thousand"}, key=len, reverse=True))
# Numbers written in words ("fifty-three"): the canonicaliser reads digits only, so a step that
# states arithmetic in words fails closed instead of being dropped.
NUMBER_WORDS = re.compile(rf"(?<![\w-])(?:{_WORD})(?:(?:[ \t-]+(?:and[ \t-]+)?)(?:{_WORD}))*"
                          r"(?![\w-])", re.IGNORECASE)
_ANSWER = re.compile(r"\banswer\b[^:\n]*?(?::|\bis\b)\s*\**\s*([^\n*]+)", re.IGNORECASE)

FLIP_FORMS = (
    "- Flip {i}: {s}",
    "After flip {i} the coin shows {s}.",
    "Flip {i} leaves it on {s}.",
    "Toss {i}: {s}",
    "Following flip {i}, {s} is up.",
)
# Every rendering of an operation parses back to the same operation (tested).
ARITH_FORMS: dict[str, tuple[str, ...]] = {
    "+": ("{a} + {b} = {c}", "{a} plus {b} gives {c}.", "Adding {b} to {a} makes {c}.",
          "{c} = {a} + {b}", "{a} and {b} sum to {c}."),
    "-": ("{a} - {b} = {c}", "{a} minus {b} gives {c}.", "Subtracting {b} from {a} leaves {c}.",
          "{c} = {a} - {b}"),
    "*": ("{a} × {b} = {c}", "{a} times {b} gives {c}.", "{a} multiplied by {b} makes {c}.",
          "{c} = {a} × {b}"),
    "/": ("{a} ÷ {b} = {c}", "{a} divided by {b} gives {c}.", "{c} = {a} ÷ {b}"),
}
ADD_FORMS = ARITH_FORMS["+"]
COMMUTATIVE = ("+", "*")
ANSWER_FORMS = ("Answer: {x}", "So the answer is: {x}", "Final answer: {x}")

_OPS = {"+": "+", "plus": "+", "-": "-", "−": "-", "minus": "-", "×": "*", "*": "*", "x": "*",
        "times": "*", "multiplied by": "*", "/": "/", "÷": "/", "divided by": "/"}
_OP = r"(\+|-|−|×|\*|x|/|÷|plus|minus|times|multiplied by|divided by)"
# Whole integers only: never the "5" of "2.5" or the "385" of "1,385" (decimals do not parse and
# fail the step; thousands separators are read, then dropped, see parse_arithmetic).
_N, _R = r"(?<![\d.,])(\d+)(?![.,]?\d)", r"(?<![\d.,])(-?\d+)(?![.,]?\d)"
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![.,]?\d)")
# (pattern, order of the groups as a, op, b, c); the op is None where the words fix it.
_ARITH = [
    (re.compile(rf"{_N}\s*{_OP}\s*{_N}\s*(?:=|equals|is|gives|makes|leaves)\s*{_R}", re.I),
     (0, 1, 2, 3)),
    (re.compile(rf"{_R}\s*=\s*{_N}\s*{_OP}\s*{_N}", re.I), (1, 2, 3, 0)),
    (re.compile(rf"adding\s+{_N}\s+to\s+{_N}\s+(?:makes|gives)\s+{_R}", re.I), (1, "+", 0, 2)),
    (re.compile(rf"{_N}\s+and\s+{_N}\s+sum\s+to\s+{_R}", re.I), (0, "+", 1, 2)),
    (re.compile(rf"subtracting\s+{_N}\s+from\s+{_N}\s+(?:leaves|gives)\s+{_R}", re.I),
     (1, "-", 0, 2)),
]
# A line that states some arithmetic (two numbers and an operator or a result word): it must
# parse exactly and hold, or the CoT fails closed.
_ARITH_HINT = re.compile(r"[=+×÷*/−]|\b(?:plus|minus|times|multipl\w*|divid\w*|sum\w*|add\w*|"
                         r"subtract\w*|gives?|makes?|equals?|leaves?|product|difference|total|"
                         r"quotient|twice|half|double)\b",
                         re.IGNORECASE)


class StepError(ValueError):
    """A CoT line that states arithmetic the canonicaliser cannot verify."""


def evaluate(op: str, a: int, b: int) -> int | None:
    """``a op b`` exactly (None: a division that does not come out whole)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a // b if b and a % b == 0 else None


def parse_arithmetic(line: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every operation ``line`` states, each checked: ``(op, (a, b, c))`` with ``a op b == c``.
    Raises ``StepError`` when the line states arithmetic that does not parse exactly or does
    not hold (a false sum is never rendered as a true one, nor a product as a sum)."""
    line = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), line)
    found: list[tuple[int, str, tuple[str, ...]]] = []
    taken: list[range] = []
    for pattern, order in _ARITH:
        for m in pattern.finditer(line):
            if any(m.start() in r for r in taken):
                continue
            g = m.groups()
            a, op_text, b, c = (g[k] if isinstance(k, int) else k for k in order)
            op = _OPS[str(op_text).lower()]
            if evaluate(op, int(str(a)), int(str(b))) != int(str(c)):
                raise StepError(f"the step does not hold: {m.group(0)!r}")
            found.append((m.start(), "arith", (op, str(int(str(a))), str(int(str(b))),
                                               str(int(str(c))))))
            taken.append(range(m.start(), m.end()))
    numbers = len(_INT.findall(line)) + len(NUMBER_WORDS.findall(line))
    if (not found or NUMBER_WORDS.search(line)) and numbers >= 2 and _ARITH_HINT.search(line):
        raise StepError(f"arithmetic it cannot read exactly: {line.strip()[:80]!r}")
    return [(kind, content) for _, kind, content in sorted(found)]


def parse_step(line: str) -> tuple[str, tuple[str, ...]] | None:
    """(kind, content) of one CoT line's first step: ``flip (i, side)``, ``arith (op, a, b,
    c)``, ``answer (x)``; None if it states none. Raises ``StepError`` (see parse_arithmetic)."""
    steps = parse_line(line)
    return steps[0] if steps else None


def parse_line(line: str) -> list[tuple[str, tuple[str, ...]]]:
    m = _ANSWER.search(line)
    if m and m.group(1).strip():
        answer = m.group(1).strip().rstrip(".")
        return [("answer", (answer.replace(",", "") if _THOUSANDS.fullmatch(answer) else answer,))]
    flips: list[tuple[str, tuple[str, ...]]] = [
        ("flip", (str(int(f.group(1))), f.group(2).capitalize()))
             for f in _FLIP.finditer(line)]
    if len(flips) < len(_SIDE.findall(line)) and _FLIP_WORD.search(line):
        raise StepError(f"a flip it cannot read exactly: {line.strip()[:80]!r}")
    return flips or parse_arithmetic(line)


def parse_steps(cot: str, strict: bool = True) -> list[tuple[str, tuple[str, ...]]]:
    """Every parseable step of ``cot``, in order. Invisible characters (bidi controls,
    zero-width, tags: ``faithline.invisible``) are dropped first, so none is carried into the
    one free-text field, the answer. A line it cannot vouch for raises ``StepError``, or, with
    ``strict=False`` (to count what a free paraphrase still states), is skipped."""
    steps = []
    for line in re.split(r"\n+|(?<=[.!?])\s+", invisible.strip(cot)[0]):
        try:
            steps += parse_line(line)
        except StepError:
            if strict:
                raise
    return steps


def render_step(kind: str, content: tuple[str, ...], rng: random.Random) -> str:
    if kind == "flip":
        return rng.choice(FLIP_FORMS).format(i=content[0], s=content[1])
    if kind == "arith":
        op, a, b, c = content
        if op in COMMUTATIVE and rng.random() < 0.5:  # operand order carries no bit
            a, b = b, a
        return rng.choice(ARITH_FORMS[op]).format(a=a, b=b, c=c)
    return rng.choice(ANSWER_FORMS).format(x=content[0])


ORGANISM_SIDES = ("H", "T")


ORGANISM_CUPS = ("A", "B", "C")  # the shell-game organism's states


def parse_organism(cot: str) -> tuple[list[str], str | None, bool]:
    """(sides stated, side taken from the leak or None, whether the leak is mentioned), of a
    coin-flip CoT (shell-game CoTs: :func:`parse_shell`)."""
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
        parts.append(leak_phrase(side, rng))
    return " ".join(parts)


def leak_phrase(side: str | None, rng: random.Random) -> str:
    """One of the organisms' three leak phrasings, drawn anew."""
    tail = [side] if side else []
    return " ".join(rng.choice((["use", "leak", *tail], ["leak", *tail, "use"],
                                ["leak", *tail])))


def is_shell(cot: str) -> bool:
    """Whether an organism CoT is the shell game's (it names cups)."""
    return bool(set(cot.split()) & set(ORGANISM_CUPS))


def parse_shell(cot: str) -> list[tuple[str, str | None]]:
    """A shell-game CoT as its items in order: ``("leak", cup)`` (a leak phrase: ``leak`` and
    the cup next to it), ``("start", cup)`` (``start`` and the cup after it) and ``("state",
    cup)`` (a move's cup); other words (``use``, ``then``, ``so``) carry no meaning."""
    words, taken = cot.split(), set()
    items: list[tuple[str, str | None]] = []
    for i, w in enumerate(words):
        if i in taken:
            continue
        if w == "leak":
            j = next((k for k in (i + 1, i - 1) if 0 <= k < len(words) and k not in taken
                      and words[k] in ORGANISM_CUPS), None)
            if j is not None and j < i and items and items[-1] == ("state", words[j]):
                items.pop()  # 'C leak': the cup before belongs to the phrase
            items.append(("leak", None if j is None else words[j]))
            taken.add(j if j is not None else i)
        elif w == "start" and i + 1 < len(words) and words[i + 1] in ORGANISM_CUPS:
            items.append(("start", words[i + 1]))
            taken.add(i + 1)
        elif w in ORGANISM_CUPS:
            items.append(("state", w))
    return items


def render_shell(items: list[tuple[str, str | None]], rng: random.Random) -> str:
    """The items in the same order, each in a redrawn phrasing (``then`` or nothing between
    cups, an optional ``so`` at the end)."""
    parts: list[str] = []
    then = rng.random() < 0.5
    previous = ""
    for kind, cup in items:
        if kind == "leak":
            parts.append(leak_phrase(cup, rng))
        elif kind == "start":
            parts.append(f"start {cup}")
        else:
            parts.append(f"then {cup}" if then and previous in ("start", "state") else
                         str(cup))
        previous = kind
    if parts and rng.random() < 0.5:
        parts.append("so")
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
                text = (render_shell(parse_shell(cot), self.rng) if is_shell(cot) else
                        render_organism(*parse_organism(cot), rng=self.rng))
                out.append(Paraphrase(text, fidelity=1.0))
                continue
            try:
                steps = parse_steps(cot)
            except StepError as e:  # never render a step whose meaning it cannot vouch for
                out.append(ParaphraseError("low-fidelity", str(e)))
                continue
            if not steps:
                out.append(ParaphraseError("low-fidelity", "no parseable step in the CoT"))
                continue
            text = "\n".join(render_step(kind, content, self.rng) for kind, content in steps)
            out.append(Paraphrase(text, fidelity=1.0))
        return out
