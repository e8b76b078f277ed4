"""``faithline interp describe``: automatic descriptions of units, scored against a baseline.

    faithline interp describe runs/cf/sae-l14 --units top:16 --explainer builtin:smollm2-135m
    faithline interp describe runs/cf/acts --path model.layers.5.mlp.act_fn --units 0,17,301

A *unit* is an SAE feature (first argument an SAELens directory trained on a store: units are
its features on the store's activations) or a plain neuron (first argument a store and
``--path``: units are that module's output columns, e.g. MLP neurons). As in Transluce's neuron
descriptions and EleutherAI's delphi, for each unit:

1. exemplars from reasoning traces: the windows around the top-activating token of the most
   activating transcripts (one per transcript), and windows at random tokens; half of each go
   to the explainer, half are held out for scoring;
2. the explainer (any model spec) reads the explain half, activating tokens marked with their
   strength 1-9 (``[[word:7]]``), and writes a short description;
3. detection: a local scorer model reads the description and a held-out window and says
   whether the unit fires in it (P(Yes) from one forward pass); score = AUROC against "the
   unit's maximum in the window is above zero";
4. simulation: the scorer predicts, from the description alone, the activation (0-9) of every
   token of each held-out window, in one forward pass per window (the "all at once" simulator:
   expected digit under the next-token distribution after each ``token<TAB>``); score = Pearson
   correlation of simulated with real activations over all held-out tokens.

The baseline scores every unit with *another* unit's description (a seeded derangement). The
result, ``descriptions.json``, is written next to the SAE (or in ``--out``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faithline.config import SEED, check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError
from faithline.interp.align import SEGMENTS
from faithline.interp.splits import paired_ci
from faithline.interp.store import ActivationStore, Record
from faithline.io import read_json, write_json_atomic
from faithline.models.base import local_or_none
from faithline.types import GenParams, Prompt

SCHEMA = "faithline.descriptions/1"
EXPLAIN_SYSTEM = ("You explain what a neuron in a language model responds to. You see text "
                  "excerpts; tokens where the neuron fires are marked like [[word:7]] with its "
                  "strength from 1 to 9. Reply with one short phrase.")



@dataclass(frozen=True)
class DescribeConfig:
    """Settings of one description run; stored in descriptions.json."""

    source: str = field(metadata=_help(
        "an SAELens SAE directory trained by faithline interp sae, or an activation store"))
    store: str = field(default="", metadata=_help(
        "activation store (default: the store the SAE was trained on)"))
    path: str = field(default="", metadata=_help(
        "module path whose outputs are the units (neurons); default: the SAE's path"))
    units: str = field(default="top:16", metadata=_help(
        "'top:N' (the N units that fire on most CoT tokens, excluding dense ones) or indices"))
    explainer: str = field(default="builtin:smollm2-135m", metadata=_help(
        "model spec that writes descriptions"))
    scorer: str = field(default="", metadata=_help(
        "local model spec for detection and simulation (default: the explainer)"))
    n_top: int = field(default=8, metadata=_help(
        "top-activating exemplars per unit (half explain, half score)", ge=2))
    n_random: int = field(default=8, metadata=_help(
        "random and silent exemplars per unit (half explain, half score)", ge=2))
    left: int = field(default=10, metadata=_help("tokens of context before the peak token",
                                                 ge=0))
    right: int = field(default=2, metadata=_help("tokens of context after the peak token", ge=0))
    segments: str = field(default="cot", metadata=_help(
        f"segments exemplars are drawn from: comma-separated of {', '.join(SEGMENTS)} or all"))
    max_density: float = field(default=0.2, metadata=_help(
        "top:N skips units active on more than this share of tokens", gt=0, le=1))
    seed: int = field(default=0, metadata=_help("seed of the random exemplars and shuffling",
                                                **SEED))
    out: str = field(default="", metadata=_help(
        "output file (default: descriptions.json in the SAE directory or the store)"))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above


@dataclass
class Exemplar:
    """A window of one transcript's tokens and the unit's activation on each."""

    record: str
    tokens: list[str]
    acts: list[float]

    @property
    def peak(self) -> float:
        return max(self.acts, default=0.0)


class Units:
    """Unit activations per record: SAE features of a stored path, or the path's columns."""

    def __init__(self, store: ActivationStore, path: str, sae: Any = None) -> None:
        self.store, self.path, self.sae = store, path, sae
        self.n_units = int(sae.cfg.d_sae) if sae is not None else store.dim(path)

    def of(self, rec: Record, units: Sequence[int] | None = None) -> np.ndarray:
        """Float[Array, "tokens units"] for one record (all units, or the given ones)."""
        rows = self.store.rows(rec, self.path)
        if self.sae is not None:
            from faithline.interp.sae import encode

            acts = encode(self.sae, rows)
        else:
            acts = rows
        return acts if units is None else acts[:, list(units)]


def _segment_mask(store: ActivationStore, rec: Record, segments: list[int] | None
                  ) -> np.ndarray:
    seg = store.rows(rec, "segment")
    mask = np.ones(len(seg), dtype=bool) if segments is None else np.isin(seg, segments)
    mask[:1] = False  # the attention-sink first token
    return mask


def choose_units(units: Units, spec: str, segments: list[int] | None, max_density: float,
                 progress: bool = False) -> tuple[list[int], dict[str, Any]]:
    """Units to describe: explicit indices, or ``top:N`` by firing frequency (not dense)."""
    from tqdm.auto import tqdm

    spec = spec.strip()
    if not spec.startswith("top:"):
        try:
            picks = [int(x) for x in spec.split(",") if x.strip()]
        except ValueError:
            raise BadInputError(f"--units must be 'top:N' or indices, got '{spec}'") from None
        bad = [u for u in picks if not 0 <= u < units.n_units]
        if bad or not picks:
            raise BadInputError(f"unit {bad[0] if bad else spec} is not in 0..{units.n_units - 1}")
        return picks, {}
    try:
        n = int(spec.removeprefix("top:"))
    except ValueError:
        raise BadInputError(f"--units must be 'top:N' or indices, got '{spec}'") from None
    fires = np.zeros(units.n_units)
    tokens = 0
    for rec in tqdm(units.store.records, desc="unit stats", disable=not progress):
        acts = units.of(rec)[_segment_mask(units.store, rec, segments)]
        fires += (acts > 0).sum(0)
        tokens += len(acts)
    density = fires / max(tokens, 1)
    ok = np.flatnonzero((density > 0) & (density <= max_density))
    order = ok[np.argsort(-density[ok], kind="stable")][:n]
    return order.tolist(), {"tokens": tokens, "density": {int(u): float(density[u])
                                                          for u in order}}


def collect_exemplars(units: Units, chosen: Sequence[int], cfg: DescribeConfig,
                      segments: list[int] | None, progress: bool = False
                      ) -> dict[int, dict[str, list[Exemplar]]]:
    """For each unit: ``top`` windows (one per transcript, strongest first), ``random``
    windows (at random tokens) and ``silent`` windows (random ones where the unit is never
    positive: the negatives of detection)."""
    from tqdm.auto import tqdm

    rng = np.random.default_rng(cfg.seed)
    recs = units.store.records
    peaks: dict[int, list[tuple[float, int, int]]] = {u: [] for u in chosen}
    visit = rng.permutation(len(recs))
    randoms: dict[int, list[Exemplar]] = {u: [] for u in chosen}
    silents: dict[int, list[Exemplar]] = {u: [] for u in chosen}
    for i in tqdm(visit.tolist(), desc="exemplars", disable=not progress):
        rec = recs[i]
        mask = _segment_mask(units.store, rec, segments)
        if not mask.any():
            continue
        acts = units.of(rec, chosen)
        masked = np.where(mask[:, None], acts, -np.inf)
        allowed = np.flatnonzero(mask)
        for j, u in enumerate(chosen):
            k = int(np.argmax(masked[:, j]))
            if masked[k, j] > 0:
                peaks[u].append((float(masked[k, j]), i, k))
            if len(randoms[u]) < cfg.n_random:
                randoms[u].append(_window(rec, acts[:, j], int(rng.choice(allowed)), cfg))
            if len(silents[u]) < cfg.n_random:
                quiet = [k for k in allowed.tolist()
                         if _window(rec, acts[:, j], k, cfg).peak <= 0]
                if quiet:
                    silents[u].append(_window(rec, acts[:, j], int(rng.choice(quiet)), cfg))
    out = {}
    for u in chosen:
        best = sorted(peaks[u], reverse=True)[: cfg.n_top]
        top = [_window(recs[i], units.of(recs[i], [u])[:, 0], k, cfg) for _, i, k in best]
        out[u] = {"top": top, "random": randoms[u], "silent": silents[u]}
    return out


def _window(rec: Record, acts: np.ndarray, k: int, cfg: DescribeConfig) -> Exemplar:
    lo, hi = max(1, k - cfg.left), min(rec.n, k + cfg.right + 1)
    return Exemplar(rec.id, rec.tokens[lo:hi], [float(a) for a in acts[lo:hi]])


def _digits(acts: Sequence[float], scale: float) -> list[int]:
    return [int(np.clip(round(9 * a / scale), 0, 9)) if scale > 0 and a > 0 else 0
            for a in acts]


def render_marked(ex: Exemplar, scale: float) -> str:
    """The window's text with firing tokens marked ``[[tok:7]]``."""
    parts = []
    for tok, d in zip(ex.tokens, _digits(ex.acts, scale), strict=True):
        if d > 0:
            lead = tok[: len(tok) - len(tok.lstrip())]
            body = tok.strip() or tok.replace("\n", "\\n") or " "
            parts.append(f"{lead if tok.strip() else ''}[[{body}:{d}]]")
        else:
            parts.append(tok)
    return "".join(parts).strip()


def explain_prompt(exemplars: Sequence[Exemplar], scale: float) -> Prompt:
    shown = "\n".join(f"Excerpt {i}: {render_marked(ex, scale)}"
                      for i, ex in enumerate(exemplars, 1))
    return Prompt.user(f"{shown}\n\nWhat does the neuron fire on? One short phrase.",
                       prefill="The neuron fires on", system=EXPLAIN_SYSTEM)


def clean_description(text: str) -> str:
    first = text.strip().splitlines()[0].strip() if text.strip() else ""
    return first.removeprefix(":").strip().rstrip(".")


class Scorer:
    """Detection and simulation with a local model, straight from its next-token logits."""

    def __init__(self, model: Any, batch_size: int = 8) -> None:
        local = local_or_none(model)
        if local is None:
            raise BadInputError(f"scorer '{model.spec}' must be a local model (hf:, gguf:, "
                                "builtin:) to read its next-token distributions")
        self.hf = local
        self.batch_size = batch_size
        self.yes = self._single_ids(("Yes", " Yes"))
        self.no = self._single_ids(("No", " No"))
        self.digits = [self._single_ids((str(d),)) for d in range(10)]
        if not (self.yes and self.no and all(self.digits)):
            raise BadInputError(f"scorer '{model.spec}' needs single-token 'Yes', 'No' and "
                                "digits 0-9")

    def _single_ids(self, words: Sequence[str]) -> list[int]:
        out = []
        for w in words:
            ids = self.hf.tokenizer(w, add_special_tokens=False)["input_ids"]
            if len(ids) == 1:
                out.append(int(ids[0]))
        return out

    def _enc(self, text: str) -> list[int]:
        return list(self.hf.tokenizer(text, add_special_tokens=False)["input_ids"])

    def _logprobs(self, seqs: Sequence[list[int]], positions: Sequence[list[int]]
                  ) -> list[np.ndarray]:
        """Log-softmax next-token distributions at ``positions`` of each sequence."""
        import torch

        out: list[np.ndarray] = [np.zeros(0)] * len(seqs)
        pad = self.hf.tokenizer.pad_token_id or 0
        order = sorted(range(len(seqs)), key=lambda i: len(seqs[i]))
        for start in range(0, len(order), self.batch_size):
            idx = order[start : start + self.batch_size]
            width = max(len(seqs[i]) for i in idx)
            ids = torch.full((len(idx), width), pad, dtype=torch.long)
            mask = torch.zeros_like(ids)
            for row, i in enumerate(idx):
                ids[row, : len(seqs[i])] = torch.tensor(seqs[i])
                mask[row, : len(seqs[i])] = 1
            with torch.inference_mode():
                logits = self.hf.model(input_ids=ids.to(self.hf.device),
                                       attention_mask=mask.to(self.hf.device),
                                       use_cache=False).logits
            for row, i in enumerate(idx):
                at = logits[row, positions[i]].float()
                out[i] = torch.log_softmax(at, dim=-1).cpu().numpy()
        return out

    def detect(self, description: str, exemplars: Sequence[Exemplar]) -> np.ndarray:
        """P(Yes) that the unit fires somewhere in each exemplar."""
        seqs = []
        for ex in exemplars:
            text = "".join(ex.tokens).strip()
            prompt = Prompt.user(f"A neuron fires on {description}.\n\nText: {text}\n\nDoes "
                                 "the neuron fire anywhere in this text? Answer Yes or No.",
                                 prefill="Answer:")
            seqs.append(self._enc(self.hf.render(prompt)))
        lps = self._logprobs(seqs, [[len(s) - 1] for s in seqs])
        yes = np.array([np.logaddexp.reduce(lp[0, self.yes]) for lp in lps])
        no = np.array([np.logaddexp.reduce(lp[0, self.no]) for lp in lps])
        return np.asarray(1 / (1 + np.exp(no - yes)))

    def simulate(self, description: str, exemplars: Sequence[Exemplar]) -> list[np.ndarray]:
        """Expected activation digit (0-9) of every token of each exemplar."""
        head = self.hf.render(Prompt.user(
            f"A neuron fires on {description}.\nFor each token of a text, guess the neuron's "
            "activation from 0 (silent) to 9 (strongest). One token per line: token, a tab, "
            "the activation."))
        seqs, positions = [], []
        for ex in exemplars:
            ids, pos = self._enc(head), []
            for tok in ex.tokens:
                shown = tok.replace("\n", "\\n").replace("\t", " ") or " "
                ids += self._enc(shown + "\t")
                pos.append(len(ids) - 1)
                ids += self._enc("?\n")
            seqs.append(ids)
            positions.append(pos)
        values = np.arange(10, dtype=float)
        out = []
        for lp in self._logprobs(seqs, positions):
            digit_lp = np.stack([np.logaddexp.reduce(lp[:, d], axis=1) for d in self.digits],
                                axis=1)
            p = np.exp(digit_lp - np.logaddexp.reduce(digit_lp, axis=1, keepdims=True))
            out.append(p @ values)
        return out


def score_description(scorer: Scorer, description: str, held: dict[str, list[Exemplar]]
                      ) -> dict[str, float]:
    """Detection AUROC (held-out top windows against silent ones) and simulation Pearson r
    (over every token of the held-out top and random windows) of one description."""
    from faithline.monitors.metrics import auroc

    if not description:
        return {"detection_auroc": float("nan"), "simulation_r": float("nan")}
    detect_set = held["top"] + held["silent"]
    p_yes = scorer.detect(description, detect_set)
    fires = np.array([ex.peak > 0 for ex in detect_set])
    sim_set = held["top"] + held["random"]
    sim = np.concatenate(scorer.simulate(description, sim_set))
    real = np.concatenate([np.asarray(ex.acts) for ex in sim_set])
    r = float(np.corrcoef(sim, real)[0, 1]) if sim.std() > 0 and real.std() > 0 else \
        float("nan")
    return {"detection_auroc": auroc(p_yes, fires), "simulation_r": r}


def derangement(n: int, seed: int) -> list[int]:
    """A seeded permutation with no fixed point (for n >= 2)."""
    if n < 2:
        raise BadInputError("the shuffled-descriptions baseline needs at least two units")
    rng = np.random.default_rng(seed)
    while True:
        perm = rng.permutation(n)
        if not np.any(perm == np.arange(n)):
            return [int(i) for i in perm]


def _source(cfg: DescribeConfig) -> tuple[ActivationStore, str, Any, Path]:
    """(store, path, sae or None, default output directory) for ``cfg.source``."""
    src = Path(cfg.source)
    if (src / "cfg.json").is_file():
        from faithline.interp.sae import load_sae, module_path_of

        sae = load_sae(src)
        meta_file = src / "faithline_sae.json"
        meta = read_json(meta_file) if meta_file.is_file() else {}
        store_dir = cfg.store or meta.get("store") or sae.cfg.metadata.get("faithline_store")
        if not store_dir:
            raise BadInputError(f"SAE '{src}' does not name its store; give --store")
        store = ActivationStore(store_dir)
        path = cfg.path or meta.get("path") or module_path_of(sae) or ""
        store.check_path(path)
        if store.dim(path) != int(sae.cfg.d_in):
            raise BadInputError(f"SAE '{src}' reads d_in={sae.cfg.d_in}, but '{path}' in the "
                                f"store has width {store.dim(path)}")
        return store, path, sae, src
    store = ActivationStore(src)
    if not cfg.path:
        raise BadInputError("describing neurons of a store needs --path (a stored module)")
    store.check_path(cfg.path)
    return store, cfg.path, None, src


def _segment_codes(spec: str) -> list[int] | None:
    if spec.strip() == "all":
        return None
    names = [s.strip() for s in spec.split(",") if s.strip()]
    bad = [s for s in names if s not in SEGMENTS]
    if bad or not names:
        raise BadInputError(f"unknown segment(s) {bad}; use {', '.join(SEGMENTS)} or all")
    return [SEGMENTS.index(s) for s in names]


def _mean_ci(values: Sequence[float]) -> dict[str, float]:
    arr = np.asarray([v for v in values if np.isfinite(v)], dtype=float)
    return paired_ci(lambda a: float(a.mean()) if len(a) else float("nan"), arr)


def describe_units(cfg: DescribeConfig, progress: bool = True) -> dict[str, Any]:
    """Describe, score and baseline the chosen units; write and return descriptions.json."""
    from tqdm.auto import tqdm

    from faithline.models import load_model

    store, path, sae, where = _source(cfg)
    segments = _segment_codes(cfg.segments)
    units = Units(store, path, sae)
    chosen, stats = choose_units(units, cfg.units, segments, cfg.max_density, progress)
    if len(chosen) < 2:
        raise BadInputError(f"only {len(chosen)} unit(s) to describe; need two or more for "
                            "the shuffled baseline")
    exemplars = collect_exemplars(units, chosen, cfg, segments, progress)
    explainer = load_model(cfg.explainer)
    scorer = Scorer(explainer if cfg.scorer in ("", cfg.explainer) else load_model(cfg.scorer))
    rows: list[dict[str, Any]] = []
    prompts: list[Prompt] = []
    helds: list[dict[str, list[Exemplar]]] = []
    for u in chosen:
        top, rand = exemplars[u]["top"], exemplars[u]["random"]
        scale = max((ex.peak for ex in top), default=0.0)
        shown = top[0::2] + rand[0::2]
        helds.append({k: v[1::2] for k, v in exemplars[u].items()})
        prompts.append(explain_prompt(shown, scale))
        rows.append({"unit": u, "max_activation": scale, "density": stats.get("density", {})
                     .get(u), "explain_exemplars": [render_marked(e, scale) for e in shown],
                     "top_exemplars": [asdict(e) for e in top]})
    params = GenParams(max_new_tokens=24, stop=("\n",))
    gens = explainer.generate(prompts, params)
    for row, g in zip(rows, gens, strict=True):
        row["description"] = clean_description(g[0].text)
    perm = derangement(len(rows), cfg.seed)
    for i, row in enumerate(tqdm(rows, desc="scoring", disable=not progress)):
        row.update(score_description(scorer, row["description"], helds[i]))
        other = rows[perm[i]]["description"]
        shuffled = score_description(scorer, other, helds[i])
        row["shuffled"] = {"from_unit": rows[perm[i]]["unit"], **shuffled}
        row["held_out"] = {k: len(v) for k, v in helds[i].items()}
    summary = {}
    for key in ("detection_auroc", "simulation_r"):
        real = [r[key] for r in rows]
        shuf = [r["shuffled"][key] for r in rows]
        diff = [a - b for a, b in zip(real, shuf, strict=True)]
        summary[key] = {"described": _mean_ci(real), "shuffled": _mean_ci(shuf),
                        "difference": _mean_ci(diff)}
    result = {"schema": SCHEMA, "source": str(where), "store": str(store.root), "path": path,
              "kind": "sae_feature" if sae is not None else "neuron",
              "explainer": cfg.explainer, "scorer": cfg.scorer or cfg.explainer,
              "config": asdict(cfg), "summary": summary, "units": rows}
    out = Path(cfg.out) if cfg.out else (where / "descriptions.json" if where.is_dir()
                                         else where.with_suffix(".descriptions.json"))
    out.parent.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out, result)
    _write_html(out.with_suffix(".html"), result, units, exemplars)
    result["out"] = str(out)
    return result


def _write_html(path: Path, result: dict[str, Any], units: Units,
                exemplars: dict[int, dict[str, list[Exemplar]]]) -> None:
    """descriptions.html: each unit's exemplars and its activation over its top transcript."""
    from faithline.interp.plots import descriptions_html

    by_id = {r.id: r for r in units.store.records}
    traces = {}
    for u, ex in exemplars.items():
        if ex["top"]:
            rec = by_id[ex["top"][0].record]
            traces[u] = (rec, units.of(rec, [u])[:, 0], units.store.rows(rec, "segment"))
    path.write_text(descriptions_html(result, traces), encoding="utf-8")
