"""``faithline interp capture``: activations of a local model on transcripts, streamed to disk.

    faithline interp capture runs/cf/transcripts.jsonl --model builtin:smollm2-135m \\
        --paths auto --out runs/cf/acts

Each transcript is laid out as prompt + CoT + answer cue + answer (``interp.align``), run through
the model in length-sorted batches, and the outputs of the named modules (``model.layers.12``
is the residual stream after block 12; ``auto`` picks five blocks evenly) are written to an
activation store (``interp.store``) with per-token segments and CoT steps. The forward pass
stops once the last requested module has run. Re-running the same command resumes.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np

from faithline.config import check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError
from faithline.interp.align import Aligned, Layout, align_transcript
from faithline.interp.store import SCHEMA, STORE_DTYPES, open_for_writing
from faithline.models.base import Capability, LocalModel, Model, local_model
from faithline.types import Transcript


@dataclass(frozen=True)
class CaptureConfig:
    """Settings of one capture; stored in the store's store.json."""

    model: str = field(metadata=_help("local model spec (hf:, gguf:, builtin:)"))
    out: str = field(metadata=_help("store directory; re-running the same command resumes"))
    paths: str = field(default="auto", metadata=_help(
        "comma-separated module paths (model.layers.12,...), 'layers:0,6,12' for blocks, "
        "'auto' for five evenly spaced blocks, or 'all' for every block"))
    dtype: str = field(default="float16", metadata=_help(
        f"stored precision, one of {', '.join(STORE_DTYPES)}"))
    batch_tokens: int = field(default=4096, metadata=_help(
        "padded tokens per forward batch", ge=1))
    shard_tokens: int = field(default=32768, metadata=_help("tokens per shard file", ge=1))
    chat: bool = field(default=True, metadata=Layout.__dataclass_fields__["chat"].metadata)
    answer_cue: str = field(default="\nAnswer: ",
                            metadata=Layout.__dataclass_fields__["answer_cue"].metadata)
    steps: str = field(default="auto", metadata=Layout.__dataclass_fields__["steps"].metadata)
    stop_early: bool = field(default=True, metadata=_help(
        "stop each forward pass after the last requested module"))
    limit: int = field(default=0, metadata=_help("capture only the first N transcripts (0: all)",
                                                 ge=0))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above
        if self.dtype not in STORE_DTYPES:
            raise BadInputError(f"--dtype must be one of {STORE_DTYPES}, got '{self.dtype}'")
        self.layout()

    def layout(self) -> Layout:
        return Layout(chat=self.chat, answer_cue=self.answer_cue, steps=self.steps)


def block_paths(model: LocalModel) -> list[str]:
    """Module paths of the transformer blocks (``model.layers.0``, ...), in order."""
    import torch

    for name, mod in model.model.named_modules():
        if isinstance(mod, torch.nn.ModuleList) and name.split(".")[-1] in ("layers", "h",
                                                                            "blocks"):
            return [f"{name}.{i}" for i in range(len(mod))]
    raise BadInputError(f"model '{model.spec}' has no list of blocks; give --paths explicitly")


def resolve_paths(model: LocalModel, spec: str) -> list[str]:
    """Module paths from a --paths value (see ``CaptureConfig.paths``), checked to exist."""
    spec = spec.strip()
    if spec in ("auto", "all") or spec.startswith("layers:"):
        blocks = block_paths(model)
        if spec == "all":
            paths = blocks
        elif spec == "auto":
            spaced = np.linspace(0, len(blocks) - 1, min(5, len(blocks))).round()
            paths = [blocks[i] for i in sorted({int(x) for x in spaced})]
        else:
            try:
                items = spec.removeprefix("layers:").split(",")
                picks = [int(x) for x in items if x.strip()]
            except ValueError:
                raise BadInputError(f"bad --paths '{spec}': layers must be integers") from None
            bad = [i for i in picks if not -len(blocks) <= i < len(blocks)]
            if bad:
                raise BadInputError(f"model has {len(blocks)} blocks; no block {bad[0]}")
            paths = [blocks[i] for i in picks]
    else:
        paths = [p.strip() for p in spec.split(",") if p.strip()]
    if not paths:
        raise BadInputError("--paths names no module")
    for p in paths:
        model.module(p)  # a clear error for an unknown path
    return list(dict.fromkeys(paths))


class _StopForward(Exception):
    """Raised inside a hook to end a forward pass once every requested module has run."""


@contextlib.contextmanager
def _stop_when_done(model: LocalModel, paths: Sequence[str], store: dict[str, list[Any]]
                    ) -> Iterator[None]:
    handles = []

    def hook(_m: Any, _i: Any, _o: Any) -> None:
        if all(store[p] for p in paths):
            raise _StopForward

    try:
        for p in paths:  # registered after capture's hooks, so they run after them
            handles.append(model.module(p).register_forward_hook(hook))
        yield
    finally:
        for h in handles:
            h.remove()


def forward_capture(model: LocalModel, batch: Sequence[Sequence[int]], paths: Sequence[str],
                    stop_early: bool = True) -> dict[str, Any]:
    """One right-padded forward pass; ``{path: Float[Tensor, "batch seq d"]}`` on CPU."""
    import torch

    width = max(len(ids) for ids in batch)
    pad = model.tokenizer.pad_token_id or 0
    ids = torch.full((len(batch), width), pad, dtype=torch.long)
    mask = torch.zeros_like(ids)
    for i, row in enumerate(batch):
        ids[i, : len(row)] = torch.tensor(list(row), dtype=torch.long)
        mask[i, : len(row)] = 1
    stopper = _stop_when_done if stop_early else None
    with model.capture(paths) as store, torch.inference_mode():
        with stopper(model, paths, store) if stopper else contextlib.nullcontext():
            try:
                model.model(input_ids=ids.to(model.device), attention_mask=mask.to(model.device),
                            use_cache=False)
            except _StopForward:
                pass
    return {p: store[p][0] for p in paths}


def length_batches(lengths: Sequence[int], batch_tokens: int) -> list[list[int]]:
    """Indices grouped into batches of similar length with at most ``batch_tokens`` padded
    tokens each (a longer item gets a batch of its own)."""
    order = sorted(range(len(lengths)), key=lambda i: lengths[i])
    batches: list[list[int]] = []
    current: list[int] = []
    for i in order:
        if current and lengths[i] * (len(current) + 1) > batch_tokens:
            batches.append(current)
            current = []
        current.append(i)
    if current:
        batches.append(current)
    return batches


def store_info(model: Model, cfg: CaptureConfig, paths: Sequence[str]) -> dict[str, Any]:
    info = model.info()
    return {"schema": SCHEMA, "model": info, "model_fingerprint": info.get("fingerprint"),
            "paths": list(paths), "dims": {}, "dtype": cfg.dtype,
            "layout": asdict(cfg.layout()), "config": asdict(cfg)}


def capture_transcripts(model: Model, transcripts: Sequence[Transcript], cfg: CaptureConfig,
                        progress: bool = True) -> dict[str, int]:
    """Capture ``transcripts`` into the store ``cfg.out``; returns counts (written, skipped,
    tokens). ``model`` must be a local model (``CapabilityError`` otherwise)."""
    from tqdm.auto import tqdm

    local = local_model(model, Capability.ACTIVATIONS, purpose="interp capture")
    seen: set[str] = set()
    for t in transcripts:
        if t.id in seen:
            raise BadInputError(f"duplicate transcript id '{t.id}'")
        seen.add(t.id)
    paths = resolve_paths(local, cfg.paths)
    writer = open_for_writing(cfg.out, store_info(local, cfg, paths), cfg.shard_tokens)
    todo = [t for t in transcripts if t.id not in writer.done]
    layout = cfg.layout()
    aligned: list[Aligned] = [align_transcript(local, t, layout) for t in todo]
    batches = length_batches([len(a) for a in aligned], cfg.batch_tokens)
    bar = tqdm(total=sum(len(a) for a in aligned), unit="tok", desc="capture",
               disable=not progress)
    for idx in batches:
        acts = forward_capture(local, [aligned[i].ids for i in idx], paths, cfg.stop_early)
        if not writer.info["dims"]:
            writer.info["dims"] = {p: int(a.shape[-1]) for p, a in acts.items()}
            from faithline.io import write_json_atomic

            write_json_atomic(writer.root / "store.json", writer.info)
        for row, i in enumerate(idx):
            n = len(aligned[i])
            writer.add(todo[i], aligned[i],
                       {p: a[row, :n].float().numpy() for p, a in acts.items()})
        bar.update(sum(len(aligned[i]) for i in idx))
    writer.flush()
    bar.close()
    return {"written": len(todo), "skipped": len(transcripts) - len(todo),
            "tokens": writer.tokens_written}
