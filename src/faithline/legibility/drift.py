"""Injected drift: re-encode legible CoTs into a private code at a chosen strength.

This is the known-answer test for the legibility alarms: text that a reader can no longer
follow, made from text that they can, with the amount of drift under our control. Each word or
number of a CoT is encoded with probability ``strength`` (seeded, so the same call gives the same
text); how it is encoded depends on ``kind``:

- ``substitute``: a fixed random codebook maps each word type to a code word of random lower-case
  letters (about half the word's length, 2 to 5 letters) and each digit to a letter, the same
  code every time, like a lingo where some words became private symbols;
- ``abbreviate``: a word becomes its first letter and the next consonants, at most three
  letters (``Tails`` -> ``Tls``, ``Answer`` -> ``Ans``); numbers stay;
- ``drop``: the word is dropped with the space after it; numbers stay;
- ``mixed`` (default): each word type gets one of the three, fixed by the codebook seed
  (substitute 1/2, abbreviate 1/4, drop 1/4); numbers are substituted.

Strengths are nested: the tokens encoded at strength 0.25 are also encoded at 0.5 (one uniform
draw per token position, compared with the strength), so drift grows monotonically.

``rewrite`` is the opposite, an honest control: a meaning-preserving rewording that swaps words
for synonyms from a fixed table (``flip`` -> ``toss``, ``answer`` -> ``result``, ``total`` ->
``sum``, ...), keeping case, so that only the wording changes.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from dataclasses import dataclass

from faithline.errors import BadInputError

KINDS = ("mixed", "substitute", "abbreviate", "drop")
PIECE = re.compile(r"[^\W\d_]+|\d+|\s+|.", re.DOTALL)
_LETTERS = "abcdefghijklmnopqrstuvwxyz"
_VOWELS = set("aeiouAEIOU")


def _unit(*parts: object) -> float:
    """A uniform draw in [0, 1) fixed by ``parts`` (stable across processes)."""
    digest = hashlib.sha256(":".join(map(str, parts)).encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64


@dataclass(frozen=True)
class Codebook:
    """The fixed random code: word type -> code word, digit -> letter, word type -> operation."""

    seed: int = 0

    def code_word(self, word: str) -> str:
        rng = random.Random(f"code:{self.seed}:{word.casefold()}")
        n = min(5, max(2, len(word) // 2 + 1))
        return "".join(rng.choice(_LETTERS) for _ in range(n))

    def code_number(self, number: str) -> str:
        perm = list(_LETTERS[:10])
        random.Random(f"digits:{self.seed}").shuffle(perm)
        return "".join(perm[int(d)] if d.isascii() and d.isdigit() else d for d in number)

    def operation(self, word: str) -> str:
        u = _unit("op", self.seed, word.casefold())
        return "substitute" if u < 0.5 else "abbreviate" if u < 0.75 else "drop"


def abbreviate(word: str) -> str:
    """First letter, then the following consonants, at most three letters in all."""
    return (word[0] + "".join(c for c in word[1:] if c not in _VOWELS))[:3]


def encode(text: str, strength: float, kind: str = "mixed", seed: int = 0) -> str:
    """``text`` with each word or number encoded with probability ``strength`` (see above)."""
    if kind not in KINDS:
        raise BadInputError(f"unknown drift kind '{kind}'; use one of {', '.join(KINDS)}")
    if not 0.0 <= strength <= 1.0:
        raise BadInputError(f"drift strength must be in [0, 1], got {strength}")
    book = Codebook(seed)
    pieces = PIECE.findall(text)
    out: list[str] = []
    skip_space = False
    for pos, piece in enumerate(pieces):
        if skip_space and piece.isspace():
            skip_space = False
            continue
        skip_space = False
        is_word, is_number = piece.isalpha(), piece.isdigit()
        if not (is_word or is_number) or _unit("pos", seed, text, pos) >= strength:
            out.append(piece)
            continue
        op = kind if kind != "mixed" else ("substitute" if is_number else book.operation(piece))
        if is_number:
            out.append(book.code_number(piece) if op == "substitute" else piece)
        elif op == "substitute":
            out.append(book.code_word(piece))
        elif op == "abbreviate":
            out.append(abbreviate(piece))
        else:  # drop, with the space after it
            skip_space = True
    return "".join(out).strip()


SYNONYMS = {
    "flip": "toss", "flips": "tosses", "flipped": "tossed", "lands": "falls", "land": "fall",
    "landed": "fell", "previous": "prior", "before": "earlier", "different": "other",
    "side": "face", "sides": "faces", "starts": "begins", "start": "beginning",
    "after": "following", "each": "every", "total": "sum", "sum": "total", "number": "value",
    "numbers": "values", "answer": "result", "final": "last", "therefore": "so", "so": "thus",
    "then": "next", "because": "since", "get": "obtain", "gives": "yields", "equals": "makes",
    "step": "stage", "steps": "stages", "add": "sum", "adding": "summing", "result": "outcome",
    "first": "initially", "last": "final", "now": "at this point", "again": "once more",
    "which": "that", "means": "implies", "since": "as", "shows": "displays",
}


def _keep_case(source: str, word: str) -> str:
    if source.isupper() and len(source) > 1:
        return word.upper()
    return word[0].upper() + word[1:] if source[0].isupper() else word


def rewrite(text: str) -> str:
    """An honest rewording: every word in ``SYNONYMS`` swapped for its synonym, case kept."""
    return "".join(_keep_case(p, SYNONYMS[p.casefold()]) if p.casefold() in SYNONYMS else p
                   for p in PIECE.findall(text))


def encode_all(texts: Sequence[str], strength: float, kind: str = "mixed",
               seed: int = 0) -> list[str]:
    return [encode(t, strength, kind, seed) for t in texts]
