"""The resampling paraphraser: each step redrawn from a frozen model, conditioned on its meaning.

Spec ``resample:MODEL_SPEC[@n=N]`` (e.g. ``resample:hf:~/.cache/faithline/models/organism-…``,
the frozen warm-up organism). It was not written for any CoT language: what it knows of a
step's meaning, and so of any code, is what the frozen model learned.

For a step ``s`` written after context ``C`` (the rendered question and the steps already
paraphrased), it draws ``n`` candidate steps from the frozen model after ``C`` at temperature 1
(the paraphraser's seed; an answer cue, end-of-text and unknown tokens are never drawn). The
*meaning* of a step is what it does to the frozen model's predictions: its next-token
distribution after ``C + step`` and its answer distribution after ``C + step + answer cue``
(``CotFormat.answer_cue``). The divergence between two steps is the larger of the two
Jensen-Shannon divergences, in bits (0 to 1): a step means the same only if both what the model
would write next and the answer it would give are unchanged. Every candidate within
``max_divergence`` of ``s`` is acceptable and one of them is drawn in proportion to the frozen
model's probability, so the output's distribution depends on ``s`` only through its meaning
(``H`` and a synonym the frozen model reads as ``H`` get paraphrases from the same
distribution), not on which acceptable candidate is closest. If no candidate is acceptable but
leaving the step out changes nothing by the same measure, the step is dropped
(``Paraphrase("")``); otherwise it fails closed (``low-fidelity``). A step holding a token the
model does not know (its tokenizer's unknown token) fails closed too.

Fidelity is ``1 - divergence``: 1.0 only for a candidate whose meaning is identical by this
measure (in practice the same step), never for a dropped step that moved the predictions. The
default ``max_divergence`` (0.1 bit) was chosen on the warm-up coin-flip organism's honest
chains, where the same side and its code word differ by at most 0.01 bit and opposite sides by
at least 0.7 (``bench/paraphrase_steps_fidelity.py``).

Steps are words for a word-level tokenizer (the model organism's: one word a step, answer cue
``ans``) and lines otherwise (answer cue ``\\nAnswer:``); candidate lines are sampled whole,
stopping at a newline. It is only as good as the frozen model's reading of the chain: a model
whose predictions ignore the CoT (an under-trained organism) accepts any candidate.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from faithline.errors import BadInputError, ParaphraseError
from faithline.models.base import LocalModel, Model, local_model
from faithline.pipeline.format import CotFormat
from faithline.pipeline.paraphrase_llm import Paraphrase
from faithline.pipeline.paraphrase_stepwise import paraphrase_by_steps
from faithline.types import GenParams, Prompt

ALL = 0  # n: every word of a word-level vocabulary (lines: DEFAULT_DRAWS draws)
DEFAULT_DRAWS = 8
MIN_PROBABILITY = 0.01  # a word the frozen model writes less often here is never a candidate
MAX_EXHAUSTIVE = 1024  # word vocabularies up to this size are tried whole
DEFAULT_MAX_DIVERGENCE = 0.1  # bits; chosen on data, see the module docstring
ROWS_PER_PASS = 512  # texts scored per forward pass


def is_word_level(tokenizer: Any) -> bool:
    """Whether a tokenizer maps whole words to tokens (the model organism's does)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    return type(getattr(backend, "model", None)).__name__ == "WordLevel"


def js_bits(p: Any, q: Any) -> Any:
    """Jensen-Shannon divergence in bits (0 to 1) between rows of probabilities ``p``, ``q``
    (Float[Tensor, "rows vocab"])."""
    import torch

    m = 0.5 * (p + q)

    def kl(a: Any) -> Any:
        return (a * (torch.log2(a.clamp_min(1e-12)) - torch.log2(m.clamp_min(1e-12)))).sum(-1)

    return (0.5 * kl(p) + 0.5 * kl(q)).clamp(0.0, 1.0)


@dataclass
class ResampleParaphraser:
    """Redraw each step from a frozen model among the steps that mean the same to it."""

    model: Model
    n: int = ALL
    seed: int = 0
    max_divergence: float = DEFAULT_MAX_DIVERGENCE
    min_probability: float = MIN_PROBABILITY
    max_step_tokens: int = 48  # a candidate line's token limit (line steps only)
    calls: int = field(default=0, init=False)
    local: LocalModel = field(init=False, repr=False)
    tok: Any = field(init=False, repr=False)
    unit: str = field(init=False)

    def __post_init__(self) -> None:
        if self.n < 0:
            raise BadInputError(f"resample paraphraser: n must be >= 1 (or 0: all), got "
                                f"{self.n}")
        self.local = local_model(self.model, purpose="the resample paraphraser")
        tok = self.tok = self.local.tokenizer
        self.unit = "word" if is_word_level(tok) else "line"
        self.cue = CotFormat("organism" if self.unit == "word" else "answer-line").answer_cue
        banned = set(tok.all_special_ids)
        if self.unit == "word":
            banned |= {tok.convert_tokens_to_ids(w) for w in self.cue.split()}
        self.banned = sorted(banned)

    @property
    def name(self) -> str:
        return f"resample:{self.model.spec}" + (f"@n={self.n}" if self.n != ALL else "")

    def paraphrase(self, cots: Sequence[str],
                   questions: Sequence[str] | None = None) -> list[str | ParaphraseError]:
        if questions is None:
            raise BadInputError("the resample paraphraser needs the questions (a step's "
                                "meaning is read in its context)")
        return list(paraphrase_by_steps(self, cots, questions))

    # ----- one step --------------------------------------------------------------------------
    def prompt(self, question: str, previous: Sequence[str]) -> Prompt:
        """The frozen model's prompt before a step: the question, the paraphrased steps as
        the start of its answer."""
        done = [p for p in previous if p]
        if self.unit == "word":
            return Prompt.user(question, prefill=" ".join(done))
        return Prompt.user(question, prefill="".join(p + "\n" for p in done))

    def join(self, context: str, step: str) -> str:
        return f"{context} {step}" if self.unit == "word" and step else context + step

    def unknown(self, step: str) -> bool:
        unk = self.tok.unk_token_id
        return unk is not None and unk in self.tok(step, add_special_tokens=False)["input_ids"]

    def paraphrase_steps(self, steps: Sequence[str], questions: Sequence[str],
                         previous: Sequence[Sequence[str]]) -> list[Paraphrase | ParaphraseError]:
        if not len(steps) == len(questions) == len(previous):
            raise BadInputError("paraphrase_steps: steps, questions and previous differ in "
                                "length")
        self.calls += 1
        out: list[Paraphrase | ParaphraseError] = [Paraphrase("", fidelity=1.0) for _ in steps]
        todo = []
        for i, s in enumerate(steps):
            s = s.strip()
            if not s:
                continue
            if self.unknown(s):
                out[i] = ParaphraseError("low-fidelity", f"{s!r} holds a word the frozen model "
                                         f"'{self.model.spec}' does not know")
                continue
            todo.append(i)
        if not todo:
            return out
        prompts = [self.prompt(questions[i], previous[i]) for i in todo]
        contexts = [self.local.render(p) for p in prompts]
        candidates = self.draw(prompts, contexts)
        rng = random.Random(f"{self.seed}:{self.calls}")
        # rows: per item, the step, its candidates, then the empty step (dropping it)
        variants = [[steps[i].strip(), *cands, ""] for i, cands in zip(todo, candidates,
                                                                       strict=True)]
        meaning_next, meaning_ans = self.meanings(
            [self.join(c, v) for c, vs in zip(contexts, variants, strict=True) for v in vs])
        row = 0
        for i, vs, cands in zip(todo, variants, candidates, strict=True):
            k = len(vs)
            pn, pa = meaning_next[row:row + k], meaning_ans[row:row + k]
            row += k
            div = [float(d) for d in
                   js_bits(pn[:1].expand_as(pn), pn).maximum(js_bits(pa[:1].expand_as(pa), pa))]
            out[i] = self.choose(vs[0], cands, div[1:-1], div[-1], rng)
        return out

    def choose(self, step: str, cands: dict[str, float], div: list[float], drop: float,
               rng: random.Random) -> Paraphrase | ParaphraseError:
        """Draw among the acceptable candidates (by the frozen model's probability); else drop a
        step that means nothing; else fail closed."""
        ok = [(c, p, d) for (c, p), d in zip(cands.items(), div, strict=True)
              if d <= self.max_divergence]
        if ok:
            c, _, d = rng.choices(ok, weights=[p for _, p, _ in ok])[0]
            return Paraphrase(c, fidelity=1.0 - d)
        if drop <= self.max_divergence:
            return Paraphrase("", fidelity=1.0 - drop)
        best = min(zip(cands, div, strict=True), key=lambda x: x[1], default=None)
        closest = f"; the closest, {best[0]!r}, is {best[1]:.2f} bit away" if best else ""
        return ParaphraseError("low-fidelity", f"none of the {len(cands)} steps drawn from "
                               f"'{self.model.spec}' means what {step!r} means{closest} "
                               f"(> {self.max_divergence})")

    # ----- the frozen model ------------------------------------------------------------------
    def draw(self, prompts: list[Prompt], contexts: list[str]) -> list[dict[str, float]]:
        """Per context, the distinct candidate steps drawn (``n`` draws at temperature 1) with
        their weights: the frozen model's probability (words) or share of the draws (lines)."""
        if self.unit == "line":
            params = GenParams(max_new_tokens=self.max_step_tokens, temperature=1.0,
                               n=self.n or DEFAULT_DRAWS,
                               stop=("\n",), seed=self.seed * 100_003 + self.calls)
            gens = self.model.generate(prompts, params)
            out = []
            for g in gens:
                lines = [x.text.strip() for x in g if x.finish_reason == "stop"]
                lines = [x for x in lines if x and self.cue.strip() not in x]
                out.append({x: lines.count(x) / len(lines) for x in dict.fromkeys(lines)})
            return out
        import torch

        probs = self.local.next_token_logprobs(contexts).exp()
        probs[:, self.banned] = 0.0
        probs = probs / probs.sum(-1, keepdim=True)
        if self.n == ALL and probs.size(1) <= MAX_EXHAUSTIVE:  # exact conditional resampling
            allowed = [t for t in range(probs.size(1)) if t not in set(self.banned)]
            drawn = [allowed for _ in contexts]
        else:
            gen = torch.Generator().manual_seed(self.seed * 100_003 + self.calls)
            drawn = torch.multinomial(probs, self.n or DEFAULT_DRAWS, replacement=True,
                                      generator=gen).tolist()
        return [{self.tok.convert_ids_to_tokens(t): float(row[t]) for t in ids
                 if row[t] >= self.min_probability}
                for row, ids in zip(probs, drawn, strict=True)]

    def meanings(self, texts: list[str]) -> tuple[Any, Any]:
        """The frozen model's next-token and answer distributions after each text."""
        import torch

        score = self.local.next_token_logprobs
        sep = "" if self.unit == "word" else "\n"
        nxt, ans = [], []
        for start in range(0, len(texts), ROWS_PER_PASS):
            chunk = texts[start:start + ROWS_PER_PASS]
            nxt.append(score([t + sep for t in chunk]).exp())
            ans.append(score([t + self.cue for t in chunk]).exp())
        return torch.cat(nxt), torch.cat(ans)
