"""Token alignment: segments and CoT steps on the real SmolLM2 tokenizer."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from faithline.errors import BadInputError
from faithline.interp.align import (
    ANSWER,
    COT,
    CUE,
    PROMPT,
    Layout,
    align,
    align_transcript,
    position_index,
    step_spans,
)
from faithline.types import Transcript


def test_step_spans_lines_sentences_words() -> None:
    assert step_spans("a b\n\n c d \ne", "auto") == [(0, 3), (6, 9), (11, 12)]
    assert step_spans("One. Two! Three", "auto") == [(0, 4), (5, 9), (10, 15)]
    assert step_spans("T T H", "auto") == [(0, 1), (2, 3), (4, 5)]
    assert step_spans("T T H\nH", "words") == [(0, 1), (2, 3), (4, 5), (6, 7)]
    with pytest.raises(BadInputError):
        step_spans("x", "paragraphs")
    with pytest.raises(BadInputError):
        Layout(steps="paragraphs")


def test_segments_and_steps_cover_the_text(smollm2: Any) -> None:
    t = Transcript(id="a", prompt="Is 2+2 4?", cot="First, 2+2=4.\nSo yes.", answer="Yes")
    a = align_transcript(smollm2, t, Layout())
    text = "".join(a.tokens)
    assert text.startswith("<|im_start|>system") and text.endswith("\nAnswer: Yes")
    assert smollm2.tokenizer.decode(a.ids) == text
    seg = a.segment
    # segments are contiguous and in order: prompt, cot, cue, answer
    assert list(dict.fromkeys(seg.tolist())) == [PROMPT, COT, CUE, ANSWER]
    assert "".join(np.array(a.tokens)[seg == COT]).strip() == t.cot
    assert "".join(np.array(a.tokens)[seg == ANSWER]).strip() == "Yes"
    steps = a.step[seg == COT]
    assert steps.min() == 0 and steps.max() == 1 and np.all(np.diff(steps) >= 0)
    assert np.all(a.step[seg != COT] == -1)
    cot_tokens = np.array(a.tokens)[seg == COT]
    assert "".join(cot_tokens[steps == 1]).strip() == "So yes."


def test_plain_layout_and_tokenizers_without_offsets(smollm2: Any) -> None:
    t = Transcript(id="a", prompt="start H flip", cot="T", answer="T")
    a = align_transcript(smollm2, t, Layout(chat=False, answer_cue=" => "))
    assert "".join(a.tokens) == "start H flip\nT => T"

    class NoOffsets:  # a slow tokenizer: offsets are not implemented
        def __call__(self, text: str, **kw: Any) -> dict[str, list[int]]:
            if kw.get("return_offsets_mapping"):
                raise NotImplementedError
            return {"input_ids": [ord(c) for c in text.split(" ")[0]][:2]}

        def decode(self, ids: list[int]) -> str:
            return "".join(chr(i) for i in ids)

    b = align(NoOffsets(), [(PROMPT, "pq"), (COT, "c"), (CUE, ""), (ANSWER, "ab")])
    assert b.segment.tolist() == [PROMPT, PROMPT, COT, ANSWER, ANSWER]
    assert b.tokens == ["p", "q", "c", "a", "b"]


def test_positions() -> None:
    seg = np.array([PROMPT, PROMPT, COT, COT, COT, CUE, CUE, ANSWER])
    assert position_index(seg, "before").tolist() == [1]
    assert position_index(seg, "during").tolist() == [2, 3, 4]
    assert position_index(seg, "cot_end").tolist() == [4]
    assert position_index(seg, "after").tolist() == [6]
    empty = np.array([PROMPT, PROMPT, CUE, ANSWER])
    assert position_index(empty, "during").tolist() == [1]
    with pytest.raises(BadInputError, match="unknown position"):
        position_index(seg, "middle")
