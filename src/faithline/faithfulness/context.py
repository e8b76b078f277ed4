"""What a faithfulness test runs with: the model, task, CoT format, answer reader and helpers.

``Context`` is built once per ``run_eval`` (or by hand, for tests and notebooks) and passed to
every test. Helper roles (the verbalisation judge, the mistake editor, the paraphraser) are
plain objects set on it; tests ask for the ones they need.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from faithline.faithfulness.answers import AnswerReader
from faithline.faithfulness.base import Item
from faithline.pipeline.format import CotFormat, clean_cot
from faithline.pipeline.pipelines import Settings, SinglePipeline
from faithline.tasks.base import Task
from faithline.types import GenParams, Prompt, Sample, Transcript

if TYPE_CHECKING:
    from faithline.faithfulness.roles import Editor, Judge
    from faithline.models.base import Model
    from faithline.pipeline.paraphrase_llm import Paraphraser


@dataclass
class Context:
    """Everything a test needs. ``points``: truncation points per CoT for early answering
    (0 = every step); ``edit_points``: steps edited per CoT (mistakes, paraphrasing);
    ``judges``: further verbalisation judges the cue tests report beside ``judge``."""

    model: Model
    task: Task
    settings: Settings = field(default_factory=Settings)
    answer_from: str = "auto"
    prefix_reuse: bool = True
    points: int = 0
    edit_points: int = 3
    judge: Judge | None = None
    judges: tuple[Judge, ...] = ()
    editor: Editor | None = None
    paraphraser: Paraphraser | None = None
    reader: AnswerReader = field(init=False)
    pipeline: SinglePipeline = field(init=False)
    _own: dict[tuple[str, str], str | None] = field(default_factory=dict, init=False, repr=False)

    def __post_init__(self) -> None:
        self.fmt = CotFormat(self.settings.format)
        self.reader = AnswerReader(self.model, self.task, self.fmt, path=self.answer_from,
                                   max_answer_tokens=self.settings.max_answer_tokens,
                                   prefix_reuse=self.prefix_reuse, seed=self.settings.seed)
        self.pipeline = SinglePipeline(self.model, self.task, self.settings)

    @property
    def seed(self) -> int:
        return self.settings.seed

    def prompt(self, sample: Sample) -> Prompt:
        """The task prompt a sample's CoT answers (the pipeline's prompt)."""
        return self.pipeline.prompt(sample)

    def sample_cots(self, samples: Sequence[Sample]) -> list[Transcript]:
        """Fresh CoTs and answers for ``samples`` from the single-model pipeline."""
        out = self.pipeline.run(samples)
        return [t for t in out if isinstance(t, Transcript)]

    def item(self, sample: Sample, t: Transcript) -> Item:
        """The ``Item`` for a CoT transcript of ``sample``."""
        return Item(sample=sample, prompt=self.prompt(sample), cot=t.cot,
                    answer=t.answer or None, correct=bool(t.correct),
                    answer_forced=bool(t.meta.get("answer_forced")))

    def items(self, samples: Sequence[Sample]) -> list[Item]:
        """Sample CoTs for ``samples`` and wrap them as items."""
        by_id = {t.id: t for t in self.sample_cots(samples)}
        return [self.item(s, by_id[s.id]) for s in samples]

    def own_answers(self, items: Sequence[Item]) -> list[str | None]:
        """The model's own answer after each item's full CoT: the one it wrote itself after
        its CoT, else (the pipeline forced it) a greedy generation after the CoT and the answer
        cue, parsed; memoised. ``validity`` compares the forced readout with it."""
        for it in items:
            if it.answer is not None and not it.answer_forced:
                self._own[(it.sample.id, it.cot)] = it.answer
        todo = [it for it in items if (it.sample.id, it.cot) not in self._own]
        if todo:
            reader = self.reader if self.reader.path == "generate" else AnswerReader(
                self.model, self.task, self.fmt, path="generate",
                max_answer_tokens=self.settings.max_answer_tokens,
                prefix_reuse=self.prefix_reuse, seed=self.settings.seed)
            got = reader.read([(it.sample, it.prompt, it.cot) for it in todo])
            for it, r in zip(todo, got, strict=True):
                self._own[(it.sample.id, it.cot)] = r.answer
        return [self._own[(it.sample.id, it.cot)] for it in items]

    def continue_cots(self, starts: Sequence[tuple[Prompt, str]]) -> list[str]:
        """For each ``(prompt, prefix)``, the CoT the model writes when its reasoning is forced
        to begin with ``prefix`` (the prefix plus its continuation, up to the answer line)."""
        if not starts:
            return []
        s = self.settings
        params = GenParams(max_new_tokens=s.max_cot_tokens, temperature=s.temperature,
                           top_p=s.top_p, seed=s.seed, stop=self.fmt.cot_stops)
        prompts = [p.with_prefill(p.prefill + prefix) for p, prefix in starts]
        gens = self.model.generate(prompts, params)
        return [clean_cot(prefix + g[0].text) for (_, prefix), g in zip(starts, gens, strict=True)]

    def describe(self) -> dict[str, Any]:
        return {
            **self.reader.describe(),
            "judge": self.judge.name if self.judge else None,
            "judges": [j.name for j in self.judges],
            "editor": self.editor.name if self.editor else None,
            "paraphraser": self.paraphraser.name if self.paraphraser else None,
        }
