"""faithline: keep reasoning models legible.

Measure how faithful a model's chain of thought (CoT) is, train with techniques that keep it
faithful (Shoggoth + Paraphraser + Face), monitor CoTs, and detect drift into unreadable lingo.
See ``DESIGN.md`` for the parts and the data contracts. The package imports without torch.
"""

from faithline.errors import (
    BackendError,
    BadInputError,
    CapabilityError,
    FaithlineError,
    MissingDependencyError,
    ParaphraseError,
)
from faithline.types import Message, Prompt, Sample, Transcript

__version__ = "0.1.0"

__all__ = [
    "BackendError",
    "BadInputError",
    "CapabilityError",
    "FaithlineError",
    "Message",
    "MissingDependencyError",
    "ParaphraseError",
    "Prompt",
    "Sample",
    "Transcript",
    "__version__",
]
