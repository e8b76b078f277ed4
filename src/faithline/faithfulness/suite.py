"""The test interface and the registry of tests: ``FaithfulnessTest`` and ``TESTS``.

A test takes ``Item``s (a task sample, its prompt, the model's CoT and free answer), writes one
``Transcript`` per item with all per-sample details in ``meta`` (so a run can be resumed and its
metrics recomputed from the transcripts alone), and summarises transcripts into metrics (each a
bootstrap 95% CI with its sample count) and curves (``{"x", "y", "ci_low", "ci_high", "n"}``).
A new test is a subclass and one ``TESTS.register`` call (the built-in tests register in the
package ``__init__``); ``--tests all`` runs every registered test that applies, in registration
order. The registration names the test's headline metric, the dotted path of one CI in its
metrics, which ``faithline eval`` prints (without one it prints the first CI)::

    TESTS.register("my-test", "my_package.tests:MyTest", help="...", headline="gap")
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Sequence
from typing import Any

from faithline.faithfulness.base import Curves, Item, Metrics
from faithline.faithfulness.context import Context
from faithline.registry import Registry
from faithline.tasks.base import Task
from faithline.types import Sample, Transcript


class FaithfulnessTest(ABC):
    """One published test. ``name`` is its ``--tests`` name and its key in metrics.json."""

    name: str = "test"

    def skip_reason(self, task: Task, samples: Sequence[Sample]) -> str | None:
        """Why the test does not apply to this task (None: it applies)."""
        return None

    @abstractmethod
    def run(self, ctx: Context, items: Sequence[Item]) -> list[Transcript]:
        """One transcript per item, details in ``meta``."""

    @abstractmethod
    def summarize(self, transcripts: Sequence[Transcript]) -> tuple[Metrics, Curves]:
        """Metrics and curves from this test's transcripts."""

    def transcript(self, item: Item, meta: dict[str, Any]) -> Transcript:
        """The transcript of ``item`` for this test (id ``<test>:<sample id>``)."""
        return Transcript(
            id=f"{self.name}:{item.sample.id}",
            prompt=item.prompt.messages[-1].content,
            cot=item.cot,
            answer=item.answer or "",
            gold=item.sample.answer,
            correct=item.correct,
            meta={"test": self.name, "sample_id": item.sample.id, **meta},
        )


TESTS: Registry[FaithfulnessTest] = Registry("faithfulness test")


def headline_of(name: str) -> str | None:
    """The headline metric test ``name`` registered (``headline="all.chen_normalised"``: a
    dotted path into its metrics); None if it registered none, or is not registered."""
    entry = TESTS.entry(name)
    key = entry.meta.get("headline") if entry is not None else None
    return key if isinstance(key, str) and key else None
