"""CoT output formats: how the model is asked to lay out reasoning, and how output is split.

``answer-line``: free reasoning, then a final line ``Answer: X``.
``think-tags``: reasoning inside ``<think>...</think>``, then the answer.
``organism``: the model organism's words, ``<CoT words> ans X`` (``coinflip:style=words``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from faithline.errors import BadInputError

FORMATS = ("answer-line", "think-tags", "organism")
ORGANISM_ANS = "ans"
_ANSWER_LINE = re.compile(r"(?im)^[ \t*#_>-]*(?:final\s+)?answer[ \t*_]*[:：]")
_THINK = re.compile(r"(?is)^\s*<think(?:ing)?>(.*?)(?:</think(?:ing)?>|\Z)(.*)$")


@dataclass(frozen=True)
class CotFormat:
    name: str = "answer-line"

    def __post_init__(self) -> None:
        if self.name not in FORMATS:
            raise BadInputError(f"unknown CoT format '{self.name}'; use one of {FORMATS}")

    def instruction(self) -> str:
        if self.name == "think-tags":
            return ("Reason step by step inside <think>...</think> tags, then give the final "
                    "answer after the closing tag.")
        return ""

    @property
    def answer_cue(self) -> str:
        """Text that, appended after a CoT, asks for the answer (used by the Face)."""
        if self.name == "organism":
            return f" {ORGANISM_ANS}"
        return "\n</think>\nAnswer:" if self.name == "think-tags" else "\nAnswer:"

    @property
    def cot_stops(self) -> tuple[str, ...]:
        """Stop strings that end the CoT part of a generation (used by the Shoggoth)."""
        if self.name == "think-tags":
            return ("</think>", "</thinking>")
        if self.name == "organism":
            return (ORGANISM_ANS,)
        return ("Answer:", "answer:", "ANSWER:")

    @property
    def prefill(self) -> str:
        return "<think>\n" if self.name == "think-tags" else ""

    def split(self, text: str) -> tuple[str, str | None]:
        """(CoT, answer text) from one full generation; answer is None if none was given."""
        if self.name == "organism":
            words = text.split()
            if ORGANISM_ANS not in words:
                return " ".join(words), None
            i = words.index(ORGANISM_ANS)
            return " ".join(words[:i]), " ".join(words[i:])
        if self.name == "think-tags":
            m = _THINK.match(self.prefill + text if not text.lstrip().startswith("<") else text)
            if m:
                cot, rest = m.group(1), m.group(2)
                return cot.strip(), (rest.strip() or None)
        matches = list(_ANSWER_LINE.finditer(text))
        if not matches:
            return clean_cot(text), None
        last = matches[-1]
        return clean_cot(text[: last.start()]), text[last.start():].strip()


def clean_cot(text: str) -> str:
    """Strip whitespace and dangling markdown left where an answer line was cut off."""
    return text.rstrip(" \t\n*#_>-").strip()
