"""Per-token log-likelihood of text under a frozen reference LM: batched, no gradients.

``ReferenceScorer.load(reference)`` takes a model spec (``builtin:smollm2-135m``, ``hf:DIR``),
a loaded ``HFModel``, or a raw transformers causal LM (then pass its ``tokenizer``): the
organism's frozen warm-up checkpoint can be the reference for the organism's own language.

``scorer.token_logprobs(texts, contexts)`` gives, for each text, the log-probability of each of
its tokens given the context before it. With no context a text starts after the tokenizer's
BOS token (or EOS, the usual document separator, when there is no BOS), so its first token is
scored too. Texts are sorted by length and packed into batches of at most ``batch_tokens``
padded tokens; a text longer than ``max_tokens`` is cut to its first ``max_tokens`` tokens and
a context to its last ``max_context_tokens``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from faithline.errors import BadInputError, CapabilityError
from faithline.legibility.text import Vocabulary
from faithline.models.base import Model, local_model


@dataclass(frozen=True)
class Scored:
    """One text's token log-probabilities (nats) under the reference."""

    logprobs: np.ndarray

    @property
    def tokens(self) -> int:
        return int(self.logprobs.size)

    @property
    def nll(self) -> float:
        """Mean negative log-likelihood per token (NaN for a text with no tokens)."""
        return float(-self.logprobs.mean()) if self.logprobs.size else math.nan


class ReferenceScorer:
    """A frozen causal LM and its tokenizer, scoring texts token by token."""

    def __init__(self, model: Any, tokenizer: Any, name: str, batch_tokens: int = 4096,
                 max_tokens: int = 1024, max_context_tokens: int = 512) -> None:
        import torch

        self.torch = torch
        self.model = model
        self.tokenizer = tokenizer
        self.name = name
        self.batch_tokens = batch_tokens
        self.max_tokens = max_tokens
        self.max_context_tokens = max_context_tokens
        self.device = next(model.parameters()).device
        start = tokenizer.bos_token_id if tokenizer.bos_token_id is not None \
            else tokenizer.eos_token_id
        self.start: list[int] = [int(start)] if start is not None else []
        pad = tokenizer.pad_token_id if tokenizer.pad_token_id is not None else start
        self.pad = int(pad) if pad is not None else 0
        self._vocab: Vocabulary | None = None

    @classmethod
    def load(cls, reference: Any, tokenizer: Any = None, **options: Any) -> ReferenceScorer:
        """A scorer from a spec string, an ``HFModel``, a scorer, or a model and ``tokenizer``."""
        if isinstance(reference, ReferenceScorer):
            return reference
        if isinstance(reference, str):
            from faithline.models import load_model

            reference = load_model(reference)
        if isinstance(reference, Model):  # a back-end (maybe a CachedModel around one)
            local = local_model(reference, purpose="a reference scored token by token")
            return cls(local.model, local.tokenizer, str(local.spec), **options)
        if hasattr(reference, "parameters") and callable(reference):  # a torch module
            if tokenizer is None:
                raise BadInputError("a reference given as a torch model needs its tokenizer")
            name = getattr(getattr(reference, "config", None), "_name_or_path", "") or "model"
            return cls(reference, tokenizer, str(name), **options)
        raise CapabilityError(f"reference '{type(reference).__name__}' cannot be scored token "
                              "by token: use a local model (builtin:, hf:, gguf:) or a torch "
                              "model")

    @property
    def vocab(self) -> Vocabulary:
        """The reference vocabulary built from this scorer's tokenizer (made once)."""
        if self._vocab is None:
            self._vocab = Vocabulary.from_tokenizer(self.tokenizer, self.name)
        return self._vocab

    def info(self) -> dict[str, Any]:
        return {"spec": self.name, "class": type(self.model).__name__,
                "device": str(self.device), "batch_tokens": self.batch_tokens,
                "max_tokens": self.max_tokens}

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def token_logprobs(self, texts: Sequence[str],
                       contexts: Sequence[str] | None = None) -> list[Scored]:
        """Each text's token log-probabilities after its context (or the start token)."""
        if contexts is not None and len(contexts) != len(texts):
            raise BadInputError("token_logprobs: one context per text")
        rows: list[tuple[list[int], list[int]]] = []
        for i, text in enumerate(texts):
            ctx = self.encode(contexts[i])[-self.max_context_tokens:] if contexts else []
            rows.append((ctx or self.start, self.encode(text)[: self.max_tokens]))
        out: list[Scored] = [Scored(np.zeros(0)) for _ in texts]
        order = sorted(range(len(rows)), key=lambda i: -sum(map(len, rows[i])))
        for batch in self._batches(order, rows):
            for i, lp in zip(batch, self._score_batch([rows[i] for i in batch]), strict=True):
                out[i] = Scored(lp)
        return out

    def _batches(self, order: Sequence[int],
                 rows: Sequence[tuple[list[int], list[int]]]) -> list[list[int]]:
        batches: list[list[int]] = []
        current: list[int] = []
        width = 0
        for i in order:
            n = len(rows[i][0]) + len(rows[i][1])
            if not rows[i][1]:
                continue  # nothing to score
            if current and max(width, n) * (len(current) + 1) > self.batch_tokens:
                batches.append(current)
                current, width = [], 0
            current.append(i)
            width = max(width, n)
        if current:
            batches.append(current)
        return batches

    def _score_batch(self, rows: Sequence[tuple[list[int], list[int]]]) -> list[np.ndarray]:
        torch = self.torch
        width = max(len(c) + len(t) for c, t in rows)
        ids = torch.full((len(rows), width), self.pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for r, (ctx, text) in enumerate(rows):
            ids[r, : len(ctx) + len(text)] = torch.tensor(ctx + text)
            mask[r, : len(ctx) + len(text)] = 1
        with torch.inference_mode():
            logits = self.model(input_ids=ids.to(self.device),
                                attention_mask=mask.to(self.device)).logits
            out = []
            for r, (ctx, text) in enumerate(rows):
                if not ctx:  # no start token: the first token cannot be predicted
                    ctx, text = text[:1], text[1:]
                lo = len(ctx) - 1
                step = logits[r, lo : lo + len(text)].float()
                target = torch.tensor(text, device=step.device)
                lp = -torch.nn.functional.cross_entropy(step, target, reduction="none")
                out.append(lp.cpu().numpy().astype(np.float64))
        return out
