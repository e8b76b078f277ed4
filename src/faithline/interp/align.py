"""Token-level alignment of a transcript: which tokens are prompt, CoT (which step), answer.

A transcript is fed to the model as ``prompt (rendered) + cot + answer cue + answer``. Every
token gets a *segment* (``prompt``, ``cot``, ``cue``, ``answer``) and, inside the CoT, the index
of its *step* (a line, a sentence or a word of the CoT; see ``step_spans``). Probes and monitors
read activations at *positions* defined on these segments:

    before    the last token before the CoT (the model has read the prompt, not yet reasoned)
    during    the mean over the CoT tokens
    cot_end   the last CoT token
    after     the last token before the answer (the end of the answer cue)

    >>> step_spans("Flip 1: Heads\\nFlip 2: Tails", "auto")
    [(0, 13), (14, 27)]
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from faithline.config import help_meta as _help
from faithline.errors import BadInputError
from faithline.models.base import LocalModel
from faithline.types import Prompt, Transcript

SEGMENTS = ("prompt", "cot", "cue", "answer")
PROMPT, COT, CUE, ANSWER = range(4)
POSITIONS = ("before", "during", "cot_end", "after")
STEP_MODES = ("auto", "lines", "sentences", "words")
_SENTENCE = re.compile(r"[^.!?\n]+(?:[.!?]+|$)")
_WORD = re.compile(r"\S+")



@dataclass(frozen=True)
class Layout:
    """How a transcript is laid out as one text for the model."""

    chat: bool = field(default=True, metadata=_help(
        "render the prompt with the model's chat template when it has one (else, or with "
        "--no-chat: prompt, newline, CoT)"))
    answer_cue: str = field(default="\nAnswer: ", metadata=_help(
        "text between the CoT and the answer (the organism's is ' ans ')"))
    steps: str = field(default="auto", metadata=_help(
        f"what a CoT step is: one of {', '.join(STEP_MODES)} (auto: lines if the CoT has "
        "several, else sentences, else words)"))

    def __post_init__(self) -> None:
        if self.steps not in STEP_MODES:
            raise BadInputError(f"unknown step mode '{self.steps}'; use one of {STEP_MODES}")


@dataclass
class Aligned:
    """One transcript as model input: ids, token texts and, per token, segment and CoT step."""

    ids: list[int]
    tokens: list[str]
    segment: np.ndarray  # int8 [n]: index into SEGMENTS
    step: np.ndarray  # int16 [n]: CoT step of the token, -1 outside the CoT

    def __len__(self) -> int:
        return len(self.ids)


def step_spans(cot: str, mode: str = "auto") -> list[tuple[int, int]]:
    """Character spans of the CoT's steps (whitespace around a step is not part of it)."""
    if mode not in STEP_MODES:
        raise BadInputError(f"unknown step mode '{mode}'; use one of {STEP_MODES}")

    def spans(pattern: re.Pattern[str]) -> list[tuple[int, int]]:
        out = []
        for m in pattern.finditer(cot):
            text = m.group(0)
            lead = len(text) - len(text.lstrip())
            body = text.strip()
            if body:
                out.append((m.start() + lead, m.start() + lead + len(body)))
        return out

    lines = spans(re.compile(r"[^\n]+"))
    if mode == "lines" or (mode == "auto" and len(lines) > 1):
        return lines
    sentences = spans(_SENTENCE)
    if mode == "sentences" or (mode == "auto" and len(sentences) > 1):
        return sentences
    return spans(_WORD)


def parts_of(model: LocalModel, t: Transcript, layout: Layout) -> list[tuple[int, str]]:
    """The text fed to the model, as (segment, text) parts in order."""
    template = getattr(model.tokenizer, "chat_template", None)
    if layout.chat and template:
        prefix = str(model.render(Prompt.user(t.prompt)))
    else:
        prefix = t.prompt + "\n"
    return [(PROMPT, prefix), (COT, t.cot), (CUE, layout.answer_cue), (ANSWER, t.answer)]


def _encode_with_offsets(tokenizer: Any, text: str) -> tuple[list[int], list[tuple[int, int]]]:
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    return list(enc["input_ids"]), [tuple(o) for o in enc["offset_mapping"]]


def _offsets_by_parts(tokenizer: Any, parts: Sequence[tuple[int, str]]
                      ) -> tuple[list[int], list[tuple[int, int]]]:
    """Tokenizers without offsets: encode part by part and give each token its part's span."""
    ids: list[int] = []
    offsets: list[tuple[int, int]] = []
    pos = 0
    for _, text in parts:
        part_ids = list(tokenizer(text, add_special_tokens=False)["input_ids"]) if text else []
        ids += part_ids
        offsets += [(pos, pos + len(text))] * len(part_ids)
        pos += len(text)
    return ids, offsets


def align(tokenizer: Any, parts: Sequence[tuple[int, str]], steps: str = "auto") -> Aligned:
    """Tokenise the joined ``parts`` and label every token with its segment and CoT step.

    A token belongs to the part where its first non-space character lies (`` D`` after
    ``Answer:`` is an answer token); a CoT token between two steps (e.g. a newline) belongs to
    the step before it.
    """
    text = "".join(p for _, p in parts)
    try:
        ids, offsets = _encode_with_offsets(tokenizer, text)
    except (NotImplementedError, ValueError, TypeError):
        ids, offsets = _offsets_by_parts(tokenizer, parts)
    bounds: list[tuple[int, int, int]] = []  # (start, end, segment)
    cot_start, cot_text = 0, ""
    pos = 0
    for seg, p in parts:
        bounds.append((pos, pos + len(p), seg))
        if seg == COT:
            cot_start, cot_text = pos, p
        pos += len(p)
    step_starts = np.array([cot_start + s for s, _ in step_spans(cot_text, steps)], dtype=int)
    segment = np.zeros(len(ids), dtype=np.int8)
    step = np.full(len(ids), -1, dtype=np.int16)
    for k, (a, b) in enumerate(offsets):
        start = next((i for i in range(a, min(b, len(text))) if not text[i].isspace()), a)
        seg = next((s for lo, hi, s in bounds if lo <= start < hi), bounds[-1][2])
        segment[k] = seg
        if seg == COT and step_starts.size:
            step[k] = max(int(np.searchsorted(step_starts, start, side="right")) - 1, 0)
    if offsets and all(b - a >= 0 for a, b in offsets) and len(set(offsets)) == len(offsets):
        tokens = [text[a:b] for a, b in offsets]
    else:
        tokens = [tokenizer.decode([i]) for i in ids]
    return Aligned(ids=ids, tokens=tokens, segment=segment, step=step)


def align_transcript(model: LocalModel, t: Transcript, layout: Layout) -> Aligned:
    """``align`` for a transcript fed to ``model`` (an ``HFModel``) with ``layout``."""
    aligned = align(model.tokenizer, parts_of(model, t, layout), layout.steps)
    if not aligned.ids:
        raise BadInputError(f"transcript '{t.id}' tokenises to nothing")
    return aligned


def position_index(segment: np.ndarray, position: str) -> np.ndarray:
    """Token indices a position pools over (``during``: all CoT tokens; others: one token).

    With an empty CoT, ``during`` and ``cot_end`` fall back to the ``before`` token.
    """
    if position not in POSITIONS:
        raise BadInputError(f"unknown position '{position}'; use one of {', '.join(POSITIONS)}")
    n = len(segment)
    cot = np.flatnonzero(segment == COT)
    first_after_prompt = np.flatnonzero(segment != PROMPT)
    before = int(first_after_prompt[0]) - 1 if first_after_prompt.size else n - 1
    before = max(before, 0)
    if position == "before" or (position in ("during", "cot_end") and not cot.size):
        return np.array([before])
    if position == "during":
        return cot
    if position == "cot_end":
        return cot[-1:]
    answer = np.flatnonzero(segment == ANSWER)
    after = int(answer[0]) - 1 if answer.size else n - 1
    return np.array([max(after, 0)])
