"""The error hierarchy: one root, specific subclasses.

The CLI turns every ``FaithlineError`` into one line on stderr and exit code 2 (bad input,
missing dependency, unreachable back-end); anything else is a bug and exits 1 with a traceback.
"""

from __future__ import annotations


class FaithlineError(Exception):
    """Root of every error faithline raises on purpose."""


class BadInputError(FaithlineError, ValueError):
    """The caller gave something faithline cannot use (unknown spec, malformed file, ...)."""


class MissingDependencyError(FaithlineError, ImportError):
    """An optional dependency is missing; the message names the pip extra to install."""

    def __init__(self, package: str, extra: str, purpose: str) -> None:
        super().__init__(
            f"{purpose} needs the '{package}' package: pip install 'faithline[{extra}]'"
        )
        self.package = package
        self.extra = extra


class CapabilityError(FaithlineError):
    """A model back-end was asked for something it does not support."""


class BackendError(FaithlineError):
    """A model back-end failed: names the model and what it returned."""


class BackendUnavailableError(BackendError):
    """A model server could not be reached at all."""


class ParaphraseError(FaithlineError):
    """A paraphrase came back empty, truncated, refused or unfaithful.

    Paraphrasers fail closed: this error is raised instead of passing the raw CoT on.
    ``kind`` is one of ``empty``, ``truncated``, ``refused``, ``degenerate``, ``low-fidelity``,
    ``answer-changed``.
    """

    def __init__(self, kind: str, detail: str) -> None:
        super().__init__(f"paraphrase {kind}: {detail}")
        self.kind = kind
        self.detail = detail
