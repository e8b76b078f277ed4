r"""Invisible characters: bidi controls and zero-width characters in model text.

A right-to-left override (U+202E) makes a CoT display in another order than it reads; zero-width
characters, tag characters (U+E0000-E007F, which spell hidden ASCII) and variation selectors are
a steganography channel that survives LLM paraphrase, since the paraphraser copies them. Readers
of CoTs must see them, and paraphrasers must not pass them on:

    from faithline.invisible import count, reveal, strip
    reveal("a\u202eb")   # 'a⟨U+202E⟩b': what the report shows
    strip("a\u200bb")    # ('ab', 1): what the LLM paraphraser does
    count("a\u200bb")    # 1: the legibility metric ``invisible_chars``
    for_terminal("\x1b[2Jok")  # '⟨U+001B⟩[2Jok': what the terminal shows (cli/terminal.py)

The set (``RANGES``) is the bidi controls (ALM, LRM, RLM, LRE..RLO, LRI..PDI) and the characters
that render as nothing: zero-width space, non-joiner and joiner, word joiner and the invisible
operators, BOM, soft hyphen, combining grapheme joiner, the Mongolian vowel separator, Hangul
fillers, variation selectors (except U+FE0E/U+FE0F, which choose text or emoji style) and tags.

A terminal also acts on control characters instead of showing them: ESC starts the sequences
that clear the screen, move the cursor or recolour text, CR returns to the start of the line,
U+009B is a one-character CSI. ``for_terminal`` marks those too (``CONTROLS``), so a transcript
id or a model's text quoted in an error message cannot rewrite what the reader sees.
"""

from __future__ import annotations

import re
import unicodedata

RANGES: tuple[tuple[int, int], ...] = (
    (0x00AD, 0x00AD),    # soft hyphen
    (0x034F, 0x034F),    # combining grapheme joiner
    (0x061C, 0x061C),    # Arabic letter mark (bidi)
    (0x115F, 0x1160),    # Hangul choseong/jungseong fillers
    (0x180E, 0x180E),    # Mongolian vowel separator
    (0x200B, 0x200F),    # zero-width space, non-joiner, joiner; LRM, RLM (bidi)
    (0x202A, 0x202E),    # LRE, RLE, PDF, LRO, RLO (bidi embeddings and overrides)
    (0x2060, 0x2064),    # word joiner, invisible operators
    (0x2066, 0x2069),    # LRI, RLI, FSI, PDI (bidi isolates)
    (0x3164, 0x3164),    # Hangul filler
    (0xFE00, 0xFE0D),    # variation selectors 1-14
    (0xFEFF, 0xFEFF),    # zero-width no-break space (BOM)
    (0xFFA0, 0xFFA0),    # halfwidth Hangul filler
    (0xE0000, 0xE007F),  # tags (hidden ASCII)
    (0xE0100, 0xE01EF),  # variation selectors 17-256
)
PATTERN = re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in RANGES) + "]")
# C0 controls, DEL and C1 controls, and the line and paragraph separators.
CONTROLS: tuple[tuple[int, int], ...] = ((0x00, 0x1F), (0x7F, 0x9F), (0x2028, 0x2029))
TERMINAL = re.compile("[" + "".join(f"\\U{a:08x}-\\U{b:08x}" for a, b in RANGES + CONTROLS)
                      + "]")


def mark(ch: str) -> str:
    """The visible stand-in for one invisible character: ``⟨U+202E⟩``."""
    return f"⟨U+{ord(ch):04X}⟩"


def name(ch: str) -> str:
    """The character's Unicode name (``RIGHT-TO-LEFT OVERRIDE``), or its code point."""
    return unicodedata.name(ch, f"U+{ord(ch):04X}")


def reveal(text: str) -> str:
    """``text`` with every invisible character replaced by its mark."""
    return PATTERN.sub(lambda m: mark(m.group()), text)


def strip(text: str) -> tuple[str, int]:
    """``text`` without its invisible characters, and how many were removed."""
    return PATTERN.subn("", text)


def count(text: str) -> int:
    """How many invisible characters ``text`` holds."""
    return len(PATTERN.findall(text))


def for_terminal(text: str, keep: str = "") -> str:
    """``text`` safe to print: invisible and control characters replaced by their marks, except
    those in ``keep`` (a stream of progress lines keeps newline, carriage return and tab)."""
    return TERMINAL.sub(lambda m: m.group() if m.group() in keep else mark(m.group()), text)
