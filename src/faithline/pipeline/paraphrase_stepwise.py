"""Step-by-step paraphrasing: the interface of paraphrasers that rewrite one CoT step at a time.

A ``StepParaphraser`` rewrites the step a policy just wrote, given the question and the steps
already paraphrased in that rollout (what the policy sees next)::

    paraphrase_steps(steps, questions, previous) -> list[Paraphrase | ParaphraseError]

(``steps[i]`` one step, ``previous[i]`` the paraphrased steps before it, in order). An empty
``Paraphrase("")`` drops the step; its fidelity is below 1 if the step meant something. A
whole CoT is paraphrased by :func:`paraphrase_by_steps`: split into steps (``unit`` ``word``
for the model organism's one-word steps, ``line`` otherwise), each step rewritten in order
with the paraphrased ones as context. One failed step fails the whole CoT closed; its fidelity
is the lowest of its steps' (a chain is as faithful as its weakest step).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from faithline.errors import ParaphraseError
from faithline.pipeline.paraphrase_llm import Paraphrase

UNITS = ("word", "line")


class StepParaphraser(Protocol):
    """A paraphraser that rewrites one step at a time (and whole CoTs step by step)."""

    @property
    def name(self) -> str: ...

    @property
    def unit(self) -> str: ...

    def paraphrase_steps(self, steps: Sequence[str], questions: Sequence[str],
                         previous: Sequence[Sequence[str]]) -> list[Paraphrase | ParaphraseError]:
        ...


def split_steps(cot: str, unit: str) -> list[str]:
    """A CoT's steps: its words (``unit="word"``) or its non-blank lines (``"line"``)."""
    if unit == "word":
        return cot.split()
    return [line.strip() for line in cot.splitlines() if line.strip()]


def join_steps(steps: Sequence[str], unit: str) -> str:
    """The CoT made of ``steps`` (dropped, empty steps leave no trace)."""
    return (" " if unit == "word" else "\n").join(s for s in steps if s)


def paraphrase_by_steps(para: StepParaphraser, cots: Sequence[str],
                        questions: Sequence[str] | None) -> list[Paraphrase | ParaphraseError]:
    """Each CoT paraphrased step by step (batched over CoTs at each step index)."""
    qs = list(questions) if questions is not None else [""] * len(cots)
    steps = [split_steps(c, para.unit) for c in cots]
    done: list[list[str]] = [[] for _ in cots]
    fidelity: list[float] = [1.0 for _ in cots]
    failed: dict[int, ParaphraseError] = {}
    for k in range(max(map(len, steps), default=0)):
        live = [i for i, s in enumerate(steps) if k < len(s) and i not in failed]
        if not live:
            break
        out = para.paraphrase_steps([steps[i][k] for i in live], [qs[i] for i in live],
                                    [done[i] for i in live])
        for i, o in zip(live, out, strict=True):
            if isinstance(o, ParaphraseError):
                failed[i] = ParaphraseError(o.kind, f"step {k + 1} ({steps[i][k]!r}): "
                                                    f"{o.detail}")
                continue
            done[i].append(str(o))
            fidelity[i] = min(fidelity[i], 1.0 if o.fidelity is None else o.fidelity)
    return [failed[i] if i in failed else
            Paraphrase(join_steps(done[i], para.unit), fidelity=fidelity[i])
            for i in range(len(cots))]
