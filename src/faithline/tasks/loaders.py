"""Loaders for user data: Task JSONL files and local Hugging Face ``datasets``.

Task JSONL (contract, DESIGN.md): one JSON object a line with ``id``, ``question``, ``answer``
and optionally ``choices`` (a list of strings; then ``answer`` is a letter) and ``meta``.
Other keys are kept in ``meta``. Numeric ``id`` / ``answer`` values are turned into strings.

    faithline eval --task data/my_questions.jsonl ...
    faithline eval --task hf-dataset:data/my_saved_dataset ...

How answers are checked, per sample: with ``choices`` the letter is extracted
(``extract_letter``); else, if the gold answer is a number, the number (``extract_number``,
compared numerically); else free text, compared after ``normalize_text`` (casefold,
punctuation and extra whitespace removed).

``samples(n, seed)`` returns the first ``n`` rows in file order, or all of them when there
are fewer than ``n``; ``seed`` is accepted for the ``Task`` interface and unused.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from faithline.errors import BadInputError, MissingDependencyError
from faithline.io import iter_jsonl
from faithline.tasks.base import Task
from faithline.tasks.coinflip import check_count
from faithline.tasks.extract import (
    extract_letter,
    extract_number,
    extract_text,
    letters,
    normalize_text,
    numbers_equal,
    parse_number,
)
from faithline.types import Sample

REQUIRED = ("id", "question", "answer")
HF_FILE_FORMATS = {".json": "json", ".jsonl": "json", ".csv": "csv", ".parquet": "parquet"}


# ---------------------------------------------------------------- row validation


def _as_text(value: Any, key: str, where: str, allow_number: bool) -> str:
    numeric = isinstance(value, (int, float)) and not isinstance(value, bool)
    if isinstance(value, str) or (allow_number and numeric):
        text = str(value)
        if text.strip():
            return text
        raise BadInputError(f"{where}: '{key}' is empty")
    kind = "a string or a number" if allow_number else "a string"
    raise BadInputError(f"{where}: '{key}' must be {kind}, got {type(value).__name__}")


def _as_choices(value: Any, where: str) -> tuple[str, ...] | None:
    if value is None:
        return None
    ok = isinstance(value, (list, tuple)) and all(isinstance(c, str) for c in value)
    if not ok or not 2 <= len(value) <= 26:
        raise BadInputError(f"{where}: 'choices' must be a list of 2 to 26 strings")
    return tuple(value)


def _as_letter(answer: str, n_choices: int, where: str) -> str:
    valid = letters(n_choices)
    letter = answer.strip().strip("()").strip().upper()
    if len(letter) != 1 or letter not in valid:
        raise BadInputError(
            f"{where}: 'answer' must be a letter {valid[0]}-{valid[-1]} when 'choices' are "
            f"given, got {answer!r}"
        )
    return letter


def build_sample(
    where: str,
    ident: Any,
    question: Any,
    answer: Any,
    choices: Any = None,
    meta: Any = None,
) -> Sample:
    """A validated ``Sample``; ``where`` (``file:line``) prefixes every error message."""
    if meta is not None and not isinstance(meta, Mapping):
        raise BadInputError(f"{where}: 'meta' must be an object, got {type(meta).__name__}")
    gold = _as_text(answer, "answer", where, allow_number=True)
    opts = _as_choices(choices, where)
    if opts is not None:
        gold = _as_letter(gold, len(opts), where)
    return Sample(
        id=_as_text(ident, "id", where, allow_number=True),
        question=_as_text(question, "question", where, allow_number=False),
        answer=gold,
        choices=opts,
        meta=dict(meta or {}),
    )


def _check_unique(samples: list[Sample], wheres: list[str]) -> None:
    seen: dict[str, str] = {}
    for sample, where in zip(samples, wheres, strict=True):
        if sample.id in seen:
            raise BadInputError(
                f"{where}: duplicate id {sample.id!r} (first seen at {seen[sample.id]})"
            )
        seen[sample.id] = where


# ---------------------------------------------------------------- the shared task


def answer_kind(sample: Sample) -> str:
    """``"letter"``, ``"number"`` or ``"text"``: how ``sample``'s answers are extracted."""
    if sample.choices:
        return "letter"
    return "number" if parse_number(sample.answer) is not None else "text"


class LoadedTask(Task):
    """A fixed list of samples from user data, with the extraction rules above."""

    def __init__(self, rows: list[Sample], source: str, **options: Any) -> None:
        if not rows:
            raise BadInputError(f"{source}: no samples found")
        self.rows = rows
        super().__init__(**options)

    def samples(self, n: int, seed: int = 0) -> list[Sample]:
        check_count(n, "number of samples", 0, 10**12)
        return self.rows[:n]

    def answer_hint(self, sample: Sample) -> str:
        if answer_kind(sample) == "number":
            return "a number"
        return super().answer_hint(sample)

    def extract(self, text: str, sample: Sample) -> str | None:
        if sample.choices:
            return extract_letter(text, len(sample.choices), sample.choices)
        if answer_kind(sample) == "number":
            return extract_number(text)
        return extract_text(text)

    def verify(self, answer: str | None, sample: Sample) -> bool:
        if answer is None:
            return False
        kind = answer_kind(sample)
        if kind == "number":
            return numbers_equal(answer, sample.answer)
        if kind == "text":
            norm = normalize_text(answer)
            return bool(norm) and norm == normalize_text(sample.answer)
        return answer == sample.answer


# ---------------------------------------------------------------- Task JSONL


def _jsonl_sample(row: dict[str, Any], where: str) -> Sample:
    missing = [k for k in REQUIRED if k not in row]
    if missing:
        raise BadInputError(f"{where}: missing required key(s) {', '.join(missing)}")
    meta = row.get("meta")
    if meta is not None and not isinstance(meta, dict):
        raise BadInputError(f"{where}: 'meta' must be an object, got {type(meta).__name__}")
    known = {*REQUIRED, "choices", "meta"}
    extra = {k: v for k, v in row.items() if k not in known}
    return build_sample(where, row["id"], row["question"], row["answer"], row.get("choices"),
                        {**extra, **(meta or {})})


def read_task_jsonl(path: str | os.PathLike[str]) -> list[Sample]:
    """Samples from a Task JSONL file; any problem raises ``BadInputError`` naming file:line."""
    if not Path(path).is_file():
        raise BadInputError(f"{path}: no such file")
    samples, wheres = [], []
    for lineno, row in iter_jsonl(path, finite=True):  # NaN, Infinity: refused, named
        where = f"{path}:{lineno}"
        samples.append(_jsonl_sample(row, where))
        wheres.append(where)
    _check_unique(samples, wheres)
    return samples


class JsonlTask(LoadedTask):
    """Samples from a Task JSONL file (see the module docstring)."""

    name = "jsonl"

    def __init__(self, path: str | os.PathLike[str]) -> None:
        super().__init__(read_task_jsonl(path), str(path), path=str(path))


# ---------------------------------------------------------------- local HF datasets


def _import_datasets() -> Any:
    try:
        import datasets
    except ImportError:
        raise MissingDependencyError("datasets", "datasets", "hf-dataset: tasks") from None
    return datasets


def load_local_dataset(
    path: str | os.PathLike[str], split: str, cache_dir: str | None = None
) -> Any:
    """A local ``datasets.Dataset``: a ``save_to_disk`` folder or a json/jsonl/csv/parquet
    file (converted into ``cache_dir``, default the HF datasets cache). Nothing is
    downloaded."""
    datasets = _import_datasets()
    p = Path(path)
    if not p.exists():
        raise BadInputError(f"{path}: no such file or directory")
    markers = ("dataset_info.json", "state.json", "dataset_dict.json")
    if p.is_dir() and not any((p / m).exists() for m in markers):
        raise BadInputError(f"{path}: not a dataset folder written by save_to_disk")
    fmt = HF_FILE_FORMATS.get(p.suffix.lower())
    if p.is_file() and fmt is None:
        raise BadInputError(
            f"{path}: unsupported file type; use one of {', '.join(sorted(HF_FILE_FORMATS))}"
        )
    try:
        if p.is_dir():
            loaded = datasets.load_from_disk(str(p))
        else:
            loaded = datasets.load_dataset(fmt, data_files=str(p), cache_dir=cache_dir)
    except Exception as e:  # datasets raises many unrelated types for a bad file
        first = str(e).strip().splitlines()[0] if str(e).strip() else ""
        raise BadInputError(f"{path}: could not load dataset ({type(e).__name__}: {first})") from e
    if isinstance(loaded, datasets.DatasetDict):
        if split not in loaded:
            raise BadInputError(
                f"{path}: no split {split!r}; splits: {', '.join(sorted(loaded))}"
            )
        loaded = loaded[split]
    return loaded


def _jsonable(value: Any) -> bool:
    try:
        json.dumps(value)
    except (TypeError, ValueError):
        return False
    return True


class HFDatasetTask(LoadedTask):
    """Samples from a local HF ``datasets`` dataset, with configurable column names.

    Ids default to the row index when the ``id_key`` column is absent. An optional
    ``choices_key`` column turns the row into multiple choice; its answer may then be a letter
    or a 0-based index. Other JSON-serialisable columns go into ``meta``.
    """

    name = "hf-dataset"

    def __init__(
        self,
        path: str | os.PathLike[str],
        question_key: str = "question",
        answer_key: str = "answer",
        id_key: str = "id",
        split: str = "train",
        choices_key: str = "choices",
        cache_dir: str | None = None,
    ) -> None:
        keys = {"question": question_key, "answer": answer_key, "id": id_key,
                "choices": choices_key}
        rows = self._read(load_local_dataset(path, split, cache_dir), str(path), keys)
        super().__init__(rows, str(path), path=str(path), question_key=question_key,
                         answer_key=answer_key, id_key=id_key, split=split,
                         choices_key=choices_key)

    @staticmethod
    def _read(ds: Any, path: str, keys: dict[str, str]) -> list[Sample]:
        columns = list(ds.column_names)
        for role in ("question", "answer"):
            if keys[role] not in columns:
                raise BadInputError(
                    f"{path}: no {role} column {keys[role]!r}; columns: {', '.join(columns)}"
                )
        used = {keys[r] for r in keys}
        samples, wheres = [], []
        for i, row in enumerate(ds):
            where = f"{path}: row {i}"
            choices = row.get(keys["choices"])
            answer = row[keys["answer"]]
            if choices is not None and isinstance(answer, int) and not isinstance(answer, bool):
                answer = chr(65 + answer) if 0 <= answer < 26 else str(answer)
            meta = {k: v for k, v in row.items() if k not in used and _jsonable(v)}
            samples.append(build_sample(where, row.get(keys["id"], i), row[keys["question"]],
                                        answer, choices, meta))
            wheres.append(where)
        _check_unique(samples, wheres)
        return samples
