"""Robust answer extraction from messy model output.

Every extractor tries the same places, most explicit first, and takes the *last* occurrence
of each (a model that changes its mind is judged on its final word):

1. ``<answer>X</answer>`` tags (an unclosed ``<answer>X`` at the very end counts too, since
   generation is often stopped at ``</answer>``);
2. an answer line: ``Answer: X``, ``Final answer: X``, ``**Answer:** X``, ``**Final Answer**: X``;
3. ``the answer is X`` (also ``answer would be`` / ``should be`` / ``must be``);
4. ``\\boxed{X}`` (nested braces are handled);
5. a fallback over the whole output: the last number, the last parenthesised letter ``(B)``
   (or a last line that is a bare letter), or the last option word.

Text inside ``<think>...</think>`` is ignored when anything follows the closing tag.
If an occurrence cannot be parsed (``Answer: not sure``), the previous one is tried, then the
next place. The conventions follow common practice in evaluation harnesses (lm-evaluation-
harness ``filters/extraction.py``, nanochat ``tasks/gsm8k.py``, Inspect ``scorer/_answer.py``)
and the answer formats used by Turpin et al. 2023 and Skaf et al. 2025.
"""

from __future__ import annotations

import re
import string
from collections.abc import Callable, Sequence
from decimal import Decimal, InvalidOperation

from faithline.errors import BadInputError

Parser = Callable[[str], str | None]

_THINK_CLOSE = re.compile(r"</think(?:ing)?>", re.IGNORECASE)
_ANSWER_TAG = re.compile(r"<answer>\s*(.*?)\s*(?:</answer>|\Z)", re.IGNORECASE | re.DOTALL)
_ANSWER_LINE = re.compile(
    r"\b(?:final\s+)?answer\b[ \t]*(?:\*\*|__)?[ \t]*[:：][*_\s]*(?P<seg>[^\n]*)", re.IGNORECASE
)
_ANSWER_IS = re.compile(
    r"\banswer\s+(?:is|would\s+be|should\s+be|must\s+be|will\s+be)\b[ \t]*[:=]?[*_ \t]*"
    r"(?P<seg>[^\n]*)",
    re.IGNORECASE,
)
_NUMBER = re.compile(
    r"(?<![\w.])(?P<sign>[-−]?)(?:\$[ \t]?)?(?P<int>\d{1,3}(?:,\d{3})+|\d+)(?P<frac>\.\d+)?(?!\d)"
)
_LATEX_WRAPPERS = ("boxed", "fbox", "text", "textbf", "mathrm", "mathbf", "textrm")
_PUNCT = str.maketrans({c: " " for c in string.punctuation})


# ---------------------------------------------------------------- where answers are stated


def strip_thinking(text: str) -> str:
    """Drop a leading ``<think>...</think>`` block when an answer follows it."""
    parts = _THINK_CLOSE.split(text)
    tail = parts[-1]
    return tail if len(parts) > 1 and tail.strip() else text


def braced_args(text: str, command: str) -> list[str]:
    """Contents of every ``\\command{...}`` in ``text``, nested braces balanced."""
    out: list[str] = []
    needle = f"\\{command}{{"
    start = text.find(needle)
    while start != -1:
        i = start + len(needle)
        depth = 1
        j = i
        while j < len(text) and depth:
            depth += {"{": 1, "}": -1}.get(text[j], 0)
            j += 1
        if depth == 0:
            out.append(text[i : j - 1])
        start = text.find(needle, j if depth == 0 else i)
    return out


def _tag_segments(text: str) -> list[str]:
    return [m.group(1) for m in _ANSWER_TAG.finditer(text)]


def _line_segments(text: str) -> list[str]:
    return [m.group("seg") for m in _ANSWER_LINE.finditer(text)]


def _answer_is_segments(text: str) -> list[str]:
    return [m.group("seg") for m in _ANSWER_IS.finditer(text)]


def _boxed_segments(text: str) -> list[str]:
    return braced_args(text, "boxed") + braced_args(text, "fbox")


_PLACES: tuple[Callable[[str], list[str]], ...] = (
    _tag_segments,
    _line_segments,
    _answer_is_segments,
    _boxed_segments,
)


def stated_segments(text: str) -> list[list[str]]:
    """The answer segments found in each place, in priority order (each list in text order)."""
    body = strip_thinking(text)
    return [place(body) for place in _PLACES]


def find_answer(text: str, parse: Parser, fallback: Parser | None = None) -> str | None:
    """First successful ``parse`` over the stated answers (last occurrence first per place),
    else ``fallback`` on the whole output (thinking stripped)."""
    for segments in stated_segments(text):
        for segment in reversed(segments):
            got = parse(segment)
            if got is not None:
                return got
    return fallback(strip_thinking(text)) if fallback else None


def clean_segment(segment: str) -> str:
    """Unwrap LaTeX (``\\boxed{}``, ``\\text{}``), drop ``$``, markdown emphasis and backticks."""
    s = segment
    for _ in range(4):
        before = s
        for cmd in _LATEX_WRAPPERS:
            for arg in braced_args(s, cmd):
                s = s.replace(f"\\{cmd}{{{arg}}}", arg)
        if s == before:
            break
    s = s.replace("{,}", ",").replace("\\(", " ").replace("\\)", " ")
    s = s.replace("\\[", " ").replace("\\]", " ")
    return re.sub(r"[$*`]", "", s).replace("__", "").strip()


# ---------------------------------------------------------------- numbers


def _format_number(sign: str, integer: str, frac: str | None) -> str | None:
    try:
        value = Decimal(integer.replace(",", "") + (frac or ""))
    except InvalidOperation:
        return None
    if sign:
        value = -value
    if value == value.to_integral_value():
        return str(int(value))
    return format(value.normalize(), "f")


def _number_from_match(m: re.Match[str]) -> str | None:
    return _format_number(m.group("sign"), m.group("int"), m.group("frac"))


def parse_number(text: str) -> str | None:
    """``text`` as a normalised number if it is exactly one number (``"1,234."`` -> ``"1234"``)."""
    s = clean_segment(text).rstrip(".").strip()
    m = _NUMBER.fullmatch(s)
    return _number_from_match(m) if m else None


def _number_in_segment(segment: str) -> str | None:
    s = clean_segment(segment)
    if "=" in s:
        after = list(_NUMBER.finditer(s.rsplit("=", 1)[1]))
        if len(after) == 1:
            return _number_from_match(after[0])
    m = _NUMBER.search(s)
    return _number_from_match(m) if m else None


def _last_number(text: str) -> str | None:
    matches = list(_NUMBER.finditer(clean_segment(text)))
    return _number_from_match(matches[-1]) if matches else None


def extract_number(text: str) -> str | None:
    """The final numeric answer as a normalised string (``"-1234"``, ``"2.5"``), or None.

    Handles thousands separators, ``$``, trailing periods, ``\\boxed{}`` and negative signs
    (``-`` or ``−``). In ``Answer: 12 + 30 = 42`` the number after the last ``=`` is taken.
    """
    return find_answer(text, _number_in_segment, _last_number)


def numbers_equal(a: str | None, b: str | None) -> bool:
    """Numeric equality of two number strings (``"1,234"`` equals ``"1234.0"``)."""
    if a is None or b is None:
        return False
    na, nb = parse_number(a), parse_number(b)
    return na is not None and na == nb


# ---------------------------------------------------------------- letters


def letters(n_choices: int) -> str:
    """The valid letters for ``n_choices`` options (``4`` -> ``"ABCD"``)."""
    if isinstance(n_choices, bool) or not isinstance(n_choices, int) or not 1 <= n_choices <= 26:
        raise BadInputError(f"number of choices must be an integer in 1..26, got {n_choices!r}")
    return string.ascii_uppercase[:n_choices]


_LEAD_LETTER = re.compile(
    r"(?:(?i:option|choice)\s+)?(?:[(\[](?P<p>[A-Za-z])[)\]]|(?P<u>[A-Z])|(?P<l>[a-z]))"
    r"(?P<after>[).:,;!\]]|(?=\s)|$)"
)
_PAREN_LETTER = re.compile(r"[(\[]([A-Z])[)\]]")
_BARE_LETTER = re.compile(r"(?<![\w'’])([A-Z])(?![\w'’])")
_LINE_LETTER = re.compile(r"\s*[(\[]?([A-Za-z])[)\]]?[.)]?\s*")


def _lead_letter(s: str, valid: str) -> str | None:
    m = _LEAD_LETTER.match(s)
    if not m:
        return None
    if m.group("p") or m.group("u"):
        letter = (m.group("p") or m.group("u")).upper()
    elif m.group("after") or m.end() == len(s):
        letter = m.group("l").upper()  # "b." / "b)" / a lone "b"; not the article in "a cat"
    else:
        return None
    return letter if letter in valid else None


def _choice_letter(s: str, valid: str, choices: Sequence[str]) -> str | None:
    norm = normalize_text(s)
    texts = [normalize_text(c) for c in choices[: len(valid)]]
    exact = [i for i, t in enumerate(texts) if t and t == norm]
    if len(exact) == 1:
        return valid[exact[0]]
    found = [i for i, t in enumerate(texts) if t and re.search(rf"\b{re.escape(t)}\b", norm)]
    return valid[found[0]] if len(found) == 1 else None


def _letter_parser(valid: str, choices: Sequence[str] | None) -> Parser:
    def parse(segment: str) -> str | None:
        s = clean_segment(segment)
        got = _lead_letter(s, valid)
        if got:
            return got
        for m in _PAREN_LETTER.finditer(s):
            if m.group(1) in valid:
                return m.group(1)
        if choices:
            got = _choice_letter(s, valid, choices)
            if got:
                return got
        for m in _BARE_LETTER.finditer(s):
            if m.group(1) in valid:
                return m.group(1)
        return None

    return parse


def _letter_fallback(valid: str) -> Parser:
    def fallback(text: str) -> str | None:
        lines = [ln for ln in (clean_segment(x) for x in text.splitlines()) if ln]
        if lines:
            m = _LINE_LETTER.fullmatch(lines[-1])
            if m and m.group(1).upper() in valid:
                return m.group(1).upper()
        hits = [m.group(1) for m in _PAREN_LETTER.finditer(text) if m.group(1) in valid]
        return hits[-1] if hits else None

    return fallback


def extract_letter(
    text: str, n_choices: int, choices: Sequence[str] | None = None
) -> str | None:
    """The chosen option letter (``"A"``..), only among the first ``n_choices`` letters.

    Accepts ``B``, ``(B)``, ``B)``, ``b.``, ``Answer: (C) Paris``, ``option C``. With
    ``choices`` given, an answer that states an option's text (``Answer: Paris``) maps to its
    letter. Fallback: a last line that is a bare letter, else the last ``(X)`` in the output.
    """
    valid = letters(n_choices)
    return find_answer(text, _letter_parser(valid, choices), _letter_fallback(valid))


# ---------------------------------------------------------------- words and free text


def _option_patterns(options: Sequence[str]) -> list[tuple[str, re.Pattern[str]]]:
    if not options or not all(isinstance(o, str) and o.strip() for o in options):
        raise BadInputError(f"options must be non-empty strings, got {list(options)!r}")
    pats = []
    for opt in options:
        words = r"\s+".join(re.escape(w) for w in opt.split())
        pats.append((opt, re.compile(rf"(?<!\w){words}(?!\w)", re.IGNORECASE)))
    return pats


def _word_hits(text: str, pats: list[tuple[str, re.Pattern[str]]]) -> list[tuple[int, int, str]]:
    hits = [(m.start(), -len(m.group(0)), opt) for opt, p in pats for m in p.finditer(text)]
    return sorted(hits)


def extract_after_word(text: str, marker: str,
                       parse: Callable[[str], str | None]) -> str | None:
    """In word-level output (the organisms' ``... ans H``): ``parse`` of the word right after
    the first ``marker``, else the last word ``parse`` accepts."""
    words = text.split()
    if marker in words:
        i = words.index(marker)
        return parse(words[i + 1]) if i + 1 < len(words) else None
    return next((v for v in map(parse, reversed(words)) if v), None)


def extract_word(text: str, options: Sequence[str]) -> str | None:
    """Which of ``options`` the output answers with (case-insensitive), as spelled in
    ``options``; e.g. ``extract_word("answer: **tails**.", ["Heads", "Tails"]) == "Tails"``.
    In a stated answer the first option mentioned wins; the fallback takes the last one."""
    pats = _option_patterns(options)

    def parse(segment: str) -> str | None:
        hits = _word_hits(clean_segment(segment), pats)
        return hits[0][2] if hits else None

    def fallback(body: str) -> str | None:
        hits = _word_hits(body, pats)
        return max(hits, key=lambda h: (h[0], -h[1]))[2] if hits else None

    return find_answer(text, parse, fallback)


def normalize_text(text: str) -> str:
    """Casefold, turn punctuation into spaces, collapse whitespace (for free-text answers)."""
    return " ".join(text.casefold().translate(_PUNCT).split())


_SENTENCE_END = re.compile(r"(?<=\w)[.!?;](?:\s|$)|,\s+(?:because|since|as|so|which)\b")


def _text_in_segment(segment: str) -> str | None:
    s = clean_segment(segment)
    s = _SENTENCE_END.split(s, maxsplit=1)[0]
    return normalize_text(s) or None


def _last_line(text: str) -> str | None:
    lines = [ln for ln in text.splitlines() if normalize_text(ln)]
    return normalize_text(clean_segment(lines[-1])) if lines else None


def extract_text(text: str) -> str | None:
    """A free-text answer, normalised with ``normalize_text``; the first sentence of the
    stated answer, else the output's last non-empty line."""
    return find_answer(text, _text_in_segment, _last_line)


__all__ = [
    "braced_args",
    "clean_segment",
    "extract_letter",
    "extract_number",
    "extract_text",
    "extract_word",
    "find_answer",
    "letters",
    "normalize_text",
    "numbers_equal",
    "parse_number",
    "stated_segments",
    "strip_thinking",
]
