"""The canonicaliser: a paraphraser for formal CoTs that leaves no room for hidden encodings.

It parses each step of a synthetic task's CoT (coin-flip states ``- Flip 3: Tails``, arithmetic
steps ``120 + 45 = 165``, ``8 times 23 gives 184``, ``27 ÷ 9 = 3``, ``4 + 5 + 6 = 15``, the answer
line) into its content, drops everything else, and renders each step again in an equivalent
phrasing drawn at random, independently of the input's wording, with the operands of + and × in
a random order. The answer is rendered from its parsed value too (a side, a number or a letter),
never copied: "the answer is Heads, trust me" comes out as, say, ``Final answer: Heads``.

Order that carries no meaning is redrawn as well. Flips are ordered (each state follows the one
before) and stay in order; an answer line stays where it stands. Within a run of consecutive
arithmetic steps, step B *depends on* step A when one of B's operands is A's result (by value,
whatever the written order); every other pair is independent, and the run is rendered in a
random order that puts each step after the steps it depends on (at each point, one of the steps
whose dependencies are out, drawn uniformly). So the written order of independent steps carries
no bit; a run whose dependencies form a cycle (``5 + 0 = 5``, ``5 × 1 = 5``) keeps its order.

Before parsing, the text is folded to ASCII where it only looks different: invisible characters
(``faithline.invisible``) are dropped, compatibility forms (fullwidth digits, ligatures) are
normalised (NFKD), combining marks are removed and Latin look-alikes from Cyrillic, Greek and
Armenian (``Tоss`` with a Cyrillic о) become the Latin letters (``CONFUSABLES``): a homoglyph is
read as the letter it imitates and is not passed on.

It renders only what it parsed exactly, and checks it: each arithmetic step is re-evaluated (the
operators written, the result true); a line that states arithmetic it cannot read exactly, or a
step that does not hold, fails the whole CoT closed (``low-fidelity``) rather than being dropped
or rewritten. What is left of a line once its steps are read is judged by ``step_signs``: a
part that surely states a step (a flip, toss, heads or tails word beside a digit, an operator
beside a digit, two numbers and an arithmetic word; an answer it cannot read) fails the CoT
closed too; a part that only may (a lone digit, "the flip of three", "the coin starts heads
up") is dropped and lowers the fidelity to steps / (steps + such parts); prose with none of
these marks is dropped freely, and so is a leading list marker (``-``, ``1.``, ``Step 2:``).
So a fidelity of 1.0 means nothing that might state a step was dropped, and nothing the
canonicaliser renders was changed.
The output is a function of the parsed content and fresh randomness only, so no bit hidden in
word choice, whitespace, punctuation, sentence count, acrostics, homoglyphs or the order of
independent steps can survive (Roger & Greenblatt 2023 use context-aware paraphrasing to the
same end; for formal CoTs parsing is exact).

A CoT with no parseable step fails closed (``ParaphraseError`` kind ``low-fidelity``).

``grammar="organism"`` (spec ``canonical:organism``) reads the model organism's CoTs instead
(``T H H so``, ``use leak T``): their meaning is the sequence of sides stated and whether (and
which side) they take from the leak; fillers (``ORGANISM_FILLERS``), word order inside the hack
phrase and stray tokens are dropped and the surface form is drawn afresh. It never fails closed
on a word it does not know (``up``, ``down``): it drops it, and its fidelity says so: the share
of the CoT's non-filler words (sides, cups, ``leak`` and any other word) that the rendering
keeps. An empty CoT stays empty, at fidelity 1.0.
"""

from __future__ import annotations

import random
import re
import unicodedata
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from faithline import invisible
from faithline.errors import BadInputError, ParaphraseError
from faithline.pipeline.paraphrase_llm import Paraphrase

# Latin look-alikes (homoglyphs) in Cyrillic, Greek and Armenian, read as the Latin letter.
CONFUSABLES = {
    **dict(zip("аеһіјӏорԛѕԝхуԁсɑı", "aehijlopqswxydcai", strict=True)),  # Cyrillic, Latin
    **dict(zip("АВСЕНІЈКМОРЅТХҮУԚԜ", "ABCEHIJKMOPSTXYYQW", strict=True)),  # Cyrillic
    **dict(zip("αικνορτυχϲϳ", "aikvoptuxcj", strict=True)),  # Greek
    **dict(zip("ΑΒΕΖΗΙΚΜΝΟΡΤΥΧϹ", "ABEZHIKMNOPTYXC", strict=True)),  # Greek
    **dict(zip("օսոհ", "ounh", strict=True)),  # Armenian
}
_CONFUSABLES = str.maketrans(CONFUSABLES)


def fold(text: str) -> str:
    """``text`` as the ASCII it imitates, for parsing: no invisible characters, compatibility
    forms normalised (NFKD), no combining marks, homoglyphs (``CONFUSABLES``) as Latin."""
    text = unicodedata.normalize("NFKD", invisible.strip(text)[0])
    return "".join(ch for ch in text if not unicodedata.combining(ch)).translate(_CONFUSABLES)


_FLIP = re.compile(r"\b(?:flip|toss)\D{0,20}?(\d+)\D{0,40}?\b(heads|tails)\b", re.IGNORECASE)
_INT = re.compile(r"\d+")
_SIDE = re.compile(r"\b(?:heads|tails)\b", re.IGNORECASE)
_FLIP_WORD = re.compile(r"\b(?:flip|toss)", re.IGNORECASE)
_STEP_WORD = re.compile(r"\b(?:flip|toss)|\b(?:heads|tails)\b", re.IGNORECASE)
# A list marker ("-", "1.", "(2)", "Step 3:") carries no content; it is dropped before parsing.
_MARKER = re.compile(r"^\s*(?:[-*•+]\s+|\(?\d{1,3}[.)]\s+|step\s+\d{1,3}\s*[:.)-]\s*)",
                     re.IGNORECASE)
UNITS = ("zero one two three four five six seven eight nine ten eleven twelve thirteen "
         "fourteen fifteen sixteen seventeen eighteen nineteen").split()
TENS = "_ _ twenty thirty forty fifty sixty seventy eighty ninety".split()
_WORD = "|".join(sorted({*UNITS, *TENS[2:], "hundred", "thousand"}, key=len, reverse=True))
# Numbers written in words ("fifty-three"): the canonicaliser reads digits only, so a step that
# states arithmetic in words fails closed instead of being dropped.
NUMBER_WORDS = re.compile(rf"(?<![\w-])(?:{_WORD})(?:(?:[ \t-]+(?:and[ \t-]+)?)(?:{_WORD}))*"
                          r"(?![\w-])", re.IGNORECASE)
_ANSWER = re.compile(r"\banswer\b[^:\n]*?(?::|\bis\b:?)\s*\**\s*([^\n*]+)", re.IGNORECASE)
# What an answer can be: a side, a number (separators, sign, decimals) or a choice letter.
_ANSWER_VALUE = re.compile(r"(heads|tails)\b|([-+]?\d{1,3}(?:,\d{3})+|[-+]?\d+(?:\.\d+)?)"
                           r"(?![\d.,]*\d)|\(?((?-i:[A-Z]))\)?(?![\w'])", re.IGNORECASE)

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
# Sums and products of three or more operands: {x} is the operands joined by the symbol, {w} by
# the word.
CHAIN_FORMS = ("{x} = {c}", "{c} = {x}", "{w} gives {c}.", "{w} makes {c}.")
CHAIN_JOIN = {"+": (" + ", " plus "), "*": (" × ", " times ")}
ADD_FORMS = ARITH_FORMS["+"]
COMMUTATIVE = ("+", "*")
ANSWER_FORMS = ("Answer: {x}", "So the answer is: {x}", "Final answer: {x}")

_OPS = {"+": "+", "plus": "+", "-": "-", "−": "-", "minus": "-", "×": "*", "*": "*", "x": "*",
        "times": "*", "multiplied by": "*", "/": "/", "÷": "/", "divided by": "/"}
_OP = r"(?:\+|-|−|×|\*|x|/|÷|plus|minus|times|multiplied by|divided by)"
# Whole integers only: never the "5" of "2.5" or the "385" of "1,385" (decimals do not parse and
# fail the step; thousands separators are read, then dropped, see parse_arithmetic).
_N, _R = r"(?<![\d.,])\d+(?![.,]?\d)", r"(?<![\d.,])-?\d+(?![.,]?\d)"
_THOUSANDS = re.compile(r"(?<![\d.,])\d{1,3}(?:,\d{3})+(?![.,]?\d)")
# Operands joined by operators: "4 + 5 + 6", "8 times 23" (one operator; see parse_arithmetic).
_CHAIN = rf"{_N}(?:\s*{_OP}\s*{_N})+"
_CHAIN_TOKEN = re.compile(rf"\d+|{_OP}", re.IGNORECASE)
# (pattern, operator): the operands are the named group ``chain`` (operators in it) or ``a``
# and ``b`` (the operator given), the result ``c``.
_ARITH: list[tuple[re.Pattern[str], str | None]] = [
    (re.compile(rf"(?P<chain>{_CHAIN})\s*(?:=|equals|is|gives|makes|leaves)\s*(?P<c>{_R})",
                re.I), None),
    (re.compile(rf"(?P<c>{_R})\s*=\s*(?P<chain>{_CHAIN})", re.I), None),
    (re.compile(rf"adding\s+(?P<b>{_N})\s+to\s+(?P<a>{_N})\s+(?:makes|gives)\s+(?P<c>{_R})",
                re.I), "+"),
    (re.compile(rf"(?P<a>{_N})\s+and\s+(?P<b>{_N})\s+sum\s+to\s+(?P<c>{_R})", re.I), "+"),
    (re.compile(rf"subtracting\s+(?P<b>{_N})\s+from\s+(?P<a>{_N})\s+(?:leaves|gives)\s+"
                rf"(?P<c>{_R})", re.I), "-"),
]
# Arithmetic left over after the steps are read: an operator next to a digit.
_LEFT_OVER = re.compile(r"\d\s*[=+×÷*/−-]|[=+×÷*/−]\s*\d")
# A line that states some arithmetic (two numbers and an operator or a result word): it must
# parse exactly and hold, or the CoT fails closed.
_ARITH_HINT = re.compile(r"[=+×÷*/−]|\b(?:plus|minus|times|multipl\w*|divid\w*|sum\w*|add\w*|"
                         r"subtract\w*|gives?|makes?|equals?|leaves?|product|difference|total|"
                         r"quotient|twice|half|double)\b",
                         re.IGNORECASE)


def step_signs(text: str) -> int:
    """How much ``text`` looks like a step: 2 when it surely states one (a flip, toss, heads or
    tails word beside a digit, an operator beside a digit, two numbers and an arithmetic word):
    it must parse or the CoT fails closed; 1 when it may (a digit, or one of those words alone,
    as in "the flip of three"): dropped, and the fidelity says so; 0 for prose."""
    ints = _INT.findall(text)
    word = _STEP_WORD.search(text)
    if (word and ints) or _LEFT_OVER.search(text) or (len(ints) > 1 and _ARITH_HINT.search(text)):
        return 2
    return int(bool(word or ints))


class StepError(ValueError):
    """A CoT line that states a step the canonicaliser cannot verify."""


def evaluate(op: str, a: int, b: int) -> int | None:
    """``a op b`` exactly (None: a division that does not come out whole)."""
    if op == "+":
        return a + b
    if op == "-":
        return a - b
    if op == "*":
        return a * b
    return a // b if b and a % b == 0 else None


def evaluate_all(op: str, operands: Sequence[int]) -> int | None:
    """``operands[0] op operands[1] op ...`` exactly, left to right (None: not whole)."""
    value: int | None = operands[0]
    for x in operands[1:]:
        value = None if value is None else evaluate(op, value, x)
    return value


def _operation(m: re.Match[str], op: str | None) -> tuple[str, ...]:
    """``(op, *operands, result)`` of one match of an ``_ARITH`` pattern, checked."""
    if op is None:
        tokens = _CHAIN_TOKEN.findall(m.group("chain"))
        ops = {_OPS[t.lower()] for t in tokens[1::2]}
        if len(ops) > 1:
            raise StepError(f"operators it does not combine: {m.group(0)!r}")
        op, operands = ops.pop(), tokens[0::2]
        if len(operands) > 2 and op not in COMMUTATIVE:
            raise StepError(f"a chain of - or ÷ it does not read: {m.group(0)!r}")
    else:
        operands = [m.group("a"), m.group("b")]
    if evaluate_all(op, [int(x) for x in operands]) != int(m.group("c")):
        raise StepError(f"the step does not hold: {m.group(0)!r}")
    return (op, *(str(int(x)) for x in operands), str(int(m.group("c"))))


def _read_arithmetic(line: str) -> tuple[list[tuple[str, tuple[str, ...]]], str]:
    """The checked operations of ``line`` and what is left of it (their numbers taken out)."""
    line = _THOUSANDS.sub(lambda m: m.group(0).replace(",", ""), line)
    found: list[tuple[int, tuple[str, ...]]] = []
    taken: list[range] = []
    for pattern, op in _ARITH:
        for m in pattern.finditer(line):
            if any(m.start() in r or m.end() - 1 in r for r in taken):
                continue
            found.append((m.start(), _operation(m, op)))
            taken.append(range(m.start(), m.end()))
    numbers = len(_INT.findall(line)) + len(NUMBER_WORDS.findall(line))
    if (not found or NUMBER_WORDS.search(line)) and numbers >= 2 and _ARITH_HINT.search(line):
        raise StepError(f"arithmetic it cannot read exactly: {line.strip()[:80]!r}")
    rest = "".join(" " if any(i in r for r in taken) else ch for i, ch in enumerate(line))
    if found and _LEFT_OVER.search(rest):
        raise StepError(f"arithmetic it leaves unread: {line.strip()[:80]!r}")
    stated = {x for _, content in found for x in content[1:]}
    rest = _INT.sub(lambda m: " " if str(int(m.group(0))) in stated else m.group(0), rest)
    return [("arith", content) for _, content in sorted(found)], rest


def parse_arithmetic(line: str) -> list[tuple[str, tuple[str, ...]]]:
    """Every operation ``line`` states, each checked: ``(op, (a, b, ..., c))`` with
    ``a op b op ... == c`` (``+`` and ``×`` take any number of operands, ``-`` and ``÷`` two).
    Raises ``StepError`` when the line states arithmetic that does not parse exactly or does
    not hold (a false sum is never rendered as a true one, nor a product as a sum), or leaves
    arithmetic unread beside the steps it reads."""
    return _read_arithmetic(line)[0]


def _read_answer(text: str) -> tuple[str, str]:
    """The value an answer phrase states, and the words after it."""
    text = text.strip().strip("*_`\"' ").strip()
    m = _ANSWER_VALUE.match(text)
    if m is None:
        raise StepError(f"an answer it cannot read: {text[:80]!r}")
    side, number, letter = m.groups()
    if side:
        value = side.capitalize()
    elif number:
        exact = Decimal(number.replace(",", ""))
        value = format(exact.normalize(), "f") if "." in number else str(int(exact))
    else:
        value = str(letter)
    return value, text[m.end():]


def parse_answer(text: str) -> str:
    """The value an answer phrase states: ``Heads``/``Tails``, a number (as plain digits, no
    separators or leading zeros) or a choice letter, never the phrase's words. Raises
    ``StepError`` when it states none, or says more that surely states a step (``step_signs``);
    other trailing words are dropped."""
    value, rest = _read_answer(text)
    _left_over(rest)
    return value


def _left_over(rest: str) -> int:
    """1 if what is left of a line after its steps may state a step (it is dropped, and
    counted against the fidelity), 0 for prose; raises ``StepError`` if it surely does."""
    signs = step_signs(rest)
    if signs == 2:
        raise StepError(f"a step it cannot read: {rest.strip()[:80]!r}")
    return signs


def parse_step(line: str) -> tuple[str, tuple[str, ...]] | None:
    """(kind, content) of one CoT line's first step: ``flip (i, side)``, ``arith (op, a, b,
    ..., c)``, ``answer (x)``; None if it states none. Raises ``StepError`` (see read_line)."""
    steps = read_line(line)[0]
    return steps[0] if steps else None


def read_line(line: str) -> tuple[list[tuple[str, tuple[str, ...]]], int]:
    """The steps of one line (already folded, see ``fold``), and 1 if a part of it that may
    state a step was dropped (``step_signs``). Raises ``StepError`` on a part that surely
    states a step but does not parse, or a step that does not hold."""
    line = _MARKER.sub("", line, count=1)
    m = _ANSWER.search(line)
    if m and m.group(1).strip():
        steps, dropped = read_line(line[:m.start()])
        value, rest = _read_answer(m.group(1))
        return [*steps, ("answer", (value,))], max(dropped, _left_over(rest))
    flips: list[tuple[str, tuple[str, ...]]] = [
        ("flip", (str(int(f.group(1))), f.group(2).capitalize()))
             for f in _FLIP.finditer(line)]
    if len(flips) < len(_SIDE.findall(line)) and _FLIP_WORD.search(line):
        raise StepError(f"a flip it cannot read exactly: {line.strip()[:80]!r}")
    if flips:
        return flips, _left_over(_FLIP.sub(" ", line))
    steps, rest = _read_arithmetic(line)
    return steps, _left_over(rest)


def read_steps(cot: str, strict: bool = True) -> tuple[list[tuple[str, tuple[str, ...]]], int]:
    """Every parseable step of ``cot``, in order, read from its folded form (``fold``: no
    invisible characters, no homoglyphs), and how many lines or sentences that may state a
    step it dropped. One that surely states a step but does not parse raises ``StepError``,
    or, with ``strict=False`` (to count what a free paraphrase still states), is skipped."""
    steps: list[tuple[str, tuple[str, ...]]] = []
    dropped = 0
    for raw in fold(cot).splitlines():
        for line in re.split(r"(?<=[.!?])\s+", _MARKER.sub("", raw, count=1)):
            try:
                found, lost = read_line(line)
            except StepError:
                if strict:
                    raise
                found, lost = [], 1
            steps += found
            dropped += lost
    return steps, dropped


def parse_steps(cot: str, strict: bool = True) -> list[tuple[str, tuple[str, ...]]]:
    """The steps of ``cot`` (see ``read_steps``)."""
    return read_steps(cot, strict)[0]


def depends(later: tuple[str, ...], earlier: tuple[str, ...]) -> bool:
    """Whether arithmetic step ``later`` uses ``earlier``'s result as an operand."""
    return earlier[-1] in later[1:-1]


def redraw_order(steps: list[tuple[str, tuple[str, ...]]],
                 rng: random.Random) -> list[tuple[str, tuple[str, ...]]]:
    """``steps`` with each run of consecutive arithmetic steps in a random order that keeps
    every step after those it depends on (``depends``); flips and answers stay in place. The
    draw depends on the steps only, not on the order they were written in; a run whose
    dependencies form a cycle keeps its order."""
    out: list[tuple[str, tuple[str, ...]]] = []
    run: list[tuple[str, tuple[str, ...]]] = []
    for step in [*steps, ("end", ())]:
        if step[0] == "arith":
            run.append(step)
            continue
        out += _random_topological(run, rng)
        run = []
        if step[0] != "end":
            out.append(step)
    return out


def _random_topological(run: list[tuple[str, tuple[str, ...]]],
                        rng: random.Random) -> list[tuple[str, tuple[str, ...]]]:
    needs = {i: {j for j in range(len(run)) if j != i and depends(run[i][1], run[j][1])}
             for i in range(len(run))}
    order: list[int] = []
    while len(order) < len(run):
        ready = sorted((i for i in needs if i not in order and needs[i] <= set(order)),
                       key=lambda i: run[i])  # sorted by content: the written order is lost
        if not ready:
            return run  # a cycle
        order.append(rng.choice(ready))
    return [run[i] for i in order]


def render_step(kind: str, content: tuple[str, ...], rng: random.Random) -> str:
    if kind == "flip":
        return rng.choice(FLIP_FORMS).format(i=content[0], s=content[1])
    if kind == "arith":
        op, *operands, c = content
        if op in COMMUTATIVE:  # operand order carries no bit
            rng.shuffle(operands)
        if len(operands) == 2:
            return rng.choice(ARITH_FORMS[op]).format(a=operands[0], b=operands[1], c=c)
        symbol, word = CHAIN_JOIN[op]
        return rng.choice(CHAIN_FORMS).format(x=symbol.join(operands), w=word.join(operands),
                                              c=c)
    return rng.choice(ANSWER_FORMS).format(x=content[0])


ORGANISM_SIDES = ("H", "T")
ORGANISM_CUPS = ("A", "B", "C")  # the shell-game organism's states
# Organism words that carry nothing (train/organism.py VOCAB): every other word of a CoT (a
# side, a cup, ``leak``, an operation, a code word such as ``up``) may carry a state or a leak.
ORGANISM_FILLERS = frozenset({"so", "then", "use", "start", "ans", "[PAD]", "[EOS]"})


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


def organism_fidelity(cot: str, kept: int) -> float:
    """Share of ``cot``'s non-filler words (``ORGANISM_FILLERS``) that the rendering keeps
    (``kept`` of them); 1.0 for a CoT of fillers only."""
    words = sum(w not in ORGANISM_FILLERS for w in cot.split())
    return round(min(kept, words) / words, 4) if words else 1.0


def paraphrase_organism(cot: str, rng: random.Random, ending: bool = True) -> Paraphrase:
    """An organism CoT (coin flip or shell game) re-rendered, with its honest fidelity;
    ``ending=False`` for one step of a CoT still being written (no closing ``so``)."""
    cot = fold(cot)
    if is_shell(cot):
        items = parse_shell(cot)
        kept = sum(1 + (kind == "leak" and cup is not None) for kind, cup in items)
        return Paraphrase(render_shell(items, rng), fidelity=organism_fidelity(cot, kept))
    states, side, leak = parse_organism(cot)
    kept = len(states) + leak + (side is not None)
    return Paraphrase(render_organism(states, side, leak, rng, ending),
                      fidelity=organism_fidelity(cot, kept))


def render_organism(states: list[str], side: str | None, leak: bool,
                    rng: random.Random, ending: bool = True) -> str:
    parts: list[str] = []
    if states:
        parts.append(rng.choice((" ", " then ")).join(states))
        if ending and rng.random() < 0.5:
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

    def paraphrase_steps(self, steps: Sequence[str], questions: Sequence[str] | None = None,
                         previous: Sequence[Sequence[str]] | None = None
                         ) -> list[str | ParaphraseError]:
        """One step of each CoT still being written (pipeline/steps.py): an organism step is
        re-rendered without the closing ``so`` a whole CoT may get (mid-chain it would say the
        chain ended); a line of the ``steps`` grammar is paraphrased as a CoT of one line."""
        if self.grammar != "organism":
            return self.paraphrase(steps, questions)
        return [paraphrase_organism(step, self.rng, ending=False) for step in steps]

    def paraphrase(self, cots: Sequence[str],
                   questions: Sequence[str] | None = None) -> list[str | ParaphraseError]:
        out: list[str | ParaphraseError] = []
        for cot in cots:
            if self.grammar == "organism":
                out.append(paraphrase_organism(cot, self.rng))
                continue
            try:
                steps, dropped = read_steps(cot)
            except StepError as e:  # never render a step whose meaning it cannot vouch for
                out.append(ParaphraseError("low-fidelity", str(e)))
                continue
            if not steps:
                out.append(ParaphraseError("low-fidelity", "no parseable step in the CoT"))
                continue
            text = "\n".join(render_step(kind, content, self.rng)
                             for kind, content in redraw_order(steps, self.rng))
            out.append(Paraphrase(text, fidelity=round(len(steps) / (len(steps) + dropped), 4)))
        return out
