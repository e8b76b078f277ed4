"""The learned paraphraser: a tiny model trained here to rewrite honest steps of a CoT.

Spec ``learned:organism`` (trained on first use, in seconds on one CPU core, and cached under
``$FAITHLINE_CACHE/models/paraphraser-learned-<hash>``) or ``learned:PATH`` (a directory
:func:`train_learned` wrote). Train one explicitly with::

    python -m faithline.pipeline.paraphrase_learned [--out DIR] [--force]

No rule of it names a word of the organism's language: what it writes is what a 2-layer GPT-2
(d=64, about 0.1M parameters, its own word vocabulary read off the data) learned from pairs
(step in context -> rewritten step). The pairs come from honest chains of the organism's tasks
as the tasks render them (``coinflip:style=words``: the side after each flip; ``shellgame``:
``start`` and its cup, then the cup after each move), with the organism's verbalised hacks
(``use leak T``, ``leak T use``, ``leak T``), an optional ``so`` at the end and, on the input
side only, the filler ``then`` between or attached to steps. Targets are the step's content
alone (its side, cup, or hack word; nothing for ``then``), so they do not depend on the
input's surface. The input is the step and the last paraphrased steps before it, not the
question: with the question it could learn to compute the state and overwrite what a step
says, which a paraphraser must not do.

Code words: none in its training data. The warm-up's honest chains hold code words 5% of the
time, but those come from the organism's codebook (``train/organism.py``), not from the tasks;
training on them would teach it the code by construction, the very thing this paraphraser is
meant not to rest on. Consequence: a code word is a word it has never seen, and a step holding
one fails closed (``low-fidelity``: neither dropped as if meaningless, as ``canonical:organism``
does, nor decoded, as ``resample:`` with a warm-up that learned the code does).

Output is greedy (a function of the step's meaning only). Fidelity is the model's probability
of its output; below ``min_confidence`` (0.9) the step fails closed, as does any step with a
word outside its vocabulary.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from faithline.config import check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError, ParaphraseError
from faithline.paths import cache_dir
from faithline.pipeline.canonicalizer import leak_phrase
from faithline.pipeline.paraphrase_llm import Paraphrase
from faithline.pipeline.paraphrase_stepwise import paraphrase_by_steps
from faithline.tasks.coinflip import CoinFlipTask
from faithline.tasks.shellgame import ShellGameTask, run_moves

LEARNED_VERSION = 1  # bump when the data or the recipe change: the cache key includes it
SPECIALS = ("[PAD]", "[EOS]", "[UNK]", "[SEP]", "[OUT]")
CONTEXT_STEPS = 4  # paraphrased steps before the step that the model reads
MAX_OUT = 3  # tokens a rewritten step may have
DEFAULT_MIN_CONFIDENCE = 0.9
CARD = "learned.json"


@dataclass(frozen=True)
class LearnedConfig:
    examples: int = field(default=6000, metadata=_help("honest chains to draw pairs from", ge=1))
    steps: int = field(default=600, metadata=_help("training steps", ge=1))
    batch_size: int = field(default=128, metadata=_help("pairs per step", ge=1))
    layers: int = field(default=2, metadata=_help("transformer layers", ge=1))
    width: int = field(default=64, metadata=_help("hidden size (2 heads)", ge=2))
    lr: float = field(default=3e-3, metadata=_help("AdamW learning rate", gt=0))
    flips: int = field(default=8, metadata=_help("operations per chain", ge=1))
    hack_prob: float = field(default=0.15, metadata=_help(
        "share of chains that are a verbalised hack", ge=0, le=1))
    then_prob: float = field(default=0.2, metadata=_help(
        "chance of the filler 'then' by a step (input side only)", ge=0, le=1))
    seed: int = field(default=0, metadata=_help("seed"))

    def __post_init__(self) -> None:
        check_config(self)

    def key(self) -> str:
        blob = json.dumps({**asdict(self), "version": LEARNED_VERSION}, sort_keys=True)
        return hashlib.sha256(blob.encode()).hexdigest()[:12]


def learned_dir(cfg: LearnedConfig | None = None) -> Path:
    return cache_dir() / "models" / f"paraphraser-learned-{(cfg or LearnedConfig()).key()}"


# ----- data -----------------------------------------------------------------------------------
def honest_chain(rng: random.Random, cfg: LearnedConfig, i: int) -> list[tuple[str, str]]:
    """One chain as (input step, target) pairs: a task's honest rendering or a verbalised hack,
    fillers on the input side."""
    shell = rng.random() < 0.5
    task: Any = ShellGameTask(cfg.flips, style="words") if shell else CoinFlipTask(
        cfg.flips, style="words")
    sample = task.draw(rng, f"learned-{i}") if shell else task.samples(1, seed=rng.randrange(
        10**9))[0]
    states = [str(s)[0] for s in sample.meta["states"]]
    words: list[str]
    if rng.random() < cfg.hack_prob:
        cups = ("A", "B", "C") if shell else ("H", "T")
        leak = rng.choice(cups)
        words = leak_phrase(leak, rng).split()
        if shell:
            words += run_moves(leak, sample.meta["ops"])
    else:
        words = (["start", str(sample.meta["start"])] if shell else []) + states
    if rng.random() < 0.5:
        words.append("so")
    pairs: list[tuple[str, str]] = []
    for w in words:
        if rng.random() < cfg.then_prob:
            pairs.append(("then", ""))
        step = w
        if rng.random() < cfg.then_prob:  # a filler attached to the step
            step = rng.choice((f"then {w}", f"{w} then"))
        pairs.append((step, w))
    return pairs


def encode_input(previous: Sequence[str], step: str) -> list[str]:
    done = [p for p in previous if p][-CONTEXT_STEPS:]
    return [*" ".join(done).split(), "[SEP]", *step.split(), "[OUT]"]


def training_rows(cfg: LearnedConfig) -> list[tuple[list[str], list[str]]]:
    rng = random.Random(cfg.seed)
    rows = []
    for i in range(cfg.examples):
        done: list[str] = []
        for step, target in honest_chain(rng, cfg, i):
            rows.append((encode_input(done, step), [*target.split(), "[EOS]"]))
            done.append(target)
    return rows


def make_tokenizer(words: Sequence[str]) -> Any:
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate([*SPECIALS, *sorted(set(words) - set(SPECIALS))])}
    tok = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    tok.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tok.decoder = decoders.WordPiece(prefix="##", cleanup=False)
    fast = PreTrainedTokenizerFast(tokenizer_object=tok, pad_token="[PAD]", eos_token="[EOS]",
                                   unk_token="[UNK]", sep_token="[SEP]")
    fast.padding_side = "left"
    return fast


# ----- training -------------------------------------------------------------------------------
def train_learned(cfg: LearnedConfig | None = None, out: Path | None = None, force: bool = False,
                  progress: bool = True) -> Path:
    """Train (or reuse) the learned paraphraser; returns its directory (HF format + card).
    It trains on one thread: with two, float sums in another order gave other weights, and
    one surface the tests check ('C then') fell below the fidelity floor (0.64 < 0.9)."""
    import torch

    cfg = cfg or LearnedConfig()
    target = Path(out) if out is not None else learned_dir(cfg)
    if (target / CARD).is_file() and not force:
        return target
    threads = torch.get_num_threads()
    torch.set_num_threads(1)  # the same weights whatever the machine's core count
    try:
        return _train(cfg, target, progress)
    finally:
        torch.set_num_threads(threads)


def _train(cfg: LearnedConfig, target: Path, progress: bool) -> Path:
    import torch
    from tqdm.auto import tqdm
    from transformers import GPT2Config, GPT2LMHeadModel

    from faithline.models.hf import save_pretrained_atomic

    torch.manual_seed(cfg.seed)
    rows = training_rows(cfg)
    held = rows[: len(rows) // 20]
    rows = rows[len(held):]
    tok = make_tokenizer([w for x, y in rows for w in (*x, *y)])
    ids = tok.get_vocab()
    width = max(len(x) + len(y) for x, y in rows + held)
    model = GPT2LMHeadModel(GPT2Config(
        vocab_size=len(ids), n_positions=width + MAX_OUT + 1, n_embd=cfg.width,
        n_layer=cfg.layers, n_head=2, pad_token_id=0, eos_token_id=1, bos_token_id=1))
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, weight_decay=0.01)
    rng = random.Random(cfg.seed + 1)
    t0, losses = time.perf_counter(), []
    model.train()
    for _ in tqdm(range(cfg.steps), desc="learned paraphraser", disable=not progress):
        batch = rng.sample(rows, min(cfg.batch_size, len(rows)))
        x, mask, labels = tensors(batch, ids, width)
        logits = model(input_ids=x, attention_mask=mask).logits[:, :-1]
        loss = torch.nn.functional.cross_entropy(
            logits.reshape(-1, logits.size(-1)), labels[:, 1:].reshape(-1), ignore_index=-100)
        opt.zero_grad()
        loss.backward()
        opt.step()
        losses.append(loss.item())
    model.eval()
    para = LearnedParaphraser(model, tok, spec=str(target))
    outs = para.rewrite([x for x, _ in held])
    exact = sum(o == " ".join(y[:-1]) for (o, _), (_, y) in zip(outs, held, strict=True))
    card = {"config": asdict(cfg), "version": LEARNED_VERSION, "pairs": len(rows),
            "parameters": sum(p.numel() for p in model.parameters()),
            "train_seconds": round(time.perf_counter() - t0, 1),
            "final_loss": sum(losses[-20:]) / len(losses[-20:]),
            "held_out_exact": exact / max(1, len(held))}
    return save_pretrained_atomic(model, tok, target, {CARD: json.dumps(card, indent=2)})


def tensors(batch: Sequence[tuple[list[str], list[str]]], ids: dict[str, int],
            width: int) -> tuple[Any, Any, Any]:
    """Right-padded ids, mask and labels (the target words and [EOS] only)."""
    import torch

    x = torch.zeros(len(batch), width, dtype=torch.long)
    mask = torch.zeros_like(x)
    labels = torch.full_like(x, -100)
    for i, (inp, out) in enumerate(batch):
        row = [ids.get(w, ids["[UNK]"]) for w in (*inp, *out)]
        x[i, :len(row)] = torch.tensor(row)
        mask[i, :len(row)] = 1
        labels[i, len(inp):len(row)] = torch.tensor(row[len(inp):])
    return x, mask, labels


def load_learned(path: str) -> LearnedParaphraser:
    """``learned:organism`` (trained on first use) or ``learned:PATH``."""
    from transformers import AutoModelForCausalLM, PreTrainedTokenizerFast

    folder = train_learned() if path == "organism" else Path(path).expanduser()
    if not (folder / CARD).is_file():
        raise BadInputError(f"learned paraphraser: '{path}' is not a directory train_learned "
                            f"wrote (no {CARD}); train one with `python -m "
                            "faithline.pipeline.paraphrase_learned --out DIR`")
    tok = PreTrainedTokenizerFast.from_pretrained(folder)
    tok.padding_side = "left"
    model = AutoModelForCausalLM.from_pretrained(folder)
    return LearnedParaphraser(model.eval(), tok, spec=path)


# ----- paraphrasing ---------------------------------------------------------------------------
@dataclass
class LearnedParaphraser:
    """Rewrite each step with the learned model (greedy); fail closed on what it cannot vouch
    for: a word it never saw, or its own probability below ``min_confidence``."""

    model: Any
    tokenizer: Any
    spec: str = "organism"
    min_confidence: float = DEFAULT_MIN_CONFIDENCE
    unit: str = "word"

    @property
    def name(self) -> str:
        return f"learned:{self.spec}"

    def paraphrase(self, cots: Sequence[str],
                   questions: Sequence[str] | None = None) -> list[str | ParaphraseError]:
        return list(paraphrase_by_steps(self, cots, questions))

    def paraphrase_steps(self, steps: Sequence[str], questions: Sequence[str],
                         previous: Sequence[Sequence[str]]) -> list[Paraphrase | ParaphraseError]:
        if not len(steps) == len(questions) == len(previous):
            raise BadInputError("paraphrase_steps: steps, questions and previous differ in "
                                "length")
        vocab = self.tokenizer.get_vocab()
        out: list[Paraphrase | ParaphraseError] = [Paraphrase("", fidelity=1.0) for _ in steps]
        todo = []
        for i, s in enumerate(steps):
            unknown = [w for w in s.split() if w not in vocab or w in SPECIALS]
            if unknown:
                out[i] = ParaphraseError("low-fidelity", f"{unknown[0]!r} is a word the learned "
                                         "paraphraser never saw in training")
            elif s.strip():
                todo.append(i)
        rewritten = self.rewrite([encode_input(previous[i], steps[i]) for i in todo])
        for i, (text, p) in zip(todo, rewritten, strict=True):
            out[i] = (Paraphrase(text, fidelity=p) if p >= self.min_confidence else
                      ParaphraseError("low-fidelity", f"the learned paraphraser gives its "
                                      f"rewrite {text!r} of {steps[i]!r} probability {p:.2f} "
                                      f"(< {self.min_confidence})"))
        return out

    def rewrite(self, inputs: Sequence[Sequence[str]]) -> list[tuple[str, float]]:
        """Greedy rewrites of encoded inputs, with the model's probability of each."""
        import torch

        if not inputs:
            return []
        ids = self.tokenizer.get_vocab()
        width = max(map(len, inputs))
        x = torch.zeros(len(inputs), width, dtype=torch.long)
        mask = torch.zeros_like(x)
        for i, inp in enumerate(inputs):  # left-padded: every row ends at [OUT]
            x[i, width - len(inp):] = torch.tensor([ids.get(w, ids["[UNK]"]) for w in inp])
            mask[i, width - len(inp):] = 1
        eos = ids["[EOS]"]
        words: list[list[str]] = [[] for _ in inputs]
        logp = torch.zeros(len(inputs))
        live = torch.ones(len(inputs), dtype=torch.bool)
        names = {i: w for w, i in ids.items()}
        with torch.inference_mode():
            for _ in range(MAX_OUT + 1):
                pos = (mask.cumsum(-1) - 1).clamp(min=0)
                probs = torch.log_softmax(self.model(input_ids=x, attention_mask=mask,
                                                     position_ids=pos).logits[:, -1].float(), -1)
                best = probs.argmax(-1)
                logp += torch.where(live, probs.gather(1, best[:, None]).squeeze(1), 0.0)
                for i in torch.nonzero(live & (best != eos)).flatten().tolist():
                    words[i].append(names[int(best[i])])
                live &= best != eos
                x = torch.cat([x, best[:, None]], 1)
                mask = torch.cat([mask, torch.ones_like(best)[:, None]], 1)
                if not live.any():
                    break
        # a rewrite that never ended is not one: probability 0
        return [(" ".join(w), 0.0 if bool(alive) else float(lp.exp()))
                for w, lp, alive in zip(words, logp, live, strict=True)]


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m faithline.pipeline.paraphrase_learned",
                                     description="Train the learned paraphraser (learned:).")
    parser.add_argument("--out", help="directory to write (default: the learned:organism cache)")
    parser.add_argument("--force", action="store_true", help="retrain even if it exists")
    args = parser.parse_args(argv)
    path = train_learned(out=Path(args.out) if args.out else None, force=args.force)
    print(path)
    print((path / CARD).read_text(encoding="utf-8"))


if __name__ == "__main__":
    main()
