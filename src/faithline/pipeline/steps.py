"""Per-step paraphrasing (Kokotajlo's placement): the model writes one step, the paraphraser
rewrites it, and the model continues from the *paraphrased* prefix. The raw step never enters
the model's context again, so no surface code in a step's wording can carry state to the next
step; only what the paraphraser keeps can.

One loop, :func:`run_steps`, serves both users:

- the trainer (``faithline train rl --paraphrase-steps SPEC``, train/rollout.py): contexts are
  token ids and a paraphrase is spliced in as ids (``context + encode(paraphrase)``), so each
  step is sampled from exactly the ids TRL later scores it in (never re-tokenised text);
- the inference pipelines (``--paraphrase-steps SPEC`` on ``generate``, ``eval`` and
  ``monitor``; pipeline/pipelines.py): contexts are prompts, the paraphrased steps prefilled,
  so any model with prefill and stop strings runs this way.

Where a step ends is the format's :class:`StepRule`: one word in the model organism's language
(its tokens are words), a line otherwise. The CoT ends where the format's CoT ends (its
``cot_stops``, e.g. ``Answer:`` or the organism's ``ans``), at EOS, at the token budget (checked
between steps: a step is at most ``StepRule.max_tokens`` tokens) or after ``max_steps`` steps.

Paraphrasers fail closed here too: a step whose paraphrase failed ends its chain with the error
recorded (``StepChain.error``); the raw step is never passed on. A paraphraser may offer
``paraphrase_steps(steps, questions, previous)`` (it then also sees the paraphrased steps already
in the context); any other is called as ``paraphrase(steps, questions)`` on the single steps.
An empty step (e.g. a blank line) is not paraphrased and adds only its delimiter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, TypeVar

from faithline.errors import ParaphraseError
from faithline.pipeline.format import CotFormat
from faithline.pipeline.paraphrase_llm import Paraphraser
from faithline.types import Generation, GenParams

C = TypeVar("C")  # a context: token ids (the trainer) or a prefilled Prompt (the pipelines)


@dataclass(frozen=True)
class StepRule:
    """Where one step ends: at one of ``stops`` or after ``max_tokens`` tokens; ``joiner``
    separates steps in the joined CoT."""

    stops: tuple[str, ...]
    max_tokens: int
    joiner: str


def step_rule(fmt: CotFormat, max_tokens: int = 64) -> StepRule:
    """The default step of a CoT format: one word (one token) in the organism's language, one
    line of at most ``max_tokens`` tokens otherwise."""
    if fmt.name == "organism":
        return StepRule((), 1, " ")
    return StepRule(("\n",), max_tokens, "\n")


@dataclass
class Step:
    """One step: the model's text, the paraphrase that replaced it (``""``: nothing kept), and
    where the trainer needs them, the context it was sampled from and the sampled ids (through
    the token that ended the step) with their log-probabilities."""

    text: str
    shown: str = ""
    fidelity: float | None = None
    context: Any = None
    ids: tuple[int, ...] = ()
    logprobs: tuple[float, ...] | None = None


@dataclass
class StepChain:
    """One rollout's steps; ``finish`` says why it ended: ``stop`` (the CoT ended), ``length``
    (token budget), ``steps`` (``max_steps``) or ``paraphrase-failed`` (see ``error``)."""

    rule: StepRule
    steps: list[Step] = field(default_factory=list)
    finish: str = "stop"
    error: ParaphraseError | None = None

    @property
    def cot(self) -> str:
        """What the model wrote, its steps joined."""
        return self.rule.joiner.join(s.text for s in self.steps if s.text.strip())

    @property
    def shown(self) -> str:
        """What the model (and the Face) read: the paraphrases joined."""
        return self.rule.joiner.join(s.shown for s in self.steps if s.shown.strip())

    @property
    def failed(self) -> bool:
        return self.error is not None

    def to_meta(self) -> dict[str, Any]:
        """The steps as a transcript's ``meta["steps"]``."""
        out: dict[str, Any] = {"raw": [s.text for s in self.steps],
                               "shown": [s.shown for s in self.steps],
                               "fidelity": [s.fidelity for s in self.steps],
                               "finish": self.finish}
        if self.error is not None:
            out["error"] = {"kind": self.error.kind, "detail": str(self.error),
                            "step": len(self.steps) - 1}
        return out


def paraphrase_steps(paraphraser: Paraphraser, steps: Sequence[str], questions: Sequence[str],
                     previous: Sequence[Sequence[str]]) -> list[str | ParaphraseError]:
    """One paraphrase (or its failure) per step, with the context where the paraphraser
    reads it."""
    per_step = getattr(paraphraser, "paraphrase_steps", None)
    if callable(per_step):
        out = list(per_step(steps, questions, previous))
    else:
        out = list(paraphraser.paraphrase(steps, questions))
    if len(out) != len(steps):
        raise ParaphraseError("empty", f"paraphraser {paraphraser.name} returned {len(out)} "
                              f"results for {len(steps)} steps")
    return out


def _ended(gen: Generation, cot_stops: Sequence[str]) -> tuple[str, bool]:
    """(the step's text, whether the CoT ended with it)."""
    text = gen.text
    cuts = [c for c in (text.find(s) for s in cot_stops) if c >= 0]
    if cuts:  # a back-end that does not report its stop: the CoT's end inside the text
        return text[:min(cuts)], True
    return text, gen.stop_reason == "eos" or gen.stop_reason in cot_stops


def run_steps(contexts: Sequence[C], generate: Callable[[list[C], GenParams], list[Generation]],
              extend: Callable[[C, str], C], paraphraser: Paraphraser,
              questions: Sequence[str], rule: StepRule, params: GenParams,
              cot_stops: Sequence[str], max_steps: int) -> list[StepChain]:
    """Sample every context's CoT step by step, each step paraphrased before the next is
    sampled (see the module docstring). ``generate(contexts, params)`` samples one step per
    context (one batch); ``extend(context, text)`` appends text to a context.
    ``params.max_new_tokens`` is the CoT's token budget, ``params.seed`` (if any) is offset per
    step."""
    chains = [StepChain(rule) for _ in contexts]
    ctx = list(contexts)
    used = [0] * len(ctx)
    active = list(range(len(ctx)))
    step_params = replace(params, n=1, max_new_tokens=min(rule.max_tokens, params.max_new_tokens),
                          stop=tuple(dict.fromkeys((*rule.stops, *cot_stops))))
    for k in range(max_steps):
        if not active:
            break
        seed = None if params.seed is None else params.seed + 1_000_003 * k
        gens = generate([ctx[i] for i in active], replace(step_params, seed=seed))
        ended: dict[int, bool] = {}
        todo: list[int] = []
        for i, g in zip(active, gens, strict=True):
            text, ended[i] = _ended(g, cot_stops)
            used[i] += len(g.token_ids) if g.token_ids is not None else \
                len(g.tokens) if g.tokens is not None else max(1, len(g.text.split()))
            chains[i].steps.append(Step(text.strip(), context=ctx[i],
                                        ids=tuple(g.token_ids or ()),
                                        logprobs=g.logprobs))
            if text.strip():
                todo.append(i)
        results = paraphrase_steps(
            paraphraser, [chains[i].steps[-1].text for i in todo],
            [questions[i] for i in todo],
            [[s.shown for s in chains[i].steps[:-1]] for i in todo]) if todo else []
        failed: set[int] = set()
        for i, p in zip(todo, results, strict=True):
            step = chains[i].steps[-1]
            if isinstance(p, ParaphraseError):
                chains[i].error, chains[i].finish = p, "paraphrase-failed"
                failed.add(i)
                continue
            step.shown = str(p).strip()
            step.fidelity = getattr(p, "fidelity", None)
        still = []
        for i, g in zip(active, gens, strict=True):
            if i in failed:
                continue
            if ended[i]:
                chains[i].finish = "stop"
                continue
            if used[i] >= params.max_new_tokens:
                chains[i].finish = "length"
                continue
            ctx[i] = extend(ctx[i], _piece(rule, chains[i], g))
            still.append(i)
        active = still
    for i in active:
        chains[i].finish = "steps"
    return chains


def _piece(rule: StepRule, chain: StepChain, gen: Generation) -> str:
    """The text a step adds to the context: its paraphrase, then the delimiter that ended it
    (a line's newline); one-token steps are separated by the joiner."""
    shown = chain.steps[-1].shown
    if not rule.stops:  # one word a step
        return f"{rule.joiner}{shown}" if shown else ""
    delimiter = gen.stop_reason if gen.stop_reason in rule.stops else rule.joiner
    return shown + delimiter
