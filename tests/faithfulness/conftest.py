"""Fixtures for the faithfulness tests: contexts on the real SmolLM2, and a real server.

``server_url`` is the fixture of ``tests/models/conftest.py`` (a real ``faithline serve``
subprocess on SmolLM2), loaded from that file so both test folders use one definition.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

_MODELS_CONFTEST = Path(__file__).resolve().parent.parent / "models" / "conftest.py"
_spec = importlib.util.spec_from_file_location("_faithline_models_conftest", _MODELS_CONFTEST)
assert _spec is not None and _spec.loader is not None
_models = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(_models)
server_url = _models.server_url


@pytest.fixture(scope="session")
def make_ctx(smollm2: Any) -> Callable[..., Any]:
    """``make_ctx(task, **context_options)``: a ``Context`` on the real SmolLM2."""
    from faithline.faithfulness.context import Context
    from faithline.pipeline.pipelines import Settings

    def make(task: Any, model: Any = None, settings: Settings | None = None,
             **options: Any) -> Any:
        settings = settings or Settings(max_cot_tokens=48, max_answer_tokens=8)
        return Context(model or smollm2, task, settings=settings, **options)

    return make
