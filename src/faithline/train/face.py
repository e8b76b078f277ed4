"""The Face's own on-policy GRPO step (TRL trains one policy per trainer).

In the Face arms the policy (Shoggoth) writes the CoT and a second model, the Face, reads the
prompt and the (possibly paraphrased) CoT and writes the answer. TRL's ``GRPOTrainer`` updates
the Shoggoth; the Face is updated here, once per rollout, by a policy-gradient step with GRPO's
group-normalised advantage on its own answer tokens and its own optimiser (on-policy, so no
ratio clipping is needed).

Answers are sampled without a graph: with the one sampler (``HFModel.generate_texts``), or, when
every answer is one token (the organism: ``H`` / ``T``), from the last position's distribution of
one forward pass. The update then re-scores, with gradients, only the answers whose advantage is
not zero: a group whose rewards are all equal contributes exactly nothing to the policy gradient,
so skipping it changes no number and, once the Face has converged, saves most of the backward.

Under ``accelerate launch`` (``configs/ddp.yaml``) every process holds its own Face, outside
accelerate's wrapping; when ``torch.distributed`` is initialised the update averages the Face's
gradients across processes (every process steps, one whose answers all had zero advantage with
zero gradients, unless no process has an answer to learn from), and the first update starts
every copy from process 0's weights, so the copies stay one Face, updated on the whole step's
answers, as DDP would.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from faithline.models.hf import HFModel
from faithline.types import Generation, GenParams


class FaceLearner:
    """A trainable Face: ``sample(texts)`` then ``update(rewards, group)``."""

    def __init__(self, model: Any, tok: Any, lr: float, single_token: bool,
                 max_new_tokens: int = 8, seed: int = 0) -> None:
        import torch

        self.model, self.tok, self.single_token = model, tok, single_token
        self.sampler = HFModel(model, tok, spec="face (training)", source={}, batch_size=10**6)
        self.opt = torch.optim.AdamW(model.parameters(), lr=lr)
        self.max_new_tokens, self.seed = max_new_tokens, seed
        self._inputs: list[str] = []
        self._ids: list[list[int]] = []
        self._synced = False  # the copies start from process 0's weights (several processes)

    def sample(self, texts: Sequence[str], step: int = 0) -> list[str]:
        """One answer per rendered Face input (prompt + CoT + answer cue), seeded by the run's
        seed and ``step`` (a resumed run draws what an uninterrupted one did)."""
        import torch

        self._inputs = list(texts)
        if not texts:
            self._ids = []
            return []
        if not self.single_token:
            params = GenParams(max_new_tokens=self.max_new_tokens, temperature=1.0,
                               stop=("\n",), seed=self.seed * 100_003 + step)
            gens: list[Generation] = [g[0] for g in self.sampler.generate_texts(texts, params)]
            self._ids = [list(g.token_ids or ()) for g in gens]
            return [g.text for g in gens]
        enc = self.tok(list(texts), return_tensors="pt", padding=True, add_special_tokens=False)
        self.model.eval()
        with torch.inference_mode():
            logits = self.model(**enc.to(self.model.device), logits_to_keep=1).logits[:, -1]
        gen = torch.Generator(device=logits.device).manual_seed(self.seed * 100_003 + step)
        drawn = torch.multinomial(torch.softmax(logits.float(), -1), 1, generator=gen)
        ids = drawn[:, 0].tolist()
        self._ids = [[int(i)] for i in ids]
        return [self.tok.decode([int(i)]) for i in ids]

    def update(self, rewards: Sequence[float | None], group: int,
               rows: Sequence[int] | None = None) -> None:
        """One policy-gradient step on the answers of the last ``sample`` call. ``rewards`` has
        one entry per rollout (``None``: no answer, e.g. a failed paraphrase) and ``rows`` maps
        the sampled answers to their rollouts (default: one each, in order). The advantages are
        ``group_advantages``: TRL's normalisation of the policy's rewards."""
        rows = list(range(len(self._inputs))) if rows is None else list(rows)
        adv = group_advantages(rewards, group)[rows]
        keep = [j for j, ids in enumerate(self._ids) if ids and adv[j] != 0]
        if world_size() > 1 and not any_process(bool(keep)):
            return  # no process has an answer to learn from: no step anywhere, as in one
        if keep:  # the mean over all answers, as GRPO's loss: the skipped ones add zero
            logp = self._scores(keep)
            self._step(-(adv[keep].to(logp.device) * logp).sum() / max(1, len(self._ids)))
        elif world_size() > 1:  # every process takes part in the gradient average
            self._step(None)

    def _scores(self, keep: list[int]) -> Any:
        """Mean log-probability of each kept answer's tokens after its input (with grad)."""
        import torch

        contexts = self.tok([self._inputs[j] for j in keep], add_special_tokens=False)["input_ids"]
        rows = [c + self._ids[j] for c, j in zip(contexts, keep, strict=True)]
        width, pad = max(map(len, rows)), self.tok.pad_token_id
        ids = torch.tensor([[pad] * (width - len(r)) + r for r in rows])
        mask = torch.tensor([[0] * (width - len(r)) + [1] * len(r) for r in rows])
        target = torch.zeros_like(ids, dtype=torch.bool)
        for n, j in enumerate(keep):
            target[n, width - len(self._ids[j]):] = True
        self.model.train()
        dev = self.model.device
        logits = self.model(input_ids=ids.to(dev), attention_mask=mask.to(dev)).logits[:, :-1]
        logp = torch.log_softmax(logits.float(), -1).gather(-1, ids[:, 1:, None].to(dev))
        tmask = target[:, 1:].to(dev)
        return (logp.squeeze(-1) * tmask).sum(1) / tmask.sum(1).clamp(min=1)

    def _step(self, loss: Any) -> None:
        """One optimiser step on ``loss`` (None: no answer to learn from here), its gradients
        averaged across processes when there are several."""
        import torch

        self.opt.zero_grad()
        if loss is not None:
            loss.backward()
        if world_size() > 1:
            average_gradients(self.model, first=not self._synced)
            self._synced = True
        torch.nn.utils.clip_grad_norm_(self.model.parameters(), 1.0)
        self.opt.step()
        self.model.eval()


def group_advantages(rewards: Sequence[float | None], group: int) -> Any:
    """GRPO's advantage of each rollout, exactly as TRL's ``GRPOTrainer`` computes the policy's
    (``scale_rewards="group"``, TRL's default and the one faithline uses): the reward minus its
    group's ``nanmean``, over TRL's own ``nanstd`` of the group plus 1e-4. Bessel's correction
    counts the rewards present, not the group size, so a missing reward (None: a rollout that
    failed closed) leaves the rest normalised as TRL normalises them; its own advantage is 0,
    as is every advantage of a group with fewer than two rewards. ``rewards`` are in groups of
    ``group`` consecutive rollouts; returns a float tensor of the same length."""
    import torch
    from trl.trainer.utils import nanstd

    r = torch.tensor([float("nan") if x is None else float(x) for x in rewards]).view(-1, group)
    mean = torch.nanmean(r, 1, keepdim=True)
    std = nanstd(r, 1, keepdim=True) if group > 1 else torch.zeros_like(mean)
    return torch.nan_to_num(((r - mean) / (std + 1e-4)).view(-1), nan=0.0)


def world_size() -> int:
    """The number of training processes (1 unless ``torch.distributed`` is initialised)."""
    import torch.distributed as dist

    return dist.get_world_size() if dist.is_available() and dist.is_initialized() else 1


def any_process(flag: bool) -> bool:
    """Whether ``flag`` holds on any process."""
    import torch
    import torch.distributed as dist

    t = torch.tensor([1.0 if flag else 0.0])
    dist.all_reduce(t, op=dist.ReduceOp.MAX)
    return bool(t.item() > 0)


def average_gradients(model: Any, first: bool = False) -> None:
    """Average ``model``'s gradients over all processes (a missing one counts as zero); with
    ``first``, copy process 0's parameters to every process first."""
    import torch
    import torch.distributed as dist

    n = dist.get_world_size()
    for p in model.parameters():
        if first:
            dist.broadcast(p.data, src=0)
        if not p.requires_grad:
            continue
        if p.grad is None:
            p.grad = torch.zeros_like(p)
        dist.all_reduce(p.grad, op=dist.ReduceOp.SUM)
        p.grad.div_(n)
