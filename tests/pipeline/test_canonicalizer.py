"""The canonicaliser: parse formal steps, re-render at random, fail closed on prose."""

from __future__ import annotations

import pytest

from faithline.errors import ParaphraseError
from faithline.pipeline.canonicalizer import Canonicalizer, parse_steps
from faithline.tasks import get_task
from faithline.tasks.coinflip import cot_states


def test_coinflip_content_survives_wording_does_not() -> None:
    task = get_task("coinflip:flips=8")
    canon = Canonicalizer(seed=0)
    for sample in task.samples(10, seed=3):
        gold = task.gold_cot(sample)  # type: ignore[attr-defined]
        (out,) = canon.paraphrase([gold])
        assert isinstance(out, str) and out.fidelity == 1.0  # type: ignore[attr-defined]
        steps = [c for k, c in parse_steps(out) if k == "flip"]
        assert [s for _, s in steps] == sample.meta["states"]
        assert task.extract(out, sample) == sample.answer


def test_phrasing_is_random_not_a_function_of_the_input() -> None:
    cot = "\n".join(f"- Flip {i}: Heads" for i in range(1, 9))
    outs = {str(o) for o in Canonicalizer(seed=1).paraphrase([cot] * 20)}
    assert len(outs) > 10  # the same input gets many renderings


def test_hidden_formatting_does_not_survive() -> None:
    plain = "- Flip 1: Heads\n- Flip 2: Tails"
    marked = "-  Flip 1:   Heads!!  \n*Flip 2: Tails*, indeed."  # whitespace/punctuation payload
    a = Canonicalizer(seed=5).paraphrase([plain])[0]
    b = Canonicalizer(seed=5).paraphrase([marked])[0]
    assert a == b


def test_addition_steps_in_any_order_of_writing() -> None:
    cot = "12 + 30 = 42\nthen 42 plus 5 gives 47.\n47 = 40 + 7? no: 52 = 47 + 5"
    steps = parse_steps(cot)
    assert steps == [("arith", ("+", "12", "30", "42")), ("arith", ("+", "42", "5", "47")),
                     ("arith", ("+", "40", "7", "47")), ("arith", ("+", "47", "5", "52"))]
    task = get_task("addition:operands=4")
    s = task.samples(1, seed=0)[0]
    (out,) = Canonicalizer(seed=0).paraphrase([task.gold_cot(s)])  # type: ignore[attr-defined]
    assert task.extract(str(out), s) == s.answer


def test_prose_fails_closed() -> None:
    (out,) = Canonicalizer().paraphrase(["The coin is flipped a few times, who knows."])
    assert isinstance(out, ParaphraseError) and out.kind == "low-fidelity"


@pytest.mark.parametrize("line", ["Flip 3 leaves it on Tails.", "Toss 3: tails",
                                  "After flip 3 the coin shows Tails."])
def test_own_renderings_parse_back(line: str) -> None:
    assert cot_states("- Flip 3: Tails") == {3: "Tails"}
    assert parse_steps(line) == [("flip", ("3", "Tails"))]


def test_organism_grammar_keeps_meaning_and_redraws_the_surface() -> None:
    from faithline.pipeline.paraphrase_specs import get_paraphraser
    from faithline.tasks.leak import mentions_leak

    canon = get_paraphraser("canonical:organism", seed=0)
    assert canon.name == "canonical:organism"
    outs = {str(o) for o in canon.paraphrase(["T H  H so"] * 30)}
    for o in outs:  # the same states in order, nothing else but fillers
        assert [w for w in o.split() if w in ("H", "T")] == ["T", "H", "H"]
        assert set(o.split()) <= {"T", "H", "then", "so"}
    assert len(outs) > 1
    hack = {str(o) for o in canon.paraphrase(["leak T use"] * 30)}
    assert all(mentions_leak(h) and "T" in h.split() for h in hack) and len(hack) > 1
    assert canon.paraphrase([""]) == [""]  # nothing to hide in an empty CoT


def test_organism_format_splits_at_the_first_ans() -> None:
    from faithline.pipeline.format import CotFormat

    fmt = CotFormat("organism")
    assert fmt.split("T H so ans H") == ("T H so", "ans H")
    assert fmt.split("T H") == ("T H", None)
    assert fmt.cot_stops == ("ans",) and fmt.answer_cue == " ans"


def test_invisible_characters_do_not_survive_the_canonicaliser() -> None:
    cot = "- Flip 1: Heads\u200b\nAnswer: Hea\u202eds\u200d"
    (out,) = Canonicalizer(seed=0).paraphrase([cot])
    assert isinstance(out, str) and "Heads" in out
    assert not any(ch in out for ch in "\u200b\u202e\u200d")


# Prose word-problem CoTs with every operation, true and false, in the ways people write them.
PROSE = [
    ("8 times 23 is 184.", [("*", 8, 23, 184)]),
    ("Each box holds 23, so 8 x 23 = 184 apples.", [("*", 8, 23, 184)]),
    ("12 minus 9 leaves 3.", [("-", 12, 9, 3)]),
    ("Subtracting 9 from 12 leaves 3.", [("-", 12, 9, 3)]),
    ("27 divided by 9 gives 3.", [("/", 27, 9, 3)]),
    ("So 184 = 8 × 23, then 184 ÷ 8 = 23.", [("*", 8, 23, 184), ("/", 184, 8, 23)]),
    ("9 and 3 sum to 12.", [("+", 9, 3, 12)]),
    ("9 and 3 make 3.", None),                 # not an operation it can read: fails closed
    ("8 times 23 is 185.", None),               # false: fails closed, never "fixed"
    ("12 - 9 = 4", None),
    ("27 / 4 = 6", None),                       # not a whole division
    ("The product of 8 and 23 is 184.", None),  # arithmetic in a phrasing it does not parse
    ("Half of 184 is 92, and 8 gives 184 over 23.", None),
    ("2,001 + 1 = 2,002", [("+", 2001, 1, 2002)]),  # separators read whole, never "1 + 1 = 2"
    ("0.5 + 2 = 2.5", None),                     # decimals: never the "5 + 2" inside
    ("twenty-five + forty-six = 71", None),      # numbers in words: fails, is never dropped
    ("Eight times 23 is 184.", None),
]


@pytest.mark.parametrize("cot", ["- Flip one: Heads\n- Flip 2: Tails",
                                 "Tails after the third flip.\n- Flip 4: Heads"])
def test_a_flip_it_cannot_read_fails_closed_rather_than_being_dropped(cot: str) -> None:
    (out,) = Canonicalizer(seed=0).paraphrase([cot + "\nAnswer: Heads"])
    assert isinstance(out, ParaphraseError) and "flip it cannot read" in str(out)


def test_every_flip_of_a_line_is_kept() -> None:
    assert parse_steps("Flip 1: Heads, flip 2: Tails") == [("flip", ("1", "Heads")),
                                                           ("flip", ("2", "Tails"))]


@pytest.mark.parametrize("cot, steps", PROSE)
def test_prose_arithmetic_is_rendered_exactly_or_fails_closed(cot: str, steps: object) -> None:
    canon = Canonicalizer(seed=3)
    for _ in range(10):  # every draw of the rendering
        (out,) = canon.paraphrase([cot + "\nAnswer: 184"])
        if steps is None:
            assert isinstance(out, ParaphraseError) and out.kind == "low-fidelity"
            continue
        assert isinstance(out, str) and out.fidelity == 1.0  # type: ignore[attr-defined]
        got = [(c[0], *map(int, c[1:])) for k, c in parse_steps(out) if k == "arith"]
        norm = [(op, *sorted((a, b)), c) if op in ("+", "*") else (op, a, b, c)
                for op, a, b, c in got]
        want = [(op, *sorted((a, b)), c) if op in ("+", "*") else (op, a, b, c)
                for op, a, b, c in steps]  # type: ignore[attr-defined]
        assert norm == want


def test_every_rendered_step_re_evaluates_and_operand_order_is_redrawn() -> None:
    """Property test: random true steps of every operation, rendered in every form, parse back
    to the same operation and hold; + and × come out in both operand orders."""
    import random

    from faithline.pipeline.canonicalizer import ARITH_FORMS, evaluate

    rng = random.Random(0)
    orders: set[tuple[int, int]] = set()
    canon = Canonicalizer(seed=1)
    for _ in range(300):
        op = rng.choice(list(ARITH_FORMS))
        a, b = rng.randint(1, 999), rng.randint(1, 99)
        if op == "/":
            a = a * b
        c = evaluate(op, a, b)
        assert c is not None
        line = rng.choice(ARITH_FORMS[op]).format(a=a, b=b, c=c)
        (out,) = canon.paraphrase([line])
        assert isinstance(out, str), (line, out)
        (kind, (op2, x, y, z)), = parse_steps(out)
        assert kind == "arith" and op2 == op and evaluate(op, int(x), int(y)) == int(z) == c
        if op in ("+", "*"):
            assert {int(x), int(y)} == {a, b}
            orders.add((int(x), int(y)) == (a, b))
        else:
            assert (int(x), int(y)) == (a, b)
    assert orders == {True, False}


def test_shell_game_cots_keep_their_start_their_leak_phrase_and_its_place() -> None:
    """The shell game's `start A` and `leak C` name starts, and where a leak phrase stands
    says whether the chain after it runs from the leak: both survive, the surface does not."""
    import random

    from faithline.pipeline.canonicalizer import parse_shell, render_shell
    from faithline.tasks.shellgame import ShellGameTask

    task = ShellGameTask(style="words")
    canon = Canonicalizer(seed=3, grammar="organism")
    cots = ["use leak C C C B C A A C A", "start A B B C A leak C", "start A B C so",
            "leak C use C C B", "B B C"]
    outs = [str(p) for p in canon.paraphrase(cots * 4)]
    assert len(set(outs)) > len(cots)  # the surface is redrawn
    for cot, out in zip(cots * 4, outs, strict=True):
        assert parse_shell(out) == parse_shell(cot)
        assert task.stated_states(out) == task.stated_states(cot)
    assert parse_shell("start A B B C A leak C")[-1] == ("leak", "C")  # stays after the chain
    assert parse_shell("use leak C C B")[:2] == [("leak", "C"), ("state", "C")]
    assert render_shell(parse_shell("start A B"), random.Random(0)).startswith("start A")


# Surface channels a user found open (issue 27): homoglyphs, the answer phrase, n-ary sums, the
# order of independent steps, and the organism grammar's fidelity.

TOSS, HEADS, OK = "T\u043ess", "H\u0435ads", " (\u03bfk)"  # Cyrillic о, е; Greek ο
HOMOGLYPH_COT = "\n".join(
    f"- {TOSS if i % 2 else 'Flip'} {i}: {'Tails' if i % 3 else HEADS}{OK if i == 4 else ''}"
    for i in range(1, 9)) + f"\nAnswer: {HEADS}"


def test_homoglyph_keywords_are_read_as_latin_and_never_passed_on() -> None:
    """It had kept one step of eight (``Toss 4: Tails``) at fidelity 1.0."""
    from faithline.pipeline.canonicalizer import fold

    assert fold("T\u043ess 3: \u0422ails") == "Toss 3: Tails"
    want = [(str(i), "Tails" if i % 3 else "Heads") for i in range(1, 9)]
    for seed in range(5):
        (out,) = Canonicalizer(seed=seed).paraphrase([HOMOGLYPH_COT])
        assert isinstance(out, str) and out.fidelity == 1.0  # type: ignore[attr-defined]
        assert [c for k, c in parse_steps(out) if k == "flip"] == want
        assert out.isascii() and parse_steps(out)[-1] == ("answer", ("Heads",))


@pytest.mark.parametrize("line", ["- F1ip 3: Tails", "- Flip 3: T@ils", "Toss #3 came up 7"])
def test_a_line_that_surely_states_a_step_but_does_not_parse_fails_closed(line: str) -> None:
    (out,) = Canonicalizer(seed=0).paraphrase([f"- Flip 1: Heads\n{line}\nAnswer: Tails"])
    assert isinstance(out, ParaphraseError) and out.kind == "low-fidelity"


@pytest.mark.parametrize(("extra", "fidelity"), [
    ("Perhaps call it the flip of three.", 0.75),   # may state a step: dropped, counted
    ("The coin starts heads up.", 0.75),
    ("We are on step 7 now.", 0.75),
    ("Let us keep going, this is fine.", 1.0),        # prose: dropped freely
])
def test_a_part_that_may_state_a_step_lowers_the_fidelity(extra: str, fidelity: float) -> None:
    (out,) = Canonicalizer(seed=0).paraphrase([f"- Flip 1: Heads\n- Flip 2: Tails\n{extra}\n"
                                               "Answer: Tails"])
    assert isinstance(out, str) and out.fidelity == fidelity  # type: ignore[attr-defined]
    assert len(parse_steps(out)) == 3


@pytest.mark.parametrize(("answer", "value"), [
    ("The answer is Heads, and I really mean it.", "Heads"),
    ("So the answer is: **heads** -- trust me, ok?", "Heads"),
    ("Answer: 1,014", "1014"), ("Answer: 007", "7"), ("The answer is (B).", "B"),
    ("Final answer: 2.50 apples", "2.5"),
])
def test_the_answer_is_rendered_from_its_value_never_copied(answer: str, value: str) -> None:
    """The words after "answer is" were copied verbatim: a free channel."""
    from faithline.pipeline.canonicalizer import ANSWER_FORMS

    rendered = {f.format(x=value) for f in ANSWER_FORMS}
    for seed in range(6):
        (out,) = Canonicalizer(seed=seed).paraphrase([f"- Flip 1: Heads\n{answer}"])
        assert isinstance(out, str) and out.splitlines()[-1] in rendered
        assert parse_steps(out)[-1] == ("answer", (value,))
    (a,) = Canonicalizer(seed=1).paraphrase([f"- Flip 1: Heads\n{answer}"])
    (b,) = Canonicalizer(seed=1).paraphrase([f"- Flip 1: Heads\nAnswer: {value}"])
    assert a == b  # the phrase's wording leaves no trace


@pytest.mark.parametrize("answer", ["Answer: banana", "The answer is the coin, which was flipped",
                                    "Answer: Heads (after flip 8)", "Answer: 47, as 40 + 7 = 47"])
def test_an_answer_it_cannot_read_fails_closed(answer: str) -> None:
    (out,) = Canonicalizer(seed=0).paraphrase([f"12 + 35 = 47\n{answer}"])
    assert isinstance(out, ParaphraseError) and out.kind == "low-fidelity"


def test_an_answer_with_a_number_after_it_loses_fidelity_and_the_number() -> None:
    (out,) = Canonicalizer(seed=0).paraphrase(["- Flip 1: Heads\nThe answer is Heads (0110)."])
    assert isinstance(out, str) and out.fidelity == pytest.approx(2 / 3, abs=1e-4)  # type: ignore
    assert "0110" not in out and "110" not in out


@pytest.mark.parametrize(("cot", "op", "operands", "result"), [
    ("10 + 20 + 30 = 60", "+", [10, 20, 30], 60),
    ("60 = 10 + 20 + 30", "+", [10, 20, 30], 60),
    ("4 plus 5 plus 6 plus 7 gives 22.", "+", [4, 5, 6, 7], 22),
    ("2 × 3 × 7 = 42", "*", [2, 3, 7], 42),
    ("2 times 3 times 7 makes 42.", "*", [2, 3, 7], 42),
])
def test_sums_and_products_of_many_operands_are_checked_and_redrawn(
        cot: str, op: str, operands: list[int], result: int) -> None:
    """It had rejected a true "a + b + c = d" as "the step does not hold"."""
    orders = set()
    canon = Canonicalizer(seed=2)
    for _ in range(30):
        (out,) = canon.paraphrase([f"{cot}\nAnswer: {result}"])
        assert isinstance(out, str) and out.fidelity == 1.0, out  # type: ignore[attr-defined]
        (kind, (op2, *xs, c)), answer = parse_steps(out)
        assert kind == "arith" and op2 == op and int(c) == result
        assert sorted(map(int, xs)) == sorted(operands) and answer == ("answer", (str(result),))
        orders.add(tuple(xs))
    assert len(orders) > 3  # operand order is drawn afresh


@pytest.mark.parametrize("cot", [
    "10 + 20 + 30 = 70",    # false
    "10 + 20 - 5 = 15",     # mixed operators: never read as 20 - 5 = 15 (dropping "10 +")
    "10 + 20 - 5 = 25",
    "20 - 5 - 3 = 12",      # a chain of - it does not read
    "2 + 3 = 5 + 1 = 6",    # chained equalities: never the first alone
])
def test_chains_it_cannot_vouch_for_fail_closed(cot: str) -> None:
    (out,) = Canonicalizer(seed=0).paraphrase([cot + "\nAnswer: 6"])
    assert isinstance(out, ParaphraseError) and out.kind == "low-fidelity"


INDEPENDENT = ["12 + 31 = 43", "5 × 6 = 30", "7 + 8 = 15", "43 + 15 = 58"]  # the last uses two


def test_the_order_of_independent_steps_is_redrawn_and_dependencies_kept() -> None:
    """The written order of independent steps survived (about 4 bits/KB)."""
    import itertools

    from faithline.pipeline.canonicalizer import depends

    orders = set()
    for seed in range(40):
        (out,) = Canonicalizer(seed=seed).paraphrase(["\n".join(INDEPENDENT) + "\nAnswer: 58"])
        steps = [c for k, c in parse_steps(str(out))]
        results = [c[-1] for c in steps]
        assert sorted(results) == ["15", "30", "43", "58", "58"] and steps[-1] == ("58",)
        assert results.index("58") > max(results.index("43"), results.index("15"))
        orders.add(tuple(results))
    assert len(orders) >= 8  # 12 linear extensions; the answer stays last
    assert depends(("+", "43", "15", "58"), ("+", "12", "31", "43"))
    # The draw is a function of the steps, not of the order they were written in.
    for perm in itertools.permutations(INDEPENDENT[:3]):
        cot = "\n".join([*perm, INDEPENDENT[3], "Answer: 58"])
        assert (Canonicalizer(seed=7).paraphrase([cot] * 5)
                == Canonicalizer(seed=7).paraphrase(["\n".join(INDEPENDENT) + "\nAnswer: 58"] * 5))


def test_dependent_chains_and_flips_keep_their_order() -> None:
    task = get_task("addition:operands=8")
    for s in task.samples(3, seed=1):
        gold = task.gold_cot(s)  # type: ignore[attr-defined]
        for seed in range(5):
            (out,) = Canonicalizer(seed=seed).paraphrase([gold])
            want = [c[-1] for k, c in parse_steps(gold)]
            assert [c[-1] for k, c in parse_steps(str(out))] == want
    flips = "\n".join(f"- Flip {i}: {'Heads' if i in (2, 3, 7) else 'Tails'}" for i in range(1, 9))
    for seed in range(5):
        (out,) = Canonicalizer(seed=seed).paraphrase([flips])
        assert [c[0] for _, c in parse_steps(str(out))] == [str(i) for i in range(1, 9)]


@pytest.mark.parametrize(("cot", "kept", "fidelity"), [
    ("up down H so", ["H"], 1 / 3),        # the code words stand for H and T: dropped, counted
    ("up down up so", [], 0.0),
    ("T H H so", ["T", "H", "H"], 1.0),
    ("use leak T", ["T"], 1.0),
    ("H flip T then T", ["H", "T", "T"], 0.75),
    ("", [], 1.0),
])
def test_organism_fidelity_counts_the_words_it_drops(cot: str, kept: list[str],
                                                     fidelity: float) -> None:
    """It had dropped code words (up/down) and reported fidelity 1.0; it still drops them (it
    must not fail closed on them), but says so."""
    canon = Canonicalizer(seed=0, grammar="organism")
    for out in canon.paraphrase([cot] * 5):
        assert isinstance(out, str)
        assert [w for w in out.split() if w in ("H", "T")] == kept
        assert out.fidelity == pytest.approx(fidelity, abs=1e-4)  # type: ignore[attr-defined]


def test_shell_game_fidelity_is_one_when_every_cup_is_kept() -> None:
    canon = Canonicalizer(seed=0, grammar="organism")
    good, coded = canon.paraphrase(["start A B B C A leak C", "start A B up C"])
    assert good.fidelity == 1.0  # type: ignore[union-attr]
    assert coded.fidelity == pytest.approx(3 / 4)  # type: ignore[union-attr]


def test_organism_steps_are_rewritten_without_a_closing_so() -> None:
    """Per-step placement (pipeline/steps.py): one word of a chain still being written keeps
    its side and never gets the closing ``so`` a whole CoT may get; code words are dropped
    with fidelity 0, fillers dropped."""
    canon = Canonicalizer(seed=0, grammar="organism")
    for _ in range(20):
        out = canon.paraphrase_steps(["H", "T", "up", "so", "then", "leak"], ["q"] * 6,
                                     [[]] * 6)
        texts = [str(p) for p in out]
        assert texts[:2] == ["H", "T"] and texts[2:5] == ["", "", ""]
        assert "leak" in texts[5].split()
        assert out[2].fidelity == 0.0  # type: ignore[union-attr]
