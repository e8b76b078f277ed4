"""Local transformers back-end: ``hf:<dir or hub id>[@dtype]`` and ``gguf:<file>[@dtype]``.

Generation is batched (left padding, length-sorted batches), supports n samples, temperature /
top-p, stop strings, assistant prefill and per-token logprobs; ``score`` gives the log-probability
of given continuations; ``activations`` and ``capture`` read outputs of named modules
(``model.layers.3.mlp``) with plain forward hooks; ``next_token_logprobs`` gives the next-token
distribution after rendered texts. ``HFModel`` is the ``LocalModel`` (``models.base``) that
other parts reach through ``local_model``.

GGUF files are de-quantised into a plain model: a GGUF-loaded model keeps a
``quantization_config`` marker that blocks training, saving and hooking, so we rebuild a plain
``*ForCausalLM`` from its state dict. Hub ids work for users with network; tests use local files.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import platform
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from faithline.errors import BadInputError, MissingDependencyError
from faithline.models.base import Capability, LocalModel, check_params
from faithline.types import Generation, GenParams, Prompt

if TYPE_CHECKING:
    import torch

DTYPES = {"bf16": "bfloat16", "fp16": "float16", "fp32": "float32"}
CAPABILITIES = frozenset(Capability)


def _import_torch() -> Any:
    try:
        import torch
        import transformers
    except ImportError as e:
        raise MissingDependencyError(e.name or "torch", "hf", "local models (hf:, gguf:)") from None
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    return torch


def cpu_has_bf16() -> bool:
    """True when the CPU computes bf16 natively (AVX512-BF16 / AMX on x86, BF16 on Arm)."""
    try:
        flags = Path("/proc/cpuinfo").read_text()
    except OSError:
        return platform.machine() == "arm64"  # Apple silicon
    return any(f in flags for f in ("avx512_bf16", "amx_bf16", " bf16"))


def pick_dtype(option: str | None, cuda: bool) -> str:
    """'bfloat16' / 'float16' / 'float32' from a spec option, $FAITHLINE_DTYPE, or the hardware."""
    choice = option or os.environ.get("FAITHLINE_DTYPE") or "auto"
    if choice == "auto":
        return "bfloat16" if cuda or cpu_has_bf16() else "float32"
    if choice not in DTYPES:
        raise BadInputError(f"unknown dtype option '@{choice}'; use one of auto, bf16, fp16, fp32")
    return DTYPES[choice]


def fingerprint(path: str | Path) -> str:
    """A short hash of the names, sizes and modification times of a model's files, so the call
    cache never answers for weights that changed under the same path."""
    import hashlib

    p = Path(path)
    files = sorted(f for f in p.iterdir() if f.is_file()) if p.is_dir() else [p]
    stats = [(f.name, f.stat().st_size, f.stat().st_mtime_ns) for f in files]
    return hashlib.sha256(repr(stats).encode()).hexdigest()[:16]


def split_option(rest: str) -> tuple[str, str | None]:
    """'path@bf16' -> ('path', 'bf16'); a trailing '@x' is an option only if x is a dtype."""
    head, at, tail = rest.rpartition("@")
    if at and (tail in DTYPES or tail == "auto"):
        return head, tail
    return rest, None


class HFModel:
    """A transformers causal LM with its tokenizer, behind the ``LocalModel`` protocol."""

    capabilities = CAPABILITIES

    def __init__(self, model: Any, tokenizer: Any, spec: str, source: dict[str, Any],
                 batch_size: int = 8) -> None:
        torch = _import_torch()
        self.model = model.eval()
        self.tokenizer = tokenizer
        self.spec = spec
        self.source = source
        self.batch_size = batch_size
        self.device = next(model.parameters()).device
        if tokenizer.pad_token is None:
            tokenizer.pad_token = tokenizer.eos_token
        self.eos_ids = self._eos_token_ids()
        self._torch = torch

    # ----- prompts ---------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> str:
        """The exact text fed to the model: chat template, generation prompt, then prefill."""
        messages = [m.to_dict() for m in prompt.messages]
        if getattr(self.tokenizer, "chat_template", None):
            text = self.tokenizer.apply_chat_template(
                messages, tokenize=False, add_generation_prompt=True
            )
        else:
            text = "".join(f"{m['role'].capitalize()}: {m['content']}\n" for m in messages)
            text += "Assistant: "
        return str(text) + prompt.prefill

    def _eos_token_ids(self) -> set[int]:
        ids = set()
        for source in (self.model.generation_config, self.tokenizer):
            eos = getattr(source, "eos_token_id", None)
            if isinstance(eos, int):
                ids.add(eos)
            elif isinstance(eos, list):
                ids.update(eos)
        return ids

    def _encode(self, texts: Sequence[str], side: str = "left") -> Any:
        self.tokenizer.padding_side = side
        return self.tokenizer(
            list(texts), return_tensors="pt", padding=True, add_special_tokens=False
        ).to(self.device)

    # ----- generation ------------------------------------------------------------------------
    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Generation]]:
        check_params(self, params)
        texts = [self.render(p) for p in prompts]
        results: list[list[Generation]] = [[] for _ in texts]
        order = sorted(range(len(texts)), key=lambda i: len(texts[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            outs = self.generate_texts([texts[i] for i in idx], params)
            for j, i in enumerate(idx):
                results[i] = outs[j]
        return results

    def generation_kwargs(self, params: GenParams) -> dict[str, Any]:
        """Arguments for ``model.generate`` (the raw-transformers equivalent of ``params``)."""
        sample = params.temperature > 0
        kwargs: dict[str, Any] = {
            "max_new_tokens": params.max_new_tokens,
            "do_sample": sample,
            "num_return_sequences": params.n,
            "pad_token_id": self.tokenizer.pad_token_id,
            "temperature": params.temperature if sample else None,
            "top_p": params.top_p if sample else None,
            "top_k": 0 if sample else None,  # no hidden top-k: the distribution GenParams names
        }
        stop_ids = self._stop_token_ids(params.stop)
        if stop_ids:  # a stop string that is one whole token ends generation like EOS does
            kwargs["eos_token_id"] = sorted(self.eos_ids | stop_ids)
        rest = [s for s in params.stop if self.tokenizer.convert_tokens_to_ids(s) not in stop_ids]
        if rest:
            kwargs.update(stop_strings=rest, tokenizer=self.tokenizer)
        if params.logprobs:
            kwargs.update(return_dict_in_generate=True, output_logits=True)
        if self.device.type == "cuda":
            kwargs["cache_implementation"] = "static"
        return kwargs

    def generate_texts(self, texts: Sequence[str], params: GenParams) -> list[list[Generation]]:
        """Generate for already-rendered prompt texts (one batch).

        A seed applies inside a forked RNG, so generation never disturbs the caller's (e.g. a
        trainer's) random state.
        """
        enc = self._encode(texts)
        return self._generate(enc["input_ids"], enc["attention_mask"], params)

    def generate_ids(self, prompts: Sequence[Sequence[int]], params: GenParams
                     ) -> list[list[Generation]]:
        """Generate for prompts given as token ids, left-padded into one batch: the per-step
        loop continues from spliced ids this way, never from re-tokenised text."""
        torch = self._torch
        width, pad = max(len(p) for p in prompts), self.tokenizer.pad_token_id
        ids = torch.tensor([[pad] * (width - len(p)) + list(p) for p in prompts])
        mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
        return self._generate(ids.to(self.device), mask.to(self.device), params)

    def _generate(self, input_ids: Any, attention_mask: Any, params: GenParams
                  ) -> list[list[Generation]]:
        torch = self._torch
        enc = {"input_ids": input_ids, "attention_mask": attention_mask}
        devices = [self.device] if self.device.type == "cuda" else []
        with torch.random.fork_rng(devices=devices), torch.inference_mode():
            if params.seed is not None:
                torch.manual_seed(params.seed)
            out = self.model.generate(**enc, **self.generation_kwargs(params))
        sequences = out.sequences if params.logprobs else out
        new = sequences[:, enc["input_ids"].shape[1] :]
        logps = None
        if params.logprobs:  # the chosen token's logprob per step, one step at a time
            logps = torch.stack([
                torch.log_softmax(step.float(), dim=-1).gather(1, new[:, k : k + 1]).squeeze(1)
                for k, step in enumerate(out.logits)
            ], dim=1).tolist()
        gens: list[list[Generation]] = [[] for _ in range(input_ids.shape[0])]
        for row, ids in enumerate(new.tolist()):
            gens[row // params.n].append(self._finish(ids, params, logps[row] if logps else None))
        return gens

    def _stop_token_ids(self, stops: Sequence[str]) -> set[int]:
        """Ids of the stop strings that are single vocabulary tokens decoding to themselves."""
        vocab = self.tokenizer.get_vocab()
        return {vocab[s] for s in stops if s in vocab
                and self.tokenizer.decode([vocab[s]]).strip() == s.strip()}

    def _finish(self, ids: list[int], params: GenParams, logps: list[float] | None) -> Generation:
        ended = False
        sampled = ids
        reason: str | None = None
        stop_ids = {i: s for s in params.stop for i in self._stop_token_ids([s])}
        ends = self.eos_ids | set(stop_ids)
        for k, tok in enumerate(ids):
            if tok in ends or tok == self.tokenizer.pad_token_id:
                ids, sampled, ended = ids[:k], ids[:k + 1], True
                reason = stop_ids.get(tok, "eos")
                break
        text = self.tokenizer.decode(ids, skip_special_tokens=True)
        cuts = [(c, stop) for c, stop in ((text.find(stop), stop) for stop in params.stop)
                if c >= 0]
        if cuts:
            cut, stop = min(cuts)
            sampled = self._ids_covering(ids, cut + len(stop))
            text, ended, reason = text[:cut], True, stop
            ids = self._ids_covering(ids, len(text))
        tokens = lps = None
        if logps is not None:
            tokens = tuple(self.tokenizer.convert_ids_to_tokens(ids))
            lps = tuple(logps[: len(ids)])
        return Generation(text=text, finish_reason="stop" if ended else "length",
                          tokens=tokens, logprobs=lps, token_ids=tuple(sampled),
                          stop_reason=reason)

    def _ids_covering(self, ids: list[int], n_chars: int) -> list[int]:
        """The shortest prefix of ``ids`` whose text covers the first ``n_chars`` characters."""
        lo, hi = 0, len(ids)
        while lo < hi:  # decoded length grows with the prefix: binary search
            mid = (lo + hi) // 2
            if len(self.tokenizer.decode(ids[:mid], skip_special_tokens=True)) >= n_chars:
                hi = mid
            else:
                lo = mid + 1
        return ids[:lo]

    # ----- scoring ---------------------------------------------------------------------------
    def score(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        """Sum of token log-probabilities of each continuation after the rendered prompt."""
        if not continuations:
            return []
        torch = self._torch
        # Tokenisers attach a space to the word after it: "is " + "Paris" must be scored as
        # "is" + " Paris", or the continuation starts with an unnatural token.
        rendered = self.render(prompt)
        head = rendered.rstrip(" ")
        space = rendered[len(head):]
        prefix = self.tokenizer(head, add_special_tokens=False)["input_ids"]
        conts = [self.tokenizer(space + c, add_special_tokens=False)["input_ids"]
                 for c in continuations]
        if any(not c for c in conts):
            raise BadInputError("score: every continuation must be non-empty")
        width = len(prefix) + max(len(c) for c in conts)
        pad = self.tokenizer.pad_token_id
        ids = torch.full((len(conts), width), pad, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for i, c in enumerate(conts):
            row = prefix + c
            ids[i, : len(row)] = torch.tensor(row)
            mask[i, : len(row)] = 1
        with torch.inference_mode():
            logits = self.model(input_ids=ids.to(self.device),
                                attention_mask=mask.to(self.device)).logits.float()
        logp = torch.log_softmax(logits[:, :-1], dim=-1)
        scores = []
        for i, c in enumerate(conts):
            pos = torch.arange(len(prefix) - 1, len(prefix) - 1 + len(c), device=logp.device)
            scores.append(float(logp[i, pos, torch.tensor(c, device=logp.device)].sum()))
        return scores

    def next_token_logprobs(self, texts: Sequence[str]) -> torch.Tensor:
        """Float[Tensor, "batch vocab"] on CPU: log P(next token) after each rendered text,
        from one left-padded forward pass (position ids count real tokens only)."""
        torch = self._torch
        enc = self._encode(texts)
        positions = (enc["attention_mask"].cumsum(-1) - 1).clamp(min=0)
        with torch.inference_mode():
            logits = self.model(input_ids=enc["input_ids"], attention_mask=enc["attention_mask"],
                                position_ids=positions).logits[:, -1].float()
        return torch.log_softmax(logits, dim=-1).cpu()

    # ----- activations -----------------------------------------------------------------------
    def module(self, path: str) -> Any:
        """The submodule at ``path`` (e.g. ``model.layers.3``); a clear error if unknown."""
        modules = dict(self.model.named_modules())
        if path not in modules:
            close = difflib.get_close_matches(path, modules, n=3)
            hint = f"; did you mean {', '.join(close)}?" if close else ""
            raise BadInputError(f"model '{self.spec}' has no module '{path}'{hint}")
        return modules[path]

    @contextlib.contextmanager
    def capture(self, paths: Sequence[str]) -> Iterator[dict[str, list[torch.Tensor]]]:
        """Record the output of each module in ``paths`` on every forward pass inside the block.

        Yields ``{path: [tensor per forward pass]}``; tensors are detached, on CPU.
        """
        store: dict[str, list[Any]] = {p: [] for p in paths}
        handles = []

        def hook_for(path: str) -> Any:
            def hook(_module: Any, _inputs: Any, output: Any) -> None:
                tensor = output[0] if isinstance(output, tuple) else output
                store[path].append(tensor.detach().to("cpu"))

            return hook

        try:
            for p in paths:
                handles.append(self.module(p).register_forward_hook(hook_for(p)))
            yield store
        finally:
            for h in handles:
                h.remove()

    def activations(self, prompts: Sequence[Prompt | str],
                    paths: Sequence[str]) -> list[dict[str, torch.Tensor]]:
        """One forward pass per prompt; for each, ``{path: Float[Tensor, "seq d"]}``.

        A ``str`` is used as raw text; a ``Prompt`` is rendered with the chat template first.
        """
        torch = self._torch
        results = []
        for p in prompts:
            text = p if isinstance(p, str) else self.render(p)
            enc = self._encode([text])
            with self.capture(paths) as store, torch.inference_mode():
                self.model(**enc)
            results.append({k: v[0][0] for k, v in store.items()})
        return results

    def info(self) -> dict[str, Any]:
        return {
            "spec": self.spec,
            "backend": "hf",
            "class": type(self.model).__name__,
            "dtype": str(next(self.model.parameters()).dtype).removeprefix("torch."),
            "device": str(self.device),
            "parameters": sum(p.numel() for p in self.model.parameters()),
            **self.source,
        }


if TYPE_CHECKING:
    def _is_local_model(model: HFModel) -> LocalModel:  # mypy checks HFModel implements it
        return model


def _device() -> str:
    torch = _import_torch()
    return "cuda" if torch.cuda.is_available() else "cpu"


def load_hf(rest: str, spec: str) -> HFModel:
    """``hf:<local dir or hub id>[@dtype]``. A local path that does not exist is an error."""
    name, option = split_option(rest)
    torch = _import_torch()
    from transformers import AutoModelForCausalLM, AutoTokenizer

    looks_local = name.startswith((".", "/", "~")) or os.path.exists(name)
    if looks_local and not os.path.isdir(os.path.expanduser(name)):
        raise BadInputError(f"hf model directory '{name}' does not exist")
    path = os.path.expanduser(name)
    if looks_local and not os.path.isfile(os.path.join(path, "config.json")):
        raise BadInputError(f"hf model directory '{name}' has no config.json")
    device = _device()
    dtype = pick_dtype(option, device == "cuda")
    try:
        tokenizer = AutoTokenizer.from_pretrained(path)
        model: Any = AutoModelForCausalLM.from_pretrained(path, dtype=getattr(torch, dtype))
    except (OSError, ValueError, KeyError) as e:
        raise BadInputError(f"cannot load hf model '{name}': {str(e).splitlines()[0]}") from None
    source = {"source": path, "fingerprint": fingerprint(path) if looks_local else None}
    return HFModel(model.to(device), tokenizer, spec, source)


def dequantize_gguf(path: str, dtype: str) -> tuple[Any, Any]:
    """Load a GGUF file into a plain (trainable, saveable, hookable) model and its tokenizer."""
    torch = _import_torch()
    try:
        import gguf  # noqa: F401
    except ImportError:
        raise MissingDependencyError("gguf", "hf", "gguf: models") from None
    from transformers import AutoModelForCausalLM, AutoTokenizer

    folder, file = os.path.dirname(os.path.abspath(path)), os.path.basename(path)
    tokenizer = AutoTokenizer.from_pretrained(folder, gguf_file=file)
    loaded = AutoModelForCausalLM.from_pretrained(folder, gguf_file=file, dtype=torch.float32)
    config = loaded.config
    if hasattr(config, "quantization_config"):
        del config.quantization_config
    plain = type(loaded)(config)
    plain.load_state_dict(loaded.state_dict())
    if getattr(config, "tie_word_embeddings", False):
        plain.tie_weights()
    return plain.to(getattr(torch, dtype)), tokenizer


def load_gguf(rest: str, spec: str) -> HFModel:
    """``gguf:<file.gguf>[@dtype]``: transformers ``gguf_file=``, de-quantised."""
    name, option = split_option(rest)
    path = os.path.expanduser(name)
    if not os.path.isfile(path):
        raise BadInputError(f"gguf file '{name}' does not exist")
    device = _device()
    try:
        model, tokenizer = dequantize_gguf(path, pick_dtype(option, device == "cuda"))
    except (OSError, ValueError, KeyError) as e:
        raise BadInputError(f"cannot load gguf file '{name}': {str(e).splitlines()[0]}") from None
    return HFModel(model.to(device), tokenizer, spec,
                   {"source": os.path.abspath(path), "fingerprint": fingerprint(path)})


def save_pretrained_atomic(model: Any, tokenizer: Any, target: Path,
                           extra: dict[str, str] | None = None, overwrite: bool = True) -> Path:
    """Save ``model`` and ``tokenizer`` (and ``extra`` text files) as a HF directory at
    ``target`` through a temporary sibling, so a kill never leaves a half-written model.
    ``overwrite=False``: if another process got there first, keep its copy."""
    import shutil
    import tempfile

    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=target.parent, prefix=f".{target.name}-"))
    umask = os.umask(0o022)
    os.umask(umask)
    os.chmod(tmp, 0o777 & ~umask)  # mkdtemp's 0700 would hide the model from colleagues
    try:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        for name, text in (extra or {}).items():
            (tmp / name).write_text(text, encoding="utf-8")
        if overwrite and target.exists():
            shutil.rmtree(target)
        try:
            os.replace(tmp, target)
        except OSError:  # not overwriting, and another process saved it first
            if overwrite or not (target / "config.json").is_file():
                raise
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return target
