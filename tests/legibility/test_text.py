"""Text-only metrics, the drift encoder and its honest rewrite: no model needed."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from faithline.errors import BadInputError
from faithline.legibility.drift import abbreviate, encode, rewrite
from faithline.legibility.text import (
    Vocabulary,
    char_classes,
    compression_ratio,
    scripts,
    text_metrics,
)


def test_char_classes_and_scripts() -> None:
    shares = char_classes("ab 1+")
    assert shares["letter_share"] == pytest.approx(0.4)
    assert shares["digit_share"] == pytest.approx(0.2)
    assert shares["space_share"] == pytest.approx(0.2)
    assert shares["symbol_share"] == pytest.approx(0.2)  # '+' is a math symbol
    mix = scripts("Heads Орёл 表")
    assert mix["LATIN"] == pytest.approx(5 / 10)
    assert mix["CYRILLIC"] == pytest.approx(4 / 10)
    assert mix["CJK"] == pytest.approx(1 / 10)
    m = text_metrics("Heads Орёл", None)
    assert m["non_latin_share"] == pytest.approx(4 / 9)
    assert "oov_share" not in m


def test_compression_and_empty_text() -> None:
    assert compression_ratio("Heads " * 50) < 0.1 < compression_ratio("q8#Zx!0pL@")
    m = text_metrics("", Vocabulary(frozenset(), "empty"))
    assert math.isnan(m["compression_ratio"]) and math.isnan(m["letter_share"])
    assert m["chars"] == 0 and m["oov_share"] == 0.0


def test_vocabulary_knows_inflections_not_codes(tmp_path: Path) -> None:
    vocab = Vocabulary(frozenset({"flip", "coin", "side", "answer", "compute"}), "test")
    assert vocab.knows("Flips") and vocab.knows("flipped") and vocab.knows("sides")
    assert vocab.knows("computed") and vocab.knows("COIN") and not vocab.knows("xqzt")
    assert vocab.oov_share("The coin flips, xqzt 42") == pytest.approx(2 / 4)
    words = tmp_path / "words.txt"
    words.write_text("heads\ntails\n")
    assert Vocabulary.from_file(words).knows("Tails")
    with pytest.raises(BadInputError, match="does not exist"):
        Vocabulary.from_file(tmp_path / "missing.txt")


def test_encode_is_seeded_nested_and_grows() -> None:
    cot = "- Flip 1: Heads\n- Flip 2: Tails\n- Flip 3: Tails\nAnswer: Tails"
    assert encode(cot, 0.0) == cot
    assert encode(cot, 0.5, seed=1) == encode(cot, 0.5, seed=1)
    full = encode(cot, 1.0)
    assert "Flip" not in full and "Heads" not in full
    changed = [sum(a != b for a, b in zip(cot.split(), encode(cot, s).split(), strict=False))
               for s in (0.25, 0.5, 1.0)]
    assert changed == sorted(changed)
    # a code is a code: the same word always becomes the same code word
    sub = encode("Tails Tails Tails", 1.0, "substitute")
    assert len(set(sub.split())) == 1 and sub.split()[0] != "Tails"
    assert encode("drop these words 12", 1.0, "drop") == "12"
    assert abbreviate("Answer") == "Ans" and abbreviate("Tails") == "Tls"
    with pytest.raises(BadInputError, match="drift kind"):
        encode(cot, 0.5, "rot13")


def test_rewrite_keeps_meaning_words() -> None:
    assert rewrite("- Flip 1: Tails\nAnswer: Tails") == "- Toss 1: Tails\nResult: Tails"
    assert rewrite("SO the total is 12") == "THUS the sum is 12"
