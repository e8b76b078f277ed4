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


@pytest.mark.parametrize(("extra", "message"), [
    ('"meta": [1, 2]', "'meta' must be dict"),
    ('"label": "yes"', "'label' must be dict"),
    ('"label": {"hacked": "yes"}', "label 'hacked' must be true or false"),
    ('"monitor": {"rules": 3}', "monitor 'rules' must be an object"),
    ('"correct": "true"', "'correct' must be bool"),
])
def test_ill_typed_optional_keys_name_the_line(tmp_path: Path, extra: str, message: str) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"id": "a", "prompt": "p", "cot": "c", "answer": "x", ' + extra + "}\n")
    with pytest.raises(BadInputError, match=rf"t\.jsonl:1: {message}"):
        read_transcripts(f)


def test_torn_tail_is_skipped_only_when_asked(tmp_path: Path) -> None:
    f = tmp_path / "t.jsonl"
    f.write_text('{"id": "a", "prompt": "p", "cot": "c", "answer": "x"}\n{"id": "b", "pro')
    assert [t.id for t in read_transcripts(f, skip_torn_tail=True)] == ["a"]
    with pytest.raises(BadInputError, match=r"t\.jsonl:2"):
        read_transcripts(f)
