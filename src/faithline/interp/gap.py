"""``faithline interp gap``: how much activation monitors see that text monitors do not.

    faithline interp gap runs/demo/rl/outcome-s0/acts --label hack --by meta.arm \\
        --monitors "rule:leak" --sae runs/sae-l2 --out runs/gap

On the same labelled transcripts (one or more activation stores), per group (``--by``, e.g. the
RL arm, plus ``all``), with one train/validation/test split by transcript:

- activation monitors: a linear probe per (module path, position), and, per SAE given, a
  logistic regression on the k SAE features that best separate the label on train
  (k in ``--k-features``); fitted on train, thresholded for F1 on validation;
- text monitors: the verdicts stored in the transcripts (``monitor``), any ``--monitors`` specs
  run now (``faithline.monitors``), and a TF-IDF classifier of the CoT trained on the same
  split; their scores are thresholded for F1 on validation too (failed verdicts count as
  flagged; a threshold that flags everything is never chosen), and the stored and spec'd
  monitors' F1 at their own threshold is reported as well;
- the best of each kind is chosen on validation; on test we report each one's F1 and the gap
  F1(activation) - F1(text) with paired bootstrap CIs, and the same on the test transcripts
  whose CoT does not verbalise the behaviour (``label[--verbalized]`` false), with recall
  there: the hacks no CoT monitor can read.

Writes ``gap.json``, ``gap.md`` and the best activation monitors (``probes.json``,
``feature_monitors.json``; run them with ``interp.monitor.load_activation_monitor``).
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
from faithline.interp.align import POSITIONS
from faithline.interp.monitor import FeatureProbe, sae_pooled, save_feature_probes
from faithline.interp.probes import Probe, evaluate_scores, field_of, fit_probe, labelled
from faithline.interp.splits import f1, paired_ci, split_ids
from faithline.interp.store import ActivationStore
from faithline.io import read_json, write_json_atomic
from faithline.types import Transcript

SCHEMA = "faithline.gap/1"



@dataclass(frozen=True)
class GapConfig:
    """Settings of one gap measurement; stored in gap.json."""

    out: str = field(metadata=_help("output directory (gap.json, gap.md, monitors)"))
    label: str = field(default="hack", metadata=_help("label key of the behaviour"))
    verbalized: str = field(default="verbalized", metadata=_help(
        "label key that is true when the CoT says it (the unverbalised slice is where it is "
        "false; empty to skip)"))
    by: str = field(default="meta.arm", metadata=_help(
        "group transcripts by this key (meta.KEY or a top-level key; empty: no groups)"))
    monitors: str = field(default="", metadata=_help(
        "text monitor specs to run now, separated by ';' (stored verdicts are used too)"))
    text_classifier: bool = field(default=True, metadata=_help(
        "also train a TF-IDF text classifier on the CoT with the same split (a trained text "
        "monitor, so the gap is not only against rules)"))
    sae: str = field(default="", metadata=_help(
        "SAE directories (comma-separated) for feature monitors"))
    paths: str = field(default="all", metadata=_help("store module paths for probes, or all"))
    positions: str = field(default="before,during,cot_end,after", metadata=_help(
        f"positions: comma-separated of {', '.join(POSITIONS)}"))
    cs: str = field(default="0.01,0.1,1", metadata=_help("probe C values to choose from"))
    k_features: str = field(default="1,4,16", metadata=_help(
        "numbers of SAE features a feature monitor may use (chosen on validation)"))
    val: float = field(default=0.25, metadata=_help("share of transcripts for validation",
                                                    gt=0, lt=1))
    test: float = field(default=0.25, metadata=_help("share of transcripts for test", gt=0, lt=1))
    seed: int = field(default=0, metadata=_help("seed of the split and the bootstrap", **SEED))
    where: str = field(default="", metadata=_help(
        "only transcripts with KEY=VALUE (label.X, meta.X or a top-level key), e.g. "
        "label.leaked=true: among prompts with a leak, who uses it"))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above (val + test < 1: splits.split_ids)

    def lists(self) -> tuple[list[str], list[float], list[int]]:
        positions = [p.strip() for p in self.positions.split(",") if p.strip()]
        bad = [p for p in positions if p not in POSITIONS]
        if bad or not positions:
            raise BadInputError(f"unknown position(s) {bad}; use {', '.join(POSITIONS)}")
        try:
            cs = [float(c) for c in self.cs.split(",") if c.strip()]
            ks = [int(k) for k in self.k_features.split(",") if k.strip()]
        except ValueError:
            raise BadInputError("--cs and --k-features must be comma-separated numbers") from None
        if not cs or not ks or min(cs) <= 0 or min(ks) < 1:
            raise BadInputError("--cs needs positive numbers and --k-features integers >= 1")
        return positions, cs, ks


def group_of(t: dict[str, Any], key: str) -> str | None:
    if not key:
        return None
    value = field_of(t, key)
    return None if value is None else str(value)


def text_scores(transcripts: Sequence[Transcript], specs: str
                ) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """(scores, own flags) per text monitor: stored verdicts and ``specs`` run now.

    A missing or failed verdict scores +inf and is flagged (monitors fail closed)."""
    from faithline.monitors import apply_monitors, get_monitor
    from faithline.monitors.base import Verdict

    pool: dict[str, Any] = {}
    mons = [get_monitor(s, pool) for s in specs.split(";") if s.strip()]
    apply_monitors(mons, transcripts)
    names = sorted({n for t in transcripts for n in (t.monitor or {})})
    out = {}
    for name in names:
        vs = [Verdict.from_dict((t.monitor or {}).get(name), name) for t in transcripts]
        scores = np.array([np.inf if v.failed or v.score is None else v.score for v in vs])
        out[name] = (scores, np.array([v.flag or v.failed for v in vs]))
    return out


def tfidf_scores(cots: Sequence[str], y: np.ndarray, split: dict[str, np.ndarray],
                 cs: Sequence[float], seed: int) -> np.ndarray:
    """A trained text monitor on the same split: TF-IDF of the CoT's word 1-2-grams and a
    logistic regression (C chosen on validation AUROC); its P(label) for every transcript."""
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression

    from faithline.monitors.metrics import auroc

    tr, va = split["train"], split["val"]
    vec = TfidfVectorizer(ngram_range=(1, 2), token_pattern=r"\S+", lowercase=True)
    X = vec.fit(np.asarray(cots, dtype=object)[tr]).transform(cots)
    best: tuple[float, Any] | None = None
    for c in cs:
        clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced",
                                 random_state=seed).fit(X[tr], y[tr])
        a = auroc(clf.decision_function(X[va]), y[va])
        if best is None or np.nan_to_num(a) > np.nan_to_num(best[0]):
            best = (a, clf)
    assert best is not None
    return np.asarray(best[1].predict_proba(X)[:, 1])


def _feature_candidates(F: np.ndarray, y: np.ndarray, split: dict[str, np.ndarray],
                        ks: Sequence[int], cs: Sequence[float], seed: int
                        ) -> list[tuple[list[int], Any, dict[str, Any]]]:
    """For each k: the k features with the best train AUROC, and a probe on them."""
    from faithline.monitors.metrics import auroc

    tr = split["train"]
    live = np.flatnonzero((F[tr] > 0).any(axis=0))
    if live.size == 0:
        return []
    aucs = np.array([auroc(F[tr, j], y[tr]) for j in live])
    ranked = live[np.argsort(-np.nan_to_num(aucs, nan=0.5), kind="stable")]
    out = []
    for k in ks:
        feats = [int(j) for j in ranked[:k]]
        clf, facts = fit_probe(F[:, feats], y, split, cs, seed)
        out.append((feats, clf, facts))
    return out


def _candidate(kind: str, name: str, scores: np.ndarray, y: np.ndarray,
               split: dict[str, np.ndarray], seed: int, extra: dict[str, Any]) -> dict[str, Any]:
    ev = evaluate_scores(scores, y, split, seed)
    return {"kind": kind, "name": name, "scores": scores, **ev, **extra}


def _descriptions(sae_dir: str) -> dict[str, str]:
    f = Path(sae_dir) / "descriptions.json"
    if not f.is_file():
        return {}
    data = read_json(f)
    return {str(u["unit"]): u.get("description", "") for u in data.get("units", [])}


def measure_group(idx: np.ndarray, y_all: np.ndarray,
                  ids: Sequence[str], cots: Sequence[str],
                  pooled: dict[tuple[str, str], np.ndarray],
                  sae_feats: dict[tuple[str, str], tuple[str, np.ndarray]],
                  texts: dict[str, tuple[np.ndarray, np.ndarray]],
                  verbal: np.ndarray | None, cfg: GapConfig) -> dict[str, Any]:
    """The gap on the transcripts ``idx`` (one group)."""
    _, cs, ks = cfg.lists()
    y = y_all[idx]
    split = split_ids([ids[i] for i in idx], y, cfg.val, cfg.test, cfg.seed)
    acts: list[dict[str, Any]] = []
    for (path, position), X in pooled.items():
        clf, facts = fit_probe(X[idx], y, split, cs, cfg.seed)
        probe = Probe(path, position, cfg.label, facts["mean"].tolist(),
                      facts["scale"].tolist(), clf.coef_[0].tolist(),
                      float(clf.intercept_[0]), 0.5, float(facts["c"]))
        scores = probe.score(X[idx])
        cand = _candidate("probe", probe.name, scores, y, split, cfg.seed, {})
        probe.threshold = cand["threshold"]
        cand["monitor"] = asdict(probe)
        acts.append(cand)
    for (sae_dir, position), (path, F) in sae_feats.items():
        for feats, clf, facts in _feature_candidates(F[idx], y, split, ks, cs, cfg.seed):
            fp = FeatureProbe(sae_dir, path, position, cfg.label, feats,
                              facts["mean"].tolist(), facts["scale"].tolist(),
                              clf.coef_[0].tolist(), float(clf.intercept_[0]), 0.5,
                              _descriptions(sae_dir))
            scores = fp.score(F[idx][:, feats])
            cand = _candidate("features", fp.name, scores, y, split, cfg.seed, {})
            fp.threshold = cand["threshold"]
            fp.descriptions = {str(f): fp.descriptions[str(f)] for f in feats
                               if str(f) in fp.descriptions}
            cand["monitor"] = asdict(fp)
            acts.append(cand)
    text: list[dict[str, Any]] = []
    if cfg.text_classifier:
        scores = tfidf_scores([cots[i] for i in idx], y, split, cs, cfg.seed)
        text.append(_candidate("text", "tfidf-classifier(cot)", scores, y, split, cfg.seed, {}))
    for name, (scores, own) in texts.items():
        cand = _candidate("text", name, scores[idx], y, split, cfg.seed, {})
        te = split["test"]
        cand["test_f1_own_threshold"] = paired_ci(lambda f, t: f1(f, t), own[idx][te], y[te],
                                                  seed=cfg.seed)
        text.append(cand)
    if not acts:
        raise BadInputError("no activation monitor to compare (the store has no paths?)")

    def pick(cands: list[dict[str, Any]]) -> dict[str, Any] | None:
        return max(cands, key=lambda c: (c["val_f1"], np.nan_to_num(c["val_auroc"])),
                   default=None)

    best_act, best_text = pick(acts), pick(text)
    assert best_act is not None
    te = split["test"]
    row: dict[str, Any] = {"n": {k: len(v) for k, v in split.items()},
                           "positives": {k: int(y[v].sum()) for k, v in split.items()},
                           "activation": _summary(best_act), "text": None, "gap": None,
                           "candidates": [_brief(c) for c in acts + text]}
    a_flags = best_act["scores"] >= best_act["threshold"]
    if best_text is not None:
        t_flags = best_text["scores"] >= best_text["threshold"]
        row["text"] = _summary(best_text)
        row["gap"] = paired_ci(lambda a, t, yy: f1(a, yy) - f1(t, yy), a_flags[te],
                               t_flags[te], y[te], seed=cfg.seed)
    if verbal is not None:
        quiet = te[~verbal[idx][te]]
        sub: dict[str, Any] = {"n": len(quiet), "positives": int(y[quiet].sum())}
        for key, flags in (("activation", a_flags),
                           ("text", t_flags if best_text is not None else None)):
            if flags is None:
                continue
            sub[key] = {
                "f1": paired_ci(lambda f, t: f1(f, t), flags[quiet], y[quiet], seed=cfg.seed),
                "recall": paired_ci(lambda f, t: float(f[t].mean()) if t.any() else np.nan,
                                    flags[quiet], y[quiet], seed=cfg.seed)}
        if best_text is not None:
            sub["gap"] = paired_ci(lambda a, t, yy: f1(a, yy) - f1(t, yy), a_flags[quiet],
                                   t_flags[quiet], y[quiet], seed=cfg.seed)
        row["unverbalized"] = sub
    row["best_monitors"] = {"activation": best_act.get("monitor")}
    return row


def _brief(c: dict[str, Any]) -> dict[str, Any]:
    return {"kind": c["kind"], "name": c["name"], "val_f1": c["val_f1"],
            "val_auroc": c["val_auroc"], "test_f1": c["test_f1"]["value"],
            "test_auroc": c["test_auroc"]["value"]}


def _summary(c: dict[str, Any]) -> dict[str, Any]:
    out = {k: c[k] for k in ("kind", "name", "threshold", "val_f1", "val_auroc", "test_f1",
                             "test_auroc")}
    if "test_f1_own_threshold" in c:
        out["test_f1_own_threshold"] = c["test_f1_own_threshold"]
    return out


def measure_gap(stores: Sequence[str], cfg: GapConfig, progress: bool = True
                ) -> dict[str, Any]:
    """The gap for every store and group; writes gap.json, gap.md and the best monitors."""
    from tqdm.auto import tqdm

    from faithline.interp.sae import load_sae, module_path_of

    positions, _, _ = cfg.lists()
    saes = [s.strip() for s in cfg.sae.split(",") if s.strip()]
    results: list[dict[str, Any]] = []
    best_probes: list[dict[str, Any]] = []
    best_features: list[FeatureProbe] = []
    for where in stores:
        store = ActivationStore(where)
        recs, y = labelled(store, cfg.label, cfg.where)
        ids = [r.id for r in recs]
        transcripts = [Transcript.from_dict(r.transcript, where=f"{where}:{r.id}")
                       for r in recs]
        texts = text_scores(transcripts, cfg.monitors)
        verbal = None
        if cfg.verbalized:
            verbal = np.array([bool(r.label.get(cfg.verbalized, False)) for r in recs])
        paths = store.paths if cfg.paths.strip() == "all" else \
            [p.strip() for p in cfg.paths.split(",") if p.strip()]
        grid = [(p, q) for p in paths for q in positions]
        pooled = {(p, q): store.pooled(p, q, recs)
                  for p, q in tqdm(grid, desc="pooling", disable=not progress)}
        sae_feats: dict[tuple[str, str], tuple[str, np.ndarray]] = {}
        for sae_dir in saes:
            sae = load_sae(sae_dir)
            path = module_path_of(sae) or ""
            store.check_path(path)
            for q in positions:
                sae_feats[(sae_dir, q)] = (path, sae_pooled(store, sae, path, q, recs))
        groups: dict[str, np.ndarray] = {"all": np.arange(len(recs))}
        keys = [group_of(r.transcript, cfg.by) for r in recs]
        values = sorted({k for k in keys if k is not None})
        for g in values if len(values) > 1 or None in keys else []:
            groups[g] = np.array([i for i, k in enumerate(keys) if k == g])
        for g, idx in tqdm(list(groups.items()), desc="groups", disable=not progress):
            try:
                row = measure_group(idx, y, ids, [t.cot for t in transcripts], pooled,
                                    sae_feats, texts, verbal, cfg)
            except BadInputError as e:
                results.append({"store": where, "group": g, "skipped": str(e)})
                continue
            mon = row.pop("best_monitors")["activation"]
            if mon and "features" in mon:
                best_features.append(FeatureProbe(**mon))
            elif mon:
                best_probes.append({**mon, "store_group": f"{where}:{g}"})
            results.append({"store": where, "group": g, **row})
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    result = {"schema": SCHEMA, "config": asdict(cfg), "stores": list(stores),
              "results": results}
    write_json_atomic(out / "gap.json", result)
    (out / "gap.md").write_text(gap_table(result) + "\n", encoding="utf-8")
    if best_probes:
        from faithline.interp.probes import SCHEMA as PROBES_SCHEMA

        write_json_atomic(out / "probes.json", {"schema": PROBES_SCHEMA, "store": stores[0],
                                                "best": 0, "probes": best_probes})
    if best_features:
        save_feature_probes(out / "feature_monitors.json", best_features, stores[0])
    return result


def _ci(ci: dict[str, float] | None, signed: bool = False) -> str:
    if not ci or ci.get("value") is None or not np.isfinite(ci["value"]):
        return "–"
    fmt = "{:+.2f}" if signed else "{:.2f}"
    return (f"{fmt.format(ci['value'])} [{fmt.format(ci['ci_low'])}, "
            f"{fmt.format(ci['ci_high'])}]")


def gap_table(result: dict[str, Any]) -> str:
    """A Markdown table: per store and group, the best monitors' test F1 and the gap."""
    lines = ["| store | group | n test (pos) | best activation monitor | F1 | best text monitor "
             "| F1 | gap (F1) | unverbalised n (pos) | recall act / text | gap there |",
             "|---|---|---|---|---|---|---|---|---|---|---|"]
    for r in result["results"]:
        if "skipped" in r:
            lines.append(f"| {r['store']} | {r['group']} | skipped: {r['skipped']} |"
                         + " |" * 8)
            continue
        a, t = r["activation"], r["text"] or {}
        u = r.get("unverbalized") or {}
        rec = " / ".join(_ci((u.get(k) or {}).get("recall")) for k in ("activation", "text"))
        lines.append(
            f"| {r['store']} | {r['group']} | {r['n']['test']} ({r['positives']['test']}) | "
            f"{a['name']} | {_ci(a['test_f1'])} | {t.get('name', '–')} | "
            f"{_ci(t.get('test_f1'))} | {_ci(r['gap'], signed=True)} | "
            f"{u.get('n', '–')} ({u.get('positives', '–')}) | {rec} | "
            f"{_ci(u.get('gap'), signed=True)} |")
    return "\n".join(lines)
