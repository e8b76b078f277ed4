"""Reading the answer a model gives after a (possibly truncated or edited) CoT.

The CoT text is placed after the prompt's prefill, the format's answer cue follows (``\\nAnswer:``),
and the answer is read one of two ways:

- ``logprobs``: the option the model scores highest among the task's closed answer set
  (``task.answer_options``), as Lanham et al. 2023 read answers from option logprobs. Needs the
  ``score`` capability; on back-ends that score single tokens only (``openai:``), an item where an
  option gets ``-inf`` (a multi-token option, or one outside the top 20) falls back to
  generation, so a lopsided set of scores never picks the answer.
- ``generate``: a short greedy continuation after the cue, parsed with ``task.extract`` (the
  no-logprob path, for tasks without closed options or back-ends without scoring).

``read_prefixes`` reads the answers after many prefixes of one text. On the hf back-end it
encodes the prompt and the whole text once and branches every prefix off that KV cache
(``faithline.models.prefix``); elsewhere it sends one request per prefix, concurrently, and a
server's own prefix cache (vLLM's automatic prefix caching) shares the work.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

from faithline.errors import BadInputError
from faithline.models.base import Capability, Model, local_or_none, unwrap
from faithline.pipeline.format import CotFormat
from faithline.tasks.base import Task
from faithline.types import GenParams, Prompt, Sample

ANSWER_PATHS = ("auto", "logprobs", "generate")


@dataclass(frozen=True)
class Reading:
    """One answer read: the normalised answer (None if none could be parsed), how it was read,
    and the option scores (logprobs path) or the generated text (generate path)."""

    answer: str | None
    path: str
    scores: dict[str, float] = field(default_factory=dict)
    text: str = ""

    def to_dict(self) -> dict[str, Any]:
        d: dict[str, Any] = {"answer": self.answer, "path": self.path}
        if self.scores:
            d["scores"] = {k: round(v, 4) if math.isfinite(v) else None
                           for k, v in self.scores.items()}
        if self.text:
            d["text"] = self.text
        return d


class AnswerReader:
    """Reads answers after CoT text for one model, task and CoT format."""

    def __init__(self, model: Model, task: Task, fmt: CotFormat, *, path: str = "auto",
                 max_answer_tokens: int = 16, prefix_reuse: bool = True, seed: int = 0) -> None:
        if path not in ANSWER_PATHS:
            raise BadInputError(f"answer path must be one of {', '.join(ANSWER_PATHS)}; "
                                f"got '{path}'")
        from faithline.models.prefix import supports_prefix_reuse

        self.model, self.task, self.fmt, self.path = model, task, fmt, path
        self.params = GenParams(max_new_tokens=max_answer_tokens, stop=("\n",), seed=seed)
        local = local_or_none(model)
        self.hf = local if local is not None and prefix_reuse and supports_prefix_reuse(local) \
            else None
        self.parallel = local is None
        if path == "logprobs" and Capability.SCORE not in model.capabilities:
            raise BadInputError(f"answer path 'logprobs' needs a model that scores; "
                                f"'{model.spec}' does not")

    # ----- which path ----------------------------------------------------------------------
    def options(self, sample: Sample) -> list[str] | None:
        """The options to score for ``sample``, or None when the answer is generated."""
        if self.path == "generate" or Capability.SCORE not in self.model.capabilities:
            return None
        options = self.task.answer_options(sample)
        if not options:
            if self.path == "logprobs":
                raise BadInputError(f"answer path 'logprobs' needs a task with closed answer "
                                    f"options; task '{self.task.name}' has none")
            return None
        return options

    def forced(self, prompt: Prompt, text: str) -> Prompt:
        """``prompt`` with ``text`` and the answer cue appended to its prefill."""
        return prompt.with_prefill(prompt.prefill + text + self.fmt.answer_cue)

    def _from_scores(self, sample: Sample, options: Sequence[str],
                     scores: Sequence[float]) -> Reading:
        best = options[max(range(len(options)), key=lambda i: scores[i])]
        answer = self.task.extract(f"Answer: {best}", sample) or best
        return Reading(answer, "logprobs", dict(zip(options, scores, strict=True)))

    def _from_text(self, sample: Sample, text: str) -> Reading:
        return Reading(self.task.extract("Answer:" + text, sample), "generate", text=text)

    # ----- reading -------------------------------------------------------------------------
    def read(self, queries: Sequence[tuple[Sample, Prompt, str]]) -> list[Reading]:
        """The answer after each ``(sample, prompt, text)``. On the hf back-end queries with the
        same prompt share its KV cache (and the options of a query share its text)."""
        if self.hf is not None:
            return self._read_shared(queries)
        out: list[Reading | None] = [None] * len(queries)
        scored = [i for i, (s, _, _) in enumerate(queries) if self.options(s)]

        def score(i: int) -> list[float]:
            s, p, text = queries[i]
            return self.model.score(self.forced(p, text), [" " + o for o in self.options(s) or []])

        results = self._map(score, scored)
        for i, scores in zip(scored, results, strict=True):
            if all(math.isfinite(x) for x in scores):
                out[i] = self._from_scores(queries[i][0], self.options(queries[i][0]) or [],
                                           scores)
        todo = [i for i, r in enumerate(out) if r is None]
        gens = self.model.generate([self.forced(queries[i][1], queries[i][2]) for i in todo],
                                   self.params)
        for i, g in zip(todo, gens, strict=True):
            out[i] = self._from_text(queries[i][0], g[0].text)
        return [r for r in out if r is not None]

    def _read_shared(self, queries: Sequence[tuple[Sample, Prompt, str]]) -> list[Reading]:
        from faithline.models.prefix import encode, greedy_branches, score_branches

        assert self.hf is not None
        out: list[Reading] = [Reading(None, "none")] * len(queries)
        groups: dict[str, list[int]] = {}
        for i, (_, prompt, _) in enumerate(queries):
            groups.setdefault(json.dumps(prompt.to_dict(), sort_keys=True), []).append(i)
        for idx in groups.values():
            state = encode(self.hf, self._ids(queries[idx[0]][1]))
            contexts = {i: self._ids(self.forced(queries[i][1], queries[i][2])) for i in idx}
            scored = [i for i in idx if self.options(queries[i][0])]
            branches = [(contexts[i], [self._ids_raw(" " + o)
                                       for o in self.options(queries[i][0]) or []])
                        for i in scored]
            for i, scores in zip(scored, score_branches(self.hf, state, branches), strict=True):
                out[i] = self._from_scores(queries[i][0], self.options(queries[i][0]) or [],
                                           scores)
            done = set(scored)
            rest = [i for i in idx if i not in done]
            texts = greedy_branches(self.hf, state, [contexts[i] for i in rest],
                                    self.params.max_new_tokens, self.params.stop) if rest else []
            for i, text in zip(rest, texts, strict=True):
                out[i] = self._from_text(queries[i][0], text)
        return out

    def _map(self, fn: Any, items: Sequence[int]) -> list[Any]:
        if not self.parallel or len(items) < 2:
            return [fn(i) for i in items]
        workers = min(getattr(unwrap(self.model), "concurrency", 8), len(items))
        with ThreadPoolExecutor(max_workers=workers) as pool:
            return list(pool.map(fn, items))

    def read_prefixes(self, sample: Sample, prompt: Prompt, text: str,
                      cuts: Sequence[int]) -> list[Reading]:
        """The answer after ``text[:cut]`` for each cut (prefix reuse on the hf back-end)."""
        if self.hf is None:
            return self.read([(sample, prompt, text[:c]) for c in cuts])
        from faithline.models.prefix import encode, greedy_branches, score_branches

        hf = self.hf
        state = encode(hf, self._ids(prompt.with_prefill(prompt.prefill + text)))
        contexts = [self._ids(self.forced(prompt, text[:c])) for c in cuts]
        options = self.options(sample)
        if options:
            conts = [self._ids_raw(" " + o) for o in options]
            scores = score_branches(hf, state, [(c, conts) for c in contexts])
            return [self._from_scores(sample, options, s) for s in scores]
        texts = greedy_branches(hf, state, contexts, self.params.max_new_tokens, self.params.stop)
        return [self._from_text(sample, t) for t in texts]

    def read_all_prefixes(self, jobs: Sequence[tuple[Sample, Prompt, str, Sequence[int]]]
                          ) -> list[list[Reading]]:
        """``read_prefixes`` for many texts: on the hf back-end one KV cache per text; elsewhere
        every prefix of every text in one concurrent batch of requests."""
        if self.hf is not None:
            return [self.read_prefixes(s, p, text, cuts) for s, p, text, cuts in jobs]
        flat = self.read([(s, p, text[:c]) for s, p, text, cuts in jobs for c in cuts])
        out, at = [], 0
        for *_, cuts in jobs:
            out.append(flat[at : at + len(cuts)])
            at += len(cuts)
        return out

    def _ids(self, prompt: Prompt) -> list[int]:
        assert self.hf is not None
        return self._ids_raw(self.hf.render(prompt))

    def _ids_raw(self, text: str) -> list[int]:
        assert self.hf is not None
        return list(self.hf.tokenizer(text, add_special_tokens=False)["input_ids"])

    def describe(self) -> dict[str, Any]:
        return {"answer_from": self.path, "prefix_reuse": self.hf is not None}
