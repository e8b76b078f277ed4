"""Transcript JSONL reading: contract validation with file and line in every error."""

from __future__ import annotations

from pathlib import Path

import pytest

from faithline.errors import BadInputError
from faithline.io import read_transcripts


def test_malformed_jsonl_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"id": "a", "prompt": "p", "cot": "c", "answer": "x"}\n\n{oops\n')
    with pytest.raises(BadInputError, match=r"t.jsonl:3: invalid JSON"):
        read_transcripts(f)


def test_missing_required_key_names_the_line(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"id": "a", "prompt": "p", "answer": "x"}\n')
    with pytest.raises(BadInputError, match=r"t.jsonl:1: missing required key\(s\) cot"):
        read_transcripts(f)


def test_unknown_keys_round_trip(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"id": "a", "prompt": "p", "cot": "c", "answer": "x", "mine": [1, 2],'
                 ' "label": {"misbehavior": true}}\n')
    (t,) = read_transcripts(f)
    assert t.to_dict()["mine"] == [1, 2]
    assert t.label == {"misbehavior": True}


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="does not exist"):
        read_transcripts(tmp_path / "nope.jsonl")
