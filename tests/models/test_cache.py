"""Content-hash caching of model calls, on the real SmolLM2."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from faithline.models.cache import CachedModel, CallCache
from faithline.types import GenParams, Prompt

P = [Prompt.user("Say hi."), Prompt.user("Say bye.")]


def test_repeat_calls_are_answered_from_the_cache(smollm2: Any, tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "calls.sqlite")
    m = CachedModel(smollm2, cache)
    params = GenParams(max_new_tokens=6, logprobs=True)
    first = m.generate(P, params)
    assert (m.hits, m.misses) == (0, 2)
    again = CachedModel(smollm2, CallCache(tmp_path / "calls.sqlite"))  # a new process, say
    assert again.generate(P, params) == first
    assert (again.hits, again.misses) == (2, 0)


def test_key_covers_params_prompt_and_only_misses_reach_the_model(smollm2: Any,
                                                                   tmp_path: Path) -> None:
    m = CachedModel(smollm2, CallCache(tmp_path / "c.sqlite"))
    m.generate(P[:1], GenParams(max_new_tokens=4))
    m.generate(P, GenParams(max_new_tokens=4))  # one hit, one miss
    assert (m.hits, m.misses) == (1, 2)
    m.generate(P[:1], GenParams(max_new_tokens=4, temperature=1.0, seed=1))  # new seed: miss
    assert m.misses == 3


def test_scores_cached(smollm2: Any, tmp_path: Path) -> None:
    m = CachedModel(smollm2, CallCache(tmp_path / "c.sqlite"))
    a = m.score(P[0], [" Hi", " Bye"])
    assert m.score(P[0], [" Hi", " Bye"]) == a
    assert (m.hits, m.misses) == (1, 1)
    assert m.render(P[0]) == smollm2.render(P[0])  # other methods pass through


def test_fingerprint_changes_when_model_files_change(tmp_path: Path) -> None:
    from faithline.models.hf import fingerprint

    (tmp_path / "config.json").write_text("{}")
    (tmp_path / "model.safetensors").write_bytes(b"a")
    before = fingerprint(tmp_path)
    assert fingerprint(tmp_path) == before
    (tmp_path / "model.safetensors").write_bytes(b"bb")  # retrained under the same path
    assert fingerprint(tmp_path) != before
