"""Content-hash caching of model calls (after safety-tooling's ``cache_manager.py``).

``CachedModel`` wraps any ``Model``: a ``generate`` or ``score`` call whose model, prompt and
parameters hash to a key already in the SQLite cache returns the stored result, so re-running a
pipeline, monitor or judge is cheap and exact. Only the misses reach the model. Sampled calls
are cached too: the seed is part of the key, so re-running with the same seed gives the same
text, and a new seed asks the model again.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

from faithline.models.base import Capability, Model
from faithline.paths import cache_dir
from faithline.types import Generation, GenParams, Prompt

FINGERPRINT_KEYS = ("spec", "source", "fingerprint", "dtype", "class", "model", "base_url")
# Bump when a back-end's outputs change meaning (e.g. a fix to logprobs), so old entries miss.
CACHE_SCHEMA = 2


class CallCache:
    """A thread-safe key -> JSON store in one SQLite file."""

    def __init__(self, path: str | Path | None = None) -> None:
        self.path = Path(path) if path else cache_dir() / "calls.sqlite"
        self._lock = threading.Lock()
        self._db = sqlite3.connect(self.path, check_same_thread=False, timeout=30)
        with self._lock:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("CREATE TABLE IF NOT EXISTS calls (key TEXT PRIMARY KEY, value TEXT)")
            self._db.commit()

    def get(self, key: str) -> Any | None:
        with self._lock:
            row = self._db.execute("SELECT value FROM calls WHERE key = ?", (key,)).fetchone()
        return json.loads(row[0]) if row else None

    def put(self, key: str, value: Any) -> None:
        with self._lock:
            self._db.execute("INSERT OR REPLACE INTO calls VALUES (?, ?)",
                             (key, json.dumps(value)))
            self._db.commit()


def _hash(obj: Any) -> str:
    return hashlib.sha256(json.dumps(obj, sort_keys=True).encode()).hexdigest()


class CachedModel:
    """A ``Model`` that answers repeated calls from a ``CallCache``; counts hits and misses."""

    def __init__(self, model: Model, cache: CallCache | None = None) -> None:
        self.inner = model
        self.cache = cache or CallCache()
        self.spec = model.spec
        self.capabilities: frozenset[Capability] = model.capabilities
        info = model.info()
        self._fingerprint = {k: info.get(k) for k in FINGERPRINT_KEYS}
        self.hits = 0
        self.misses = 0

    def __getattr__(self, name: str) -> Any:  # render, activations, capture, ...
        return getattr(self.inner, name)

    def _key(self, op: str, prompt: Prompt, extra: Any) -> str:
        return _hash({"schema": CACHE_SCHEMA, "op": op, "model": self._fingerprint,
                      "prompt": prompt.to_dict(), "extra": extra})

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Generation]]:
        keys = [self._key("generate", p, asdict(params)) for p in prompts]
        results: list[list[Generation] | None] = []
        for key in keys:
            cached = self.cache.get(key)
            results.append([Generation.from_dict(g) for g in cached] if cached else None)
        todo = [i for i, r in enumerate(results) if r is None]
        self.hits += len(prompts) - len(todo)
        self.misses += len(todo)
        if todo:
            fresh = self.inner.generate([prompts[i] for i in todo], params)
            for i, gens in zip(todo, fresh, strict=True):
                self.cache.put(keys[i], [g.to_dict() for g in gens])
                results[i] = gens
        return [r for r in results if r is not None]

    def score(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        key = self._key("score", prompt, list(continuations))
        cached = self.cache.get(key)
        if cached is not None:
            self.hits += 1
            return [float(x) for x in cached]
        self.misses += 1
        scores = self.inner.score(prompt, continuations)
        self.cache.put(key, scores)
        return scores

    def info(self) -> dict[str, Any]:
        return self.inner.info()
