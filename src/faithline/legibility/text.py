"""Text-only legibility metrics of one CoT: character classes, scripts, compression, words.

None of these need a model. ``text_metrics(cot, vocab)`` returns them all as one flat dict:

- ``chars``, ``words``: length in characters, and the number of words (runs of letters);
- ``letter_share``, ``digit_share``, ``space_share``, ``punct_share``, ``symbol_share``,
  ``other_share``: the share of characters in each Unicode category class (L, N, Z + whitespace,
  P, S, C); ``unusual_char_share`` is ``symbol_share + other_share`` (what a private code made
  of glyphs shows first);
- ``non_latin_share``: the share of letters whose script is not Latin; the script of a letter is
  approximated by the first word of its Unicode name (``LATIN``, ``CYRILLIC``, ``CJK``, ...),
  and ``scripts(text)`` gives the whole mix;
- ``compression_ratio``: zlib (level 9) compressed bytes over UTF-8 bytes; text that carries
  more bits per character (a dense code, dropped filler words) compresses less. It depends on
  length: below about 50 characters zlib's fixed overhead dominates (ratios above 1), so compare
  it only between sets of similar CoT lengths;
- ``oov_share``: the share of words outside a reference vocabulary (``Vocabulary``);
- ``invisible_chars``: how many bidi controls and zero-width characters the CoT holds
  (``faithline.invisible``): a channel for hidden bits, and a way to make a CoT display in
  another order than it reads.

Empty text gives NaN for the shares and the ratio, never a made-up number.
"""

from __future__ import annotations

import math
import re
import unicodedata
import zlib
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faithline import invisible
from faithline.errors import BadInputError

WORD = re.compile(r"[^\W\d_]+")
CLASSES = ("letter", "digit", "space", "punct", "symbol", "other")
_CLASS_OF = {"L": "letter", "N": "digit", "Z": "space", "P": "punct", "S": "symbol",
             "C": "other", "M": "letter"}
# Inflections a word may carry and still count as known when its stem is a whole token.
SUFFIXES = ("s", "es", "ed", "d", "ing", "ly", "er", "ers", "ies", "ied", "ion", "ions",
            "ation", "ations", "ment", "ments", "ness", "able")
NAN = float("nan")


def char_class(ch: str) -> str:
    """``letter``, ``digit``, ``space``, ``punct``, ``symbol`` or ``other`` for one character."""
    if ch.isspace():
        return "space"
    return _CLASS_OF.get(unicodedata.category(ch)[0], "other")


def char_classes(text: str) -> dict[str, float]:
    """The share of ``text``'s characters in each class of ``CLASSES`` (NaN if empty)."""
    counts = Counter(char_class(c) for c in text)
    total = len(text)
    return {f"{k}_share": counts[k] / total if total else NAN for k in CLASSES}


def script_of(ch: str) -> str:
    """The script of a letter, as the first word of its Unicode name (``LATIN``, ``GREEK``)."""
    name = unicodedata.name(ch, "")
    return name.split(" ", 1)[0] if name else "UNKNOWN"


def scripts(text: str) -> dict[str, float]:
    """The share of ``text``'s letters in each script (empty if it has no letters)."""
    letters = [c for c in text if char_class(c) == "letter"]
    counts = Counter(script_of(c) for c in letters)
    return {k: v / len(letters) for k, v in counts.most_common()}


def compression_ratio(text: str) -> float:
    """zlib-compressed size over raw UTF-8 size (NaN for empty text)."""
    raw = text.encode("utf-8")
    return len(zlib.compress(raw, 9)) / len(raw) if raw else NAN


def words(text: str) -> list[str]:
    return WORD.findall(text)


def normalize_token(token: str) -> str:
    """A tokenizer's vocabulary entry as a plain word: word-start markers removed, casefolded."""
    return token.lstrip("Ġ▁").removeprefix("##").casefold()


@dataclass(frozen=True)
class Vocabulary:
    """A reference vocabulary: the set of words a reader is taken to know.

    Built by default from the reference model's tokenizer: every vocabulary entry that is a
    whole alphabetic word (after removing the word-start marker ``Ġ``/``▁``), casefolded. A word
    is known if it, or its stem after removing one common inflection (``SUFFIXES``, also with a
    final ``e``/``y`` restored or a doubled consonant undone: ``flipped`` -> ``flip``), is such
    a whole token. For a 49k-entry BPE vocabulary (SmolLM2) this misses 12% of the words of
    this repository's README (names, jargon), 83% of vowel-dropped abbreviations and 96% of
    random letter strings. Numbers are not words.
    ``from_file`` reads a word list instead (one word per line), ``from_texts`` collects the
    words of reference texts.
    """

    words: frozenset[str]
    source: str

    @classmethod
    def from_tokenizer(cls, tokenizer: Any, source: str = "tokenizer") -> Vocabulary:
        entries = (normalize_token(t) for t in tokenizer.get_vocab())
        return cls(frozenset(w for w in entries if w.isalpha()), source)

    @classmethod
    def from_file(cls, path: str | Path) -> Vocabulary:
        p = Path(path)
        if not p.is_file():
            raise BadInputError(f"vocabulary file '{p}' does not exist")
        found = {w.strip().casefold() for w in p.read_text(encoding="utf-8").split()}
        if not found:
            raise BadInputError(f"vocabulary file '{p}' holds no words")
        return cls(frozenset(found), f"file:{p}")

    @classmethod
    def from_texts(cls, texts: Iterable[str], source: str = "texts") -> Vocabulary:
        return cls(frozenset(w.casefold() for t in texts for w in words(t)), source)

    def knows(self, word: str) -> bool:
        w = word.casefold()
        if w in self.words:
            return True
        for suffix in SUFFIXES:
            stem = w[: -len(suffix)]
            if not w.endswith(suffix) or len(stem) < 3:
                continue
            doubled = stem[:-1] if stem[-1] == stem[-2] else stem  # flipped -> flip
            if {stem, stem + "e", stem + "y", doubled} & self.words:
                return True
        return False

    def oov_share(self, text: str) -> float:
        """The share of ``text``'s words this vocabulary does not know (0.0 with no words)."""
        ws = words(text)
        return sum(not self.knows(w) for w in ws) / len(ws) if ws else 0.0


def text_metrics(text: str, vocab: Vocabulary | None) -> dict[str, float]:
    """Every text-only metric of one CoT (see the module docstring)."""
    classes = char_classes(text)
    letters = [c for c in text if char_class(c) == "letter"]
    non_latin = (sum(script_of(c) != "LATIN" for c in letters) / len(letters)
                 if letters else (0.0 if text else NAN))
    out: dict[str, float] = {
        "chars": float(len(text)),
        "words": float(len(words(text))),
        **classes,
        "unusual_char_share": classes["symbol_share"] + classes["other_share"],
        "non_latin_share": non_latin,
        "compression_ratio": compression_ratio(text),
        "invisible_chars": float(invisible.count(text)),
    }
    if vocab is not None:
        out["oov_share"] = vocab.oov_share(text)
    return out


def is_nan(x: Any) -> bool:
    return isinstance(x, float) and math.isnan(x)
