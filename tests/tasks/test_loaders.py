"""Task JSONL and local HF ``datasets`` loaders: parsing, every bad-input path, checking."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from faithline.errors import BadInputError
from faithline.tasks import get_task
from faithline.tasks.loaders import HFDatasetTask, JsonlTask, answer_kind

ROWS: list[dict[str, Any]] = [
    {"id": "q1", "question": "Capital of France?", "choices": ["Rome", "Paris"], "answer": "B"},
    {"id": "q2", "question": "What is 1000 + 234?", "answer": "1234", "meta": {"src": "x"}},
    {"id": "q3", "question": "Largest planet?", "answer": "Jupiter", "level": 1},
    {"id": 4, "question": "Twice 21?", "answer": 42},
]


def _write(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


@pytest.fixture
def jsonl(tmp_path: Path) -> Path:
    return _write(tmp_path / "tasks.jsonl", [json.dumps(r) for r in ROWS[:2]] + [""]
                  + [json.dumps(r) for r in ROWS[2:]])


def test_jsonl_loads(jsonl: Path) -> None:
    task = get_task(str(jsonl))
    assert isinstance(task, JsonlTask)
    s = task.samples(10)
    assert [x.id for x in s] == ["q1", "q2", "q3", "4"]
    assert s[0].choices == ("Rome", "Paris") and s[0].answer == "B"
    assert s[1].meta == {"src": "x"}
    assert s[2].meta == {"level": 1}  # unknown keys are kept in meta
    assert s[3].answer == "42"
    assert [answer_kind(x) for x in s] == ["letter", "number", "text", "number"]
    assert task.describe() == {"name": "jsonl", "options": {"path": str(jsonl)}}


def test_jsonl_samples_first_n_in_order(jsonl: Path) -> None:
    task = JsonlTask(jsonl)
    assert [x.id for x in task.samples(2, seed=0)] == ["q1", "q2"]
    assert task.samples(2, seed=99) == task.samples(2, seed=0)
    assert len(task.samples(100)) == 4
    assert task.samples(0) == []
    with pytest.raises(BadInputError):
        task.samples(-1)


def test_jsonl_checking(jsonl: Path) -> None:
    task = JsonlTask(jsonl)
    mcq, num, text, num2 = task.samples(4)
    assert task.score_text("Answer: (B)", mcq)
    assert task.score_text("Answer: Paris", mcq)
    assert not task.score_text("Answer: A", mcq)
    assert not task.score_text("Answer: C", mcq)  # only two choices
    assert task.score_text("The answer is 1,234.", num)
    assert not task.score_text("The answer is 1,235.", num)
    assert task.score_text("**Answer:** jupiter.", text)
    assert task.score_text("<answer>  JUPITER! </answer>", text)
    assert not task.score_text("Answer: Saturn", text)
    assert not task.score_text("", text)
    assert task.score_text("21 * 2 = 42", num2)
    assert task.answer_hint(num) == "a number"
    assert "a number" not in (task.answer_hint(mcq), task.answer_hint(text))  # base defaults


@pytest.mark.parametrize(
    ("lines", "line", "needle"),
    [
        (['{"id": "a", "question": "q", "answer": "x"}', '{"id": "b", "question": "q",'],
         2, "invalid JSON"),
        (['{"id": "a", "question": "q"}'], 1, "missing required key(s) answer"),
        (['{"question": "q", "answer": "x"}'], 1, "missing required key(s) id"),
        (['[1, 2, 3]'], 1, "expected a JSON object"),
        (['{"id": "a", "question": 5, "answer": "x"}'], 1, "'question' must be a string"),
        (['{"id": null, "question": "q", "answer": "x"}'], 1, "'id' must be"),
        (['{"id": "a", "question": "q", "answer": true}'], 1, "'answer' must be"),
        (['{"id": "a", "question": "q", "answer": ""}'], 1, "'answer' is empty"),
        (['{"id": "a", "question": "q", "answer": "x", "meta": [1]}'], 1, "'meta' must be"),
        (['{"id": "a", "question": "q", "answer": "A", "choices": "AB"}'], 1, "'choices'"),
        (['{"id": "a", "question": "q", "answer": "A", "choices": ["x", 2]}'], 1, "'choices'"),
        (['{"id": "a", "question": "q", "answer": "A", "choices": ["x"]}'], 1, "'choices'"),
        (['{"id": "a", "question": "q", "answer": "x"}', "",
          '{"id": "b", "question": "q", "answer": "Paris", "choices": ["Rome", "Paris"]}'],
         3, "must be a letter A-B"),
        (['{"id": "a", "question": "q", "answer": "C", "choices": ["Rome", "Paris"]}'],
         1, "must be a letter"),
        (['{"id": "a", "question": "q", "answer": "x"}', '{"id": "b", "question": "q", '
          '"answer": "y"}', '{"id": "a", "question": "r", "answer": "z"}'],
         3, "duplicate id 'a' (first seen at"),
    ],
)
def test_jsonl_bad_input(tmp_path: Path, lines: list[str], line: int, needle: str) -> None:
    path = _write(tmp_path / "bad.jsonl", lines)
    with pytest.raises(BadInputError) as info:
        JsonlTask(path)
    message = str(info.value)
    assert message.startswith(f"{path}:{line}: ")
    assert needle in message
    assert "\n" not in message


def test_jsonl_missing_and_empty(tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        get_task(str(tmp_path / "absent.jsonl"))
    empty = _write(tmp_path / "empty.jsonl", ["", "   "])
    with pytest.raises(BadInputError, match="no samples"):
        JsonlTask(empty)


def test_jsonl_letter_answer_is_normalised(tmp_path: Path) -> None:
    row = {"id": "a", "question": "q", "answer": "(b)", "choices": ["x", "y"]}
    path = _write(tmp_path / "t.jsonl", [json.dumps(row)])
    assert JsonlTask(path).samples(1)[0].answer == "B"


# ---------------------------------------------------------------- HF datasets

@pytest.fixture
def cache(tmp_path: Path) -> str:
    """Keep the datasets cache of these tests out of the user's home."""
    pytest.importorskip("datasets")
    return str(tmp_path / "hf-cache")


def _saved(tmp_path: Path, columns: dict[str, list[Any]], dict_split: str | None = None) -> Path:
    datasets = pytest.importorskip("datasets")
    ds = datasets.Dataset.from_dict(columns)
    out = tmp_path / "ds"
    (datasets.DatasetDict({dict_split: ds}) if dict_split else ds).save_to_disk(str(out))
    return out


def test_hf_save_to_disk(tmp_path: Path) -> None:
    path = _saved(tmp_path, {"question": ["1+1?", "Capital of France?"],
                             "answer": ["2", "Paris"], "source": ["a", "b"]})
    task = get_task(f"hf-dataset:{path}")
    assert isinstance(task, HFDatasetTask)
    s = task.samples(5)
    assert [x.id for x in s] == ["0", "1"]
    assert s[0].meta == {"source": "a"}
    assert task.score_text("Answer: 2", s[0]) and task.score_text("Answer: paris.", s[1])
    assert not task.score_text("Answer: 3", s[0])


def test_hf_column_mapping_and_split(tmp_path: Path) -> None:
    path = _saved(tmp_path, {"uid": ["x", "y"], "prompt": ["Pick one", "Pick again"],
                             "label": [1, 0], "options": [["no", "yes"], ["up", "down"]]},
                  dict_split="test")
    task = HFDatasetTask(path, question_key="prompt", answer_key="label", id_key="uid",
                         split="test", choices_key="options")
    a, b = task.samples(2)
    assert (a.id, a.answer, a.choices) == ("x", "B", ("no", "yes"))
    assert (b.id, b.answer) == ("y", "A")
    assert task.score_text("Answer: (B)", a)
    with pytest.raises(BadInputError, match="no split 'train'; splits: test"):
        HFDatasetTask(path, question_key="prompt", answer_key="label")


def test_hf_data_files(tmp_path: Path, cache: str) -> None:
    jl = _write(tmp_path / "d.jsonl", [json.dumps({"question": "5+5?", "answer": "10"})])
    assert HFDatasetTask(jl, cache_dir=cache).samples(1)[0].answer == "10"
    csv = _write(tmp_path / "d.csv", ["id,question,answer", "k1,3+4?,7", "k2,Sky colour?,blue"])
    s = HFDatasetTask(csv, cache_dir=cache).samples(2)
    assert [x.id for x in s] == ["k1", "k2"] and s[0].answer == "7"
    pq = tmp_path / "d.parquet"
    datasets = pytest.importorskip("datasets")
    datasets.Dataset.from_dict({"question": ["q"], "answer": ["a"]}).to_parquet(str(pq))
    assert HFDatasetTask(pq, cache_dir=cache).samples(1)[0].question == "q"


def test_hf_bad_input(tmp_path: Path, cache: str) -> None:
    with pytest.raises(BadInputError, match="no such file"):
        HFDatasetTask(tmp_path / "nope")
    (tmp_path / "plain").mkdir()
    with pytest.raises(BadInputError, match="save_to_disk"):
        HFDatasetTask(tmp_path / "plain")
    txt = _write(tmp_path / "d.txt", ["hello"])
    with pytest.raises(BadInputError, match="unsupported file type"):
        HFDatasetTask(txt)
    broken = _write(tmp_path / "broken.jsonl", ["{not json"])
    with pytest.raises(BadInputError, match="could not load dataset"):
        HFDatasetTask(broken, cache_dir=cache)
    path = _saved(tmp_path, {"q": ["a"], "answer": ["b"]})
    with pytest.raises(BadInputError, match="no question column 'question'; columns: q, answer"):
        HFDatasetTask(path)


def test_hf_bad_rows(tmp_path: Path) -> None:
    dup = _saved(tmp_path, {"id": ["a", "a"], "question": ["q", "r"], "answer": ["1", "2"]})
    with pytest.raises(BadInputError, match=r"row 1: duplicate id 'a'"):
        HFDatasetTask(dup)
    other = tmp_path / "other"
    other.mkdir()
    empty_q = _saved(other, {"question": ["ok", ""], "answer": ["1", "2"]})
    with pytest.raises(BadInputError, match=r"row 1: 'question' is empty"):
        HFDatasetTask(empty_q)


def test_hf_missing_datasets(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    import builtins

    from faithline.errors import MissingDependencyError

    real_import = builtins.__import__

    def fake_import(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == "datasets":
            raise ImportError("no datasets")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake_import)
    with pytest.raises(MissingDependencyError, match=r"faithline\[datasets\]"):
        HFDatasetTask(tmp_path)
