"""An activation store on disk: safetensors shards plus a JSONL index, larger than memory.

    STORE/store.json           schema, model, module paths and widths, dtype, layout
    STORE/shards/00000.safetensors
                               per module path a Float[Array, "tokens d"]; token_ids, segment,
                               step as Int[Array, "tokens"]
    STORE/index.jsonl          one line per transcript: id, shard, start, n, tokens (texts),
                               transcript (the whole Transcript JSONL row)

A shard is written whole and atomically, then its index lines are appended in one write, so a
killed capture loses at most the shard in progress and resumes by transcript id. Readers open
shards lazily (``safe_open``) and slice rows, so nothing needs the whole store in memory.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections import OrderedDict
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from faithline.errors import BadInputError
from faithline.interp.align import SEGMENTS, Aligned, position_index
from faithline.io import (
    append_line,
    file_mode,
    iter_jsonl,
    read_json,
    repair_jsonl_tail,
    write_json_atomic,
)
from faithline.types import Transcript

SCHEMA = "faithline.activations/1"
STORE_DTYPES = ("float16", "float32")
META_KEYS = ("token_ids", "segment", "step")


@dataclass
class Record:
    """One transcript in the store: where its rows are, its token texts, the transcript."""

    id: str
    shard: int
    start: int
    n: int
    tokens: list[str]
    transcript: dict[str, Any]

    @property
    def label(self) -> dict[str, bool]:
        return dict(self.transcript.get("label") or {})

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "shard": self.shard, "start": self.start, "n": self.n,
                "tokens": self.tokens, "transcript": self.transcript}


def _shard_name(k: int) -> str:
    return f"{k:05d}.safetensors"


class StoreWriter:
    """Buffer captured transcripts and write them out shard by shard."""

    def __init__(self, root: Path, info: dict[str, Any], shard_tokens: int) -> None:
        self.root = root
        self.info = info
        self.shard_tokens = shard_tokens
        self.buffer: list[tuple[Record, dict[str, np.ndarray]]] = []
        self.buffered_tokens = 0
        existing = read_index(root)
        self.done = {r.id for r in existing}
        self.next_shard = max((r.shard for r in existing), default=-1) + 1
        self.tokens_written = sum(r.n for r in existing)

    def add(self, t: Transcript, aligned: Aligned, acts: Mapping[str, np.ndarray]) -> None:
        dtype = np.dtype(self.info["dtype"])
        arrays = {p: np.ascontiguousarray(a, dtype=dtype) for p, a in acts.items()}
        arrays["token_ids"] = np.asarray(aligned.ids, dtype=np.int64)
        arrays["segment"] = aligned.segment.astype(np.int8)
        arrays["step"] = aligned.step.astype(np.int16)
        rec = Record(t.id, -1, 0, len(aligned), aligned.tokens, t.to_dict())
        self.buffer.append((rec, arrays))
        self.buffered_tokens += len(aligned)
        if self.buffered_tokens >= self.shard_tokens:
            self.flush()

    def flush(self) -> None:
        """Write the buffered transcripts as one shard, then index them (one append)."""
        if not self.buffer:
            return
        from safetensors.numpy import save_file

        shard = self.next_shard
        keys = list(self.buffer[0][1])
        joined = {k: np.concatenate([a[k] for _, a in self.buffer]) for k in keys}
        folder = self.root / "shards"
        folder.mkdir(exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".shard-")
        os.close(fd)
        try:
            save_file(joined, tmp, metadata={"schema": SCHEMA})
            os.chmod(tmp, file_mode())  # mkstemp's 0600 otherwise: the run's one mode
            os.replace(tmp, folder / _shard_name(shard))
        finally:
            Path(tmp).unlink(missing_ok=True)
        lines, start = [], 0
        for rec, _ in self.buffer:
            rec.shard, rec.start = shard, start
            start += rec.n
            lines.append(json.dumps(rec.to_dict(), ensure_ascii=False))
            self.done.add(rec.id)
        append_line(self.root / "index.jsonl", "\n".join(lines))
        self.tokens_written += start
        self.next_shard += 1
        self.buffer, self.buffered_tokens = [], 0


def read_index(root: Path) -> list[Record]:
    path = root / "index.jsonl"
    if not path.is_file():
        return []
    repair_jsonl_tail(path)
    return [Record(o["id"], o["shard"], o["start"], o["n"], o["tokens"], o["transcript"])
            for _, o in iter_jsonl(path)]


def open_for_writing(root: str | Path, info: dict[str, Any], shard_tokens: int) -> StoreWriter:
    """Create a store, or resume one made with the same model, paths, dtype and layout."""
    p = Path(root)
    if p.exists() and not p.is_dir():
        raise BadInputError(f"store path '{p}' exists and is not a directory")
    meta = p / "store.json"
    if meta.is_file():
        old = ActivationStore(p).info
        for key in ("model_fingerprint", "paths", "dtype", "layout"):
            if old.get(key) != info.get(key):
                raise BadInputError(
                    f"store '{p}' was captured with a different {key} ({old.get(key)!r} vs "
                    f"{info.get(key)!r}); use another --out or the same settings to resume")
        info = {**old, "dims": {**old.get("dims", {}), **info.get("dims", {})}}
    else:
        p.mkdir(parents=True, exist_ok=True)
    write_json_atomic(meta, info)
    return StoreWriter(p, info, shard_tokens)


class ActivationStore:
    """Read access to a store: records, per-transcript rows, pooled features, token batches."""

    def __init__(self, root: str | Path, max_open: int = 4) -> None:
        self.root = Path(root)
        meta = self.root / "store.json"
        if not meta.is_file():
            raise BadInputError(f"'{self.root}' is not an activation store (no store.json)")
        self.info: dict[str, Any] = read_json(meta)
        if not isinstance(self.info, dict) or self.info.get("schema") != SCHEMA:
            raise BadInputError(f"{meta}: not a {SCHEMA} store")
        self.records = read_index(self.root)
        self._open: OrderedDict[int, Any] = OrderedDict()
        self._max_open = max_open

    @property
    def paths(self) -> list[str]:
        return list(self.info["paths"])

    def dim(self, path: str) -> int:
        self.check_path(path)
        return int(self.info["dims"][path])

    def check_path(self, path: str) -> None:
        if path not in self.info["paths"]:
            raise BadInputError(f"store '{self.root}' has no module path '{path}'; it has: "
                                f"{', '.join(self.info['paths'])}")

    def _shard(self, k: int) -> Any:
        if k in self._open:
            self._open.move_to_end(k)
            return self._open[k]
        from safetensors import safe_open

        f = self.root / "shards" / _shard_name(k)
        if not f.is_file():
            raise BadInputError(f"store '{self.root}' lacks shard {f.name}")
        handle = safe_open(str(f), framework="np")
        self._open[k] = handle
        if len(self._open) > self._max_open:
            self._open.popitem(last=False)
        return handle

    def rows(self, rec: Record, key: str) -> np.ndarray:
        """The rows of ``rec`` for a module path (float32) or a token key (token_ids, ...)."""
        if key not in META_KEYS:
            self.check_path(key)
        arr = self._shard(rec.shard).get_slice(key)[rec.start : rec.start + rec.n]
        return np.asarray(arr, dtype=np.float32) if key not in META_KEYS else np.asarray(arr)

    def pooled(self, path: str, position: str, records: Sequence[Record] | None = None
               ) -> np.ndarray:
        """Float[Array, "records d"]: each record's activations at ``position`` (see align)."""
        recs = self.records if records is None else records
        out = np.zeros((len(recs), self.dim(path)), dtype=np.float32)
        for i, rec in enumerate(recs):
            idx = position_index(self.rows(rec, "segment"), position)
            out[i] = self.rows(rec, path)[idx].mean(axis=0)
        return out

    def token_batches(self, path: str, batch_size: int, segments: Sequence[str] | None = None,
                      records: Sequence[Record] | None = None, seed: int | None = 0,
                      buffer_tokens: int = 65536, skip_first: int = 0) -> Iterator[np.ndarray]:
        """Batches of token activations (float32), streaming through the store once.

        ``segments`` keeps only tokens of those segments (e.g. ``["cot"]``). With ``seed``
        (not None) records are visited in a shuffled order and tokens shuffled within a buffer
        of ``buffer_tokens``; the last, smaller batch is dropped. ``skip_first`` leaves out the
        first tokens of every transcript (the attention-sink token has an outsized norm).
        """
        keep = None
        if segments:
            unknown = [s for s in segments if s not in SEGMENTS]
            if unknown:
                raise BadInputError(f"unknown segment(s) {unknown}; use {', '.join(SEGMENTS)}")
            keep = np.array([SEGMENTS.index(s) for s in segments])
        recs = list(self.records if records is None else records)
        rng = np.random.default_rng(seed) if seed is not None else None
        if rng is not None:
            recs = [recs[i] for i in rng.permutation(len(recs))]
        else:  # shard order reads each shard sequentially
            recs.sort(key=lambda r: (r.shard, r.start))
        pending: list[np.ndarray] = []
        size = 0
        for rec in recs:
            rows = self.rows(rec, path)
            mask = np.arange(len(rows)) >= skip_first
            if keep is not None:
                mask &= np.isin(self.rows(rec, "segment"), keep)
            rows = rows[mask]
            pending.append(rows)
            size += len(rows)
            if size >= max(buffer_tokens, batch_size):
                block = np.concatenate(pending)
                if rng is not None:
                    block = block[rng.permutation(len(block))]
                n_full = len(block) // batch_size * batch_size
                yield from (block[i : i + batch_size] for i in range(0, n_full, batch_size))
                pending, size = [block[n_full:]], len(block) - n_full
        block = np.concatenate(pending) if pending else np.zeros((0, self.dim(path)))
        if rng is not None:
            block = block[rng.permutation(len(block))]
        n_full = len(block) // batch_size * batch_size
        yield from (block[i : i + batch_size] for i in range(0, n_full, batch_size))
        if rng is None and n_full < len(block):
            yield block[n_full:]
