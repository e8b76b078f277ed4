"""``faithline interp sae``: train a sparse autoencoder with SAELens on stored activations.

    faithline interp sae runs/cf/acts --path model.layers.14 --k 32 --expansion 8 \\
        --max-seconds 300 --out runs/cf/sae-l14

SAELens (``pip install sae-lens``) does the training: its ``SAETrainer`` takes any iterator of
activation batches, so the activations come from our store (captured with plain forward hooks on
the transformers model) and TransformerLens is never needed, with no official-model list, BOS or
GGUF-marker workarounds. The loop drives the trainer's public per-step seams so that a wall-clock
budget (``--max-seconds``) can end training cleanly; the activation-norm scaling SAELens
estimates is folded into the weights before saving, as ``SAETrainer.fit`` does.

Held-out transcripts (``--eval-share``) give the explained variance (1 - FVU) and L0. The output
directory is an SAELens SAE (``cfg.json`` + ``sae_weights.safetensors``, loadable with
``sae_lens.SAE.load_from_disk``) plus ``faithline_sae.json`` (the store, module path, segments,
training time and the held-out metrics). ``load_sae`` loads any SAELens-format directory.
"""

from __future__ import annotations

import contextlib
import io
import re
import time
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faithline.config import SEED, check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError, MissingDependencyError
from faithline.interp.align import SEGMENTS
from faithline.interp.store import ActivationStore, Record
from faithline.io import write_json_atomic

SCHEMA = "faithline.sae/1"
ARCHITECTURES = ("topk", "batchtopk", "standard")



@dataclass(frozen=True)
class SAETrainConfig:
    """Settings of one SAE training run; stored in faithline_sae.json."""

    out: str = field(metadata=_help("output directory (an SAELens SAE)"))
    path: str = field(default="", metadata=_help(
        "module path in the store (default: the middle one)"))
    segments: str = field(default="cot", metadata=_help(
        f"tokens to train on: comma-separated of {', '.join(SEGMENTS)}, or 'all'"))
    skip_first: int = field(default=1, metadata=_help(
        "leave out the first tokens of each transcript (attention sinks with outsized norms)",
        ge=0))
    architecture: str = field(default="topk", metadata=_help(
        f"SAELens architecture: {', '.join(ARCHITECTURES)}"))
    expansion: int = field(default=8, metadata=_help("d_sae = expansion x d_model", ge=1))
    k: int = field(default=32, metadata=_help("active features per token (topk, batchtopk)",
                                              ge=1))
    l1: float = field(default=5.0, metadata=_help("L1 coefficient (standard)", ge=0))
    lr: float = field(default=4e-4, metadata=_help("Adam learning rate", gt=0))
    batch_size: int = field(default=512, metadata=_help("tokens per training step", ge=1))
    epochs: float = field(default=20.0, metadata=_help("passes over the training tokens", gt=0))
    max_seconds: float = field(default=300.0, metadata=_help(
        "wall-clock budget for training (0: none)", ge=0))
    eval_share: float = field(default=0.1, metadata=_help(
        "share of transcripts held out for explained variance and L0", gt=0, lt=1))
    seed: int = field(default=0, metadata=_help("seed of the split, the shuffle and the init",
                                                **SEED))
    device: str = field(default="cpu", metadata=_help("torch device for training"))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above
        if self.architecture not in ARCHITECTURES:
            raise BadInputError(f"--architecture must be one of {ARCHITECTURES}")

    def segment_list(self) -> list[str] | None:
        if self.segments.strip() == "all":
            return None
        out = [s.strip() for s in self.segments.split(",") if s.strip()]
        bad = [s for s in out if s not in SEGMENTS]
        if bad or not out:
            raise BadInputError(f"unknown segment(s) {bad}; use {', '.join(SEGMENTS)} or all")
        return out


def _sae_lens() -> Any:
    try:
        import sae_lens
    except ImportError:
        raise MissingDependencyError("sae-lens", "interp", "SAE training and loading") from None
    return sae_lens


def split_records(store: ActivationStore, share: float, seed: int
                  ) -> tuple[list[Record], list[Record]]:
    """(train, held-out) records, split by transcript id with ``seed``."""
    recs = sorted(store.records, key=lambda r: r.id)
    if len(recs) < 2:
        raise BadInputError(f"store '{store.root}' needs at least two transcripts")
    order = np.random.default_rng(seed).permutation(len(recs))
    n_eval = max(1, round(len(recs) * share))
    held = {int(i) for i in order[:n_eval]}
    return ([r for i, r in enumerate(recs) if i not in held],
            [r for i, r in enumerate(recs) if i in held])


def _batches(store: ActivationStore, path: str, records: Sequence[Record], batch_size: int,
             segments: list[str] | None, seed: int, skip_first: int) -> Iterator[Any]:
    """Endless shuffled torch batches, one shuffled pass over ``records`` per epoch."""
    import torch

    epoch = 0
    while True:
        got = False
        for b in store.token_batches(path, batch_size, segments, records, seed=seed + epoch,
                                     skip_first=skip_first):
            got = True
            yield torch.from_numpy(b)
        if not got:
            raise BadInputError(f"fewer than {batch_size} training tokens in the selected "
                                "segments; lower --batch-size or capture more")
        epoch += 1


def build_sae(cfg: SAETrainConfig, d_in: int, metadata: dict[str, Any]) -> Any:
    sae_lens = _sae_lens()
    common: dict[str, Any] = dict(d_in=d_in, d_sae=d_in * cfg.expansion, device=cfg.device,
                                  normalize_activations="expected_average_only_in")
    if cfg.architecture == "standard":
        sae_cfg = sae_lens.StandardTrainingSAEConfig(**common, l1_coefficient=cfg.l1)
        cls = sae_lens.StandardTrainingSAE
    elif cfg.architecture == "batchtopk":
        sae_cfg = sae_lens.BatchTopKTrainingSAEConfig(**common, k=cfg.k)
        cls = sae_lens.BatchTopKTrainingSAE
    else:
        sae_cfg = sae_lens.TopKTrainingSAEConfig(**common, k=cfg.k)
        cls = sae_lens.TopKTrainingSAE
    for key, value in metadata.items():
        sae_cfg.metadata[key] = value
    return cls(sae_cfg)


def train_sae(store: ActivationStore, cfg: SAETrainConfig, progress: bool = True
              ) -> dict[str, Any]:
    """Train, save (SAELens format + faithline_sae.json) and evaluate on held-out tokens."""
    import torch
    from tqdm.auto import tqdm

    sae_lens = _sae_lens()
    from sae_lens.config import SAETrainerConfig
    from sae_lens.training.sae_trainer import SAETrainer

    path = cfg.path or store.paths[len(store.paths) // 2]
    d_in = store.dim(path)
    segments = cfg.segment_list()
    train, held = split_records(store, cfg.eval_share, cfg.seed)
    n_tokens = sum(len(b) for b in store.token_batches(path, 4096, segments, train, seed=None,
                                                       skip_first=cfg.skip_first))
    total = int(n_tokens * cfg.epochs) // cfg.batch_size * cfg.batch_size
    if total < cfg.batch_size:
        raise BadInputError(f"only {n_tokens} training tokens in segments {cfg.segments}; "
                            "lower --batch-size or capture more")
    torch.manual_seed(cfg.seed)
    model_info = store.info.get("model", {})
    sae = build_sae(cfg, d_in, {"model_name": model_info.get("spec"), "hook_name": path,
                                "prepend_bos": False, "faithline_store": str(store.root)})
    tcfg = SAETrainerConfig(
        total_training_samples=total, train_batch_size_samples=cfg.batch_size, lr=cfg.lr,
        lr_end=cfg.lr / 10,
        device=cfg.device, n_batches_for_norm_estimate=min(50, max(1, total // cfg.batch_size)),
        dead_feature_window=max(50, total // cfg.batch_size // 4),
        feature_sampling_window=max(50, total // cfg.batch_size // 4))
    data = _batches(store, path, train, cfg.batch_size, segments, cfg.seed, cfg.skip_first)
    trainer = SAETrainer(tcfg, sae, data)
    sae.to(cfg.device)
    start = time.perf_counter()
    with contextlib.redirect_stderr(io.StringIO()) if not progress else \
            contextlib.nullcontext():  # SAELens's own progress bar
        trainer.activation_scaler.estimate_scaling_factor(
            d_in=d_in, data_provider=data,
            n_batches_for_norm_estimate=tcfg.n_batches_for_norm_estimate)
    init_decoder_bias(sae, data, trainer.activation_scaler.scaling_factor or 1.0,
                      tcfg.n_batches_for_norm_estimate)
    bar = tqdm(total=total, unit="tok", desc="SAE", disable=not progress)
    stopped_by_time = False
    while trainer.n_training_samples < total:
        if cfg.max_seconds and time.perf_counter() - start > cfg.max_seconds:
            stopped_by_time = True
            break
        trainer.maybe_reset_sparsity()
        out = trainer.step(next(data))
        trainer.n_training_steps += 1
        bar.update(cfg.batch_size)
        if trainer.n_training_steps % 10 == 0:
            bar.set_postfix(mse=f"{out.losses['mse_loss'].item():.3g}")
    bar.close()
    seconds = time.perf_counter() - start
    trainer.set_final_sae_metadata()
    if trainer.activation_scaler.scaling_factor is not None:
        sae.fold_activation_norm_scaling_factor(trainer.activation_scaler.scaling_factor)
        trainer.activation_scaler.scaling_factor = None
    out_dir = Path(cfg.out)
    out_dir.mkdir(parents=True, exist_ok=True)
    sae.save_inference_model(out_dir)
    loaded = load_sae(out_dir, device=cfg.device)
    metrics = evaluate_sae(loaded, store, path, held, segments, cfg.skip_first)
    info = {"schema": SCHEMA, "store": str(store.root), "model": model_info.get("spec"),
            "path": path, "segments": cfg.segments, "config": asdict(cfg),
            "d_in": d_in, "d_sae": int(loaded.cfg.d_sae), "train_tokens": n_tokens,
            "trained_tokens": trainer.n_training_samples, "steps": trainer.n_training_steps,
            "seconds": round(seconds, 1), "stopped_by_time": stopped_by_time,
            "device": cfg.device, "sae_lens": sae_lens.__version__,
            "held_out": {"transcripts": len(held), **metrics},
            "held_out_ids": [r.id for r in held]}
    write_json_atomic(out_dir / "faithline_sae.json", info)
    return info


def init_decoder_bias(sae: Any, data: Iterator[Any], scale: float, n_batches: int) -> None:
    """Start the decoder bias at the mean activation (scaled like the training inputs).

    SAELens 6 starts it at zero; the residual stream has a large mean, which an Adam-sized step
    takes thousands of steps to learn, so a short CPU run would explain none of the variance.
    """
    import torch

    with torch.no_grad():
        mean = torch.stack([next(data).float().mean(0) for _ in range(n_batches)]).mean(0)
        sae.b_dec.data.copy_((mean * scale).to(sae.b_dec.device, sae.b_dec.dtype))


def load_sae(path: str | Path, device: str = "cpu") -> Any:
    """An SAELens SAE from a local directory (``cfg.json`` + ``sae_weights.safetensors``)."""
    sae_lens = _sae_lens()
    p = Path(path)
    if not (p / "cfg.json").is_file():
        raise BadInputError(f"'{p}' is not an SAELens SAE directory (no cfg.json)")
    try:
        return sae_lens.SAE.load_from_disk(str(p), device=device)
    except (OSError, ValueError, KeyError) as e:
        raise BadInputError(f"cannot load SAE '{p}': {str(e).splitlines()[0]}") from None


def module_path_of(sae: Any) -> str | None:
    """The HF module path an SAE reads: its ``hook_name`` if that is already a module path, or
    the TransformerLens residual hooks mapped to Llama-style paths
    (``blocks.N.hook_resid_post`` -> ``model.layers.N``)."""
    hook = sae.cfg.metadata.get("hook_name")
    if not hook:
        return None
    m = re.fullmatch(r"blocks\.(\d+)\.hook_resid_(post|pre)", hook)
    if m:
        n = int(m.group(1)) - (m.group(2) == "pre")
        return f"model.layers.{n}" if n >= 0 else "model.embed_tokens"
    return str(hook)


def encode(sae: Any, X: np.ndarray, batch: int = 4096) -> np.ndarray:
    """Float[Array, "tokens d_sae"]: the SAE's feature activations for rows of ``X``."""
    import torch

    outs = []
    with torch.no_grad():
        for i in range(0, len(X), batch):
            x = torch.from_numpy(np.ascontiguousarray(X[i : i + batch], dtype=np.float32))
            outs.append(sae.encode(x.to(sae.device)).float().cpu().numpy())
    return np.concatenate(outs) if outs else np.zeros((0, int(sae.cfg.d_sae)), np.float32)


def evaluate_sae(sae: Any, store: ActivationStore, path: str, records: Sequence[Record],
                 segments: list[str] | None, skip_first: int = 0) -> dict[str, Any]:
    """Explained variance (1 - FVU), L0, and dead features on ``records``' tokens."""
    import torch

    sse = 0.0
    count = 0
    l0_sum = 0.0
    fired = np.zeros(int(sae.cfg.d_sae), dtype=bool)
    xs = list(store.token_batches(path, 4096, segments, records, seed=None,
                                  skip_first=skip_first))
    if not xs:
        return {"tokens": 0, "explained_variance": float("nan"), "l0": float("nan")}
    X = np.concatenate(xs)
    mean = X.mean(axis=0)
    sst = float(((X - mean) ** 2).sum())
    with torch.no_grad():
        for i in range(0, len(X), 4096):
            x = torch.from_numpy(X[i : i + 4096]).to(sae.device)
            acts = sae.encode(x)
            recon = sae.decode(acts)
            sse += float(((recon - x) ** 2).sum())
            active = (acts > 0).cpu().numpy()
            l0_sum += float(active.sum())
            fired |= active.any(axis=0)
            count += len(x)
    return {"tokens": count, "explained_variance": 1 - sse / sst if sst else float("nan"),
            "l0": l0_sum / count, "dead_features": int((~fired).sum()),
            "dead_share": float((~fired).mean())}
