"""Where faithline keeps its caches (model conversions, model-call cache).

``FAITHLINE_CACHE`` overrides the default ``~/.cache/faithline``.
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    root = os.environ.get("FAITHLINE_CACHE") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "faithline"
    )
    path = Path(root)
    path.mkdir(parents=True, exist_ok=True)
    return path
