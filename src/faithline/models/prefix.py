"""KV-cache prefix reuse for the hf back-end: run a long context once, then branch from it.

Early answering (Lanham et al. 2023) asks for the answer after every prefix of a CoT. Re-encoding
each prefix costs a forward pass over the whole prompt per truncation point; here the prompt and
the full CoT are encoded once (``encode``) and every branch (a truncated prefix plus an answer
cue, and an answer option) reuses the cached keys and values of the tokens it shares with it.

    state = encode(model, ids)                     # ids: prompt + full CoT, encoded once
    scores = score_branches(model, state, [(ctx_ids, [opt1_ids, opt2_ids]), ...])
    texts = greedy_branches(model, state, [ctx_ids, ...], max_new_tokens=8, stop=("\\n",))

A branch reuses the cache up to its longest common token prefix with the encoded sequence
(never its last context token, whose logits it needs), so results are those of the plain
computation on the branch's own tokens: ``score_branches`` gives what ``HFModel.score`` gives for
the same prompt text and continuations, ``greedy_branches`` what greedy ``HFModel.generate``
gives, up to floating-point rounding (different matmul shapes; in bf16 a near-tie can flip).

How: the cache is never copied per branch. All branches of a call are laid out one after another
in a single sequence (batch 1) after the cached tokens, each token with its own position id
(where it sits in its branch) and a 4D attention mask: a branch token sees the cached tokens its
branch shares, and the earlier tokens of its own branch, nothing else. One forward pass runs
every branch's context; the answer options of a branch then fork from it (a second, tiny pass,
only for options of several tokens), so a context is never repeated per option. Greedy
decoding appends one token per branch per step the same way. This needs an attention
implementation that takes a custom 4D mask (``sdpa``, ``eager``); with another one (flash
attention) ``supports_prefix_reuse`` is False and callers re-encode.
"""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from faithline.errors import BadInputError

if TYPE_CHECKING:
    from faithline.models.base import LocalModel

Branch = tuple[Sequence[int], Sequence[Sequence[int]]]  # (context ids, continuation ids list)
MASKABLE = ("sdpa", "eager")
MAX_TOKENS = 2048  # branch tokens per forward pass


@dataclass
class PrefixState:
    """The token ids of an encoded sequence and its per-layer keys and values (batch 1)."""

    ids: list[int]
    layers: list[tuple[Any, Any]]  # (keys, values), each [1, kv_heads, seq, head_dim]


def supports_prefix_reuse(model: LocalModel) -> bool:
    """True when the model's attention takes the custom 4D masks that branching uses."""
    impl = getattr(model.model.config, "_attn_implementation", None) or "eager"
    return impl in MASKABLE


def common_prefix(a: Sequence[int], b: Sequence[int]) -> int:
    """Length of the longest common prefix of two token sequences."""
    n = min(len(a), len(b))
    for i in range(n):
        if a[i] != b[i]:
            return i
    return n


def _cache_kwarg(model: LocalModel) -> str:
    """``cache`` (transformers >= 5.x) or ``past_key_values`` (older): the forward's cache arg."""
    params = inspect.signature(model.model.forward).parameters
    return "cache" if "cache" in params else "past_key_values"


def _out_cache(out: Any) -> Any:
    cache = getattr(out, "cache", None)
    return cache if cache is not None else out.past_key_values


def _layers_of(cache: Any) -> list[tuple[Any, Any]]:
    if hasattr(cache, "layers"):
        return [(layer.keys, layer.values) for layer in cache.layers]
    return list(zip(cache.key_cache, cache.value_cache, strict=True))  # transformers < 4.56


def encode(model: LocalModel, ids: Sequence[int]) -> PrefixState:
    """Run ``ids`` through the model once and keep its KV cache."""
    if not ids:
        raise BadInputError("prefix encode: empty token sequence")
    import torch
    x = torch.tensor([list(ids)], dtype=torch.long, device=model.device)
    with torch.inference_mode():
        out = model.model(input_ids=x, use_cache=True, logits_to_keep=1)
    return PrefixState(ids=list(ids), layers=_layers_of(_out_cache(out)))


def _reuse(state: PrefixState, context: Sequence[int]) -> int:
    """Tokens of ``context`` taken from the cache: the shared prefix, but never the last."""
    return min(common_prefix(state.ids, context), len(context) - 1)


class _Tree:
    """Branches laid out after a shared cache in one batch-1 sequence, with a 4D mask.

    A row sees the first ``reuse[row]`` cached tokens and its own tokens (``own[row]``, cache
    slots); ``fork`` starts a row that sees what another row sees, so several continuations
    share a branch's tokens without repeating them.
    """

    def __init__(self, model: LocalModel, state: PrefixState, reuse: Sequence[int]) -> None:
        import torch
        from transformers import DynamicCache

        self.model, self.torch = model, torch
        self.cache = DynamicCache([(k, v) for k, v in state.layers])
        self.length = len(state.ids)  # cache positions so far
        self.reuse = list(reuse)
        self.own: list[list[int]] = [[] for _ in reuse]  # cache slots of each row's tokens
        self.kwarg = _cache_kwarg(model)
        self.dtype = next(model.model.parameters()).dtype

    def fork(self, row: int) -> int:
        """A new row that sees what ``row`` sees now."""
        self.reuse.append(self.reuse[row])
        self.own.append(list(self.own[row]))
        return len(self.reuse) - 1

    def forward(self, rows: Sequence[int], tokens: Sequence[Sequence[int]]) -> Any:
        """Append ``tokens[i]`` to row ``rows[i]``; logits ``[sum of lengths, vocab]``."""
        torch = self.torch
        flat = [t for toks in tokens for t in toks]
        q = len(flat)
        mask = torch.zeros((q, self.length + q), dtype=torch.bool)
        positions = []
        at = 0
        for r, toks in zip(rows, tokens, strict=True):
            seen = torch.tensor(self.own[r], dtype=torch.long)
            for j in range(len(toks)):
                mask[at + j, : self.reuse[r]] = True
                mask[at + j, seen] = True
                mask[at + j, self.length + at : self.length + at + j + 1] = True
                positions.append(self.reuse[r] + len(self.own[r]) + j)
            at += len(toks)
        at = 0
        for r, toks in zip(rows, tokens, strict=True):
            self.own[r] += range(self.length + at, self.length + at + len(toks))
            at += len(toks)
        self.length += q
        dev = self.model.device
        bias = torch.zeros(mask.shape, dtype=self.dtype)
        bias.masked_fill_(~mask, torch.finfo(self.dtype).min)
        out = self.model.model(
            input_ids=torch.tensor([flat], dtype=torch.long, device=dev),
            attention_mask=bias[None, None].to(dev),
            position_ids=torch.tensor([positions], dtype=torch.long, device=dev),
            use_cache=True, **{self.kwarg: self.cache})
        self.cache = _out_cache(out)
        return out.logits[0]


def _chunks(sizes: Sequence[int], limit: int) -> list[list[int]]:
    """Indices grouped so each group's total size stays under ``limit`` (at least one each)."""
    groups: list[list[int]] = [[]]
    total = 0
    for i, n in enumerate(sizes):
        if groups[-1] and total + n > limit:
            groups.append([])
            total = 0
        groups[-1].append(i)
        total += n
    return [g for g in groups if g]


def score_branches(model: LocalModel, state: PrefixState, branches: Sequence[Branch],
                   max_tokens: int = MAX_TOKENS) -> list[list[float]]:
    """Log-probability sum of each continuation after its context, for every branch.

    ``branches`` holds ``(context ids, [continuation ids, ...])``; the answer for a branch is a
    list with one score per continuation, as ``HFModel.score`` returns for the same tokens.
    One forward pass runs every branch's context past the cache; a second one, only for
    continuations of several tokens, runs their tokens on rows forked from their branch.
    """
    for context, conts in branches:
        if not context:
            raise BadInputError("score_branches: every context must be non-empty")
        if any(not c for c in conts):
            raise BadInputError("score_branches: every continuation must be non-empty")
    reuse = [_reuse(state, context) for context, _ in branches]
    sizes = [len(c) - k + sum(len(x) - 1 for x in conts)
             for (c, conts), k in zip(branches, reuse, strict=True)]
    results: list[list[float]] = [[] for _ in branches]
    for group in _chunks(sizes, max_tokens):
        scored = _score_group(model, state, [branches[i] for i in group],
                              [reuse[i] for i in group])
        for i, s in zip(group, scored, strict=True):
            results[i] = s
    return results


def _score_group(model: LocalModel, state: PrefixState, branches: Sequence[Branch],
                 reuse: Sequence[int]) -> list[list[float]]:
    import torch
    tree = _Tree(model, state, reuse)
    suffixes = [list(c[k:]) for (c, _), k in zip(branches, reuse, strict=True)]
    with torch.inference_mode():
        logits = tree.forward(range(len(branches)), suffixes)
        ends = torch.tensor([len(s) for s in suffixes]).cumsum(0) - 1
        first = torch.log_softmax(logits[ends.to(logits.device)].float(), dim=-1)
        rows, tokens, owner = [], [], []
        for b, (_, conts) in enumerate(branches):
            for j, cont in enumerate(conts):
                if len(cont) > 1:
                    rows.append(tree.fork(b))
                    tokens.append(list(cont[:-1]))
                    owner.append((b, j))
        rest = None
        if rows:
            rest = torch.log_softmax(tree.forward(rows, tokens).float(), dim=-1)
    results = [[float(first[b, cont[0]]) for cont in conts]
               for b, (_, conts) in enumerate(branches)]
    at = 0
    for (b, j), toks in zip(owner, tokens, strict=True):
        cont = branches[b][1][j]
        assert rest is not None
        idx = torch.arange(at, at + len(toks), device=rest.device)
        target = torch.tensor(list(cont[1:]), device=rest.device)
        results[b][j] += float(rest[idx, target].sum())
        at += len(toks)
    return results


def greedy_branches(model: LocalModel, state: PrefixState, contexts: Sequence[Sequence[int]],
                    max_new_tokens: int, stop: Sequence[str] = (),
                    max_tokens: int = MAX_TOKENS) -> list[str]:
    """Greedy continuation of each context (decoded, cut at EOS and at the first stop string),
    as greedy ``HFModel.generate`` with the same stop strings gives for the same tokens."""
    if max_new_tokens < 1:
        raise BadInputError(f"max_new_tokens must be >= 1, got {max_new_tokens}")
    if any(not c for c in contexts):
        raise BadInputError("greedy_branches: every context must be non-empty")
    reuse = [_reuse(state, c) for c in contexts]
    out: list[str] = [""] * len(contexts)
    sizes = [len(c) - k + max_new_tokens for c, k in zip(contexts, reuse, strict=True)]
    for group in _chunks(sizes, max_tokens):
        texts = _greedy_group(model, state, [contexts[i] for i in group],
                              [reuse[i] for i in group], max_new_tokens, tuple(stop))
        for i, text in zip(group, texts, strict=True):
            out[i] = text
    return out


def _greedy_group(model: LocalModel, state: PrefixState, contexts: Sequence[Sequence[int]],
                  reuse: Sequence[int], max_new_tokens: int, stop: tuple[str, ...]) -> list[str]:
    import torch
    tree = _Tree(model, state, reuse)
    suffixes = [list(c[k:]) for c, k in zip(contexts, reuse, strict=True)]
    new: list[list[int]] = [[] for _ in contexts]
    live = list(range(len(contexts)))
    with torch.inference_mode():
        logits = tree.forward(live, suffixes)
        ends = torch.tensor([len(s) for s in suffixes]).cumsum(0) - 1
        step_logits = logits[ends.to(logits.device)]
        for step in range(max_new_tokens):
            tokens = step_logits.argmax(dim=-1).tolist()
            still = []
            for r, tok in zip(live, tokens, strict=True):
                if tok in model.eos_ids:
                    continue
                new[r].append(tok)
                text = model.tokenizer.decode(new[r], skip_special_tokens=True)
                if not any(s in text for s in stop):
                    still.append(r)
            live = still
            if not live or step + 1 == max_new_tokens:
                break
            step_logits = tree.forward(live, [[new[r][-1]] for r in live])
    texts = []
    for ids in new:
        text = model.tokenizer.decode(ids, skip_special_tokens=True)
        for s in stop:
            cut = text.find(s)
            if cut >= 0:
                text = text[:cut]
        texts.append(text)
    return texts
