from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="session")
def tiny_organism() -> Path:
    """The demo's --quick organism (2 layers, d=64, 4k examples: seconds on a CPU)."""
    from faithline.demo import QUICK_ORGANISM
    from faithline.train.organism import train_organism

    return train_organism(QUICK_ORGANISM, progress=False)
