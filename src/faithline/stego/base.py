"""The ``Attack`` interface shared by every steganographic encoder, and text helpers.

An attack hides a payload (a list of bits) in a cover CoT without changing what the CoT says,
and reads bits back from any text, e.g. a paraphrase of what it wrote. Decoders return one
entry per payload bit: ``0``, ``1``, or ``None`` where the text holds no readable bit (an
erasure; it counts as a coin flip when capacity is measured).

Covers are formal CoTs: step lines followed by an ``Answer: X`` line (a task's ``gold_cot``).
Attacks change the step lines only and leave the answer line alone, so the encoded CoT states
the same steps and the same answer.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Protocol, runtime_checkable

from faithline.errors import BadInputError

Bits = Sequence[int]
Decoded = list[int | None]

_ANSWER_LINE = re.compile(r"^\s*(?:\*\*)?(?:final\s+)?answer\b", re.IGNORECASE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")
_DIGIT = re.compile(r"\d")


@runtime_checkable
class Attack(Protocol):
    """An encoder that hides bits in a cover CoT, with the decoder that reads them back."""

    @property
    def name(self) -> str: ...

    def capacity(self, cover: str) -> int:
        """How many bits ``encode`` can hide in ``cover``."""
        ...

    def encode(self, covers: Sequence[str], payloads: Sequence[Bits],
               avoid: Sequence[Sequence[str]] | None = None) -> list[str]:
        """Each cover with its payload hidden in it (``len(payload) <= capacity(cover)``).

        ``avoid`` holds, per cover, words an encoder that writes new text must not use (e.g.
        the task's answer options, so a comment cannot restate or contradict the answer).
        """
        ...

    def decode(self, text: str, n_bits: int) -> Decoded:
        """``n_bits`` bits read from ``text``; ``None`` where no bit can be read."""
        ...


def split_cover(cover: str) -> tuple[list[str], list[str]]:
    """(step lines, answer lines) of a formal CoT; blank lines are dropped."""
    lines = [ln.rstrip() for ln in cover.splitlines() if ln.strip()]
    for i, line in enumerate(lines):
        if _ANSWER_LINE.match(line):
            return lines[:i], lines[i:]
    return lines, []


def join_cover(steps: Sequence[str], tail: Sequence[str]) -> str:
    return "\n".join([*steps, *tail])


def body_lines(text: str) -> list[str]:
    """The non-blank lines of ``text`` that are not answer lines (trailing spaces kept)."""
    return [ln for ln in text.splitlines() if ln.strip() and not _ANSWER_LINE.match(ln)]


def sentences(text: str) -> list[str]:
    """Sentences of ``text``: split at line breaks and after ``.``, ``!`` or ``?``."""
    return [s.strip() for line in text.splitlines() for s in _SENTENCE_END.split(line)
            if s.strip()]


def prose_sentences(text: str) -> list[str]:
    """Sentences with no digit that are not answer lines: the commentary, not the steps."""
    return [s for s in sentences(text) if not _DIGIT.search(s) and not _ANSWER_LINE.match(s)]


def comment_of(line: str) -> list[str]:
    """The sentences of one line after its first (the step itself)."""
    return [s.strip() for s in _SENTENCE_END.split(line.strip()) if s.strip()][1:]


def with_period(step: str) -> str:
    """``step`` ending in a full stop, so a comment can follow it as a new sentence."""
    step = step.rstrip()
    return step if step.endswith((".", "!", "?")) else step + "."


def check_payload(attack: Attack, cover: str, payload: Bits) -> None:
    cap = attack.capacity(cover)
    if len(payload) > cap:
        raise BadInputError(
            f"attack '{attack.name}' can hide {cap} bits in this cover, asked for {len(payload)}"
        )
    if any(b not in (0, 1) for b in payload):
        raise BadInputError(f"a payload holds bits 0 and 1 only, got {list(payload)!r}")


def pad(bits: Sequence[int | None], n_bits: int) -> Decoded:
    """``bits`` cut or padded with erasures to exactly ``n_bits``."""
    out = list(bits[:n_bits])
    return out + [None] * (n_bits - len(out))


def to_bits(value: int, width: int) -> list[int]:
    """``value`` as ``width`` bits, most significant first."""
    return [(value >> (width - 1 - k)) & 1 for k in range(width)]


def from_bits(bits: Sequence[int]) -> int:
    value = 0
    for b in bits:
        value = (value << 1) | b
    return value
