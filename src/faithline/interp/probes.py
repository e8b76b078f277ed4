"""``faithline interp probe``: linear probes for a labelled property, at layers and positions.

    faithline interp probe runs/cf/acts --label hack --positions before,during,after \\
        --out runs/cf/probes

For every module path in the store and every position (``before``/``during``/``cot_end``/
``after``, see ``interp.align``), a logistic regression on standardised pooled activations is
trained on the train split, its inverse regularisation ``C`` chosen by validation AUROC and its
threshold by validation F1; the best (path, position) is chosen on validation too. Test AUROC
and F1 come with bootstrap CIs. Splits are by transcript (``interp.splits``), never by token.

``probes.json`` holds every probe's weights as plain numbers (no pickles), so a ``Probe`` can
be rebuilt anywhere and run as a monitor (``interp.monitor``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faithline.config import SEED, check_config
from faithline.config import help_meta as _help
from faithline.errors import BadInputError, MissingDependencyError
from faithline.interp.align import POSITIONS
from faithline.interp.splits import best_f1_threshold, f1, paired_ci, split_ids
from faithline.interp.store import ActivationStore, Record
from faithline.io import read_json, write_json_atomic

SCHEMA = "faithline.probes/1"



@dataclass(frozen=True)
class ProbeConfig:
    """Settings of one probe sweep; stored in probes.json."""

    label: str = field(metadata=_help("label key to predict (Transcript.label[KEY])"))
    out: str = field(metadata=_help("output directory (probes.json)"))
    paths: str = field(default="all", metadata=_help(
        "comma-separated module paths of the store, or 'all'"))
    positions: str = field(default="before,during,cot_end,after", metadata=_help(
        f"comma-separated positions: {', '.join(POSITIONS)}"))
    cs: str = field(default="0.001,0.01,0.1,1,10", metadata=_help(
        "inverse L2 regularisation strengths C to choose from on validation"))
    val: float = field(default=0.2, metadata=_help("share of transcripts for validation",
                                                   gt=0, lt=1))
    test: float = field(default=0.2, metadata=_help("share of transcripts for test", gt=0, lt=1))
    seed: int = field(default=0, metadata=_help("seed of the split and the bootstrap", **SEED))
    where: str = field(default="", metadata=_help(
        "only transcripts with KEY=VALUE (label.X, meta.X or a top-level key), e.g. "
        "label.leaked=true"))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above (val + test < 1: splits.split_ids)

    def position_list(self) -> list[str]:
        out = [p.strip() for p in self.positions.split(",") if p.strip()]
        bad = [p for p in out if p not in POSITIONS]
        if bad or not out:
            raise BadInputError(f"unknown position(s) {bad}; use {', '.join(POSITIONS)}")
        return out

    def c_list(self) -> list[float]:
        try:
            cs = [float(c) for c in self.cs.split(",") if c.strip()]
        except ValueError:
            raise BadInputError(f"--cs must be comma-separated numbers, got '{self.cs}'") from None
        if not cs or any(c <= 0 for c in cs):
            raise BadInputError("--cs needs positive numbers")
        return cs

    def path_list(self, store: ActivationStore) -> list[str]:
        if self.paths.strip() == "all":
            return store.paths
        out = [p.strip() for p in self.paths.split(",") if p.strip()]
        for p in out:
            store.check_path(p)
        return out


@dataclass
class Probe:
    """A fitted linear probe: ``sigmoid(w . (x - mean) / scale + b)`` on pooled activations."""

    path: str
    position: str
    label: str
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float
    c: float

    def score(self, X: np.ndarray) -> np.ndarray:
        """P(label) for each row of ``X`` (Float[Array, "n d"])."""
        z = (np.asarray(X, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = z @ np.asarray(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50))))

    @property
    def name(self) -> str:
        return f"probe:{self.label}@{self.path}/{self.position}"

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Probe:
        try:
            return cls(**{k: d[k] for k in cls.__dataclass_fields__})
        except KeyError as e:
            raise BadInputError(f"probe entry lacks '{e.args[0]}'") from None


def _sklearn() -> Any:
    try:
        from sklearn.linear_model import LogisticRegression
    except ImportError:
        raise MissingDependencyError("scikit-learn", "monitor", "linear probes") from None
    return LogisticRegression


def field_of(t: dict[str, Any], key: str) -> Any:
    """``label.X``, ``meta.X`` or a top-level key of a transcript dict (None if absent)."""
    head, _, rest = key.partition(".")
    if head in ("label", "meta") and rest:
        return (t.get(head) or {}).get(rest)
    return t.get(key)


def matches(t: dict[str, Any], where: str) -> bool:
    """``where`` is empty or ``KEY=VALUE`` (KEY as in ``field_of``; values compared as
    lower-case strings, so ``label.leaked=true`` works)."""
    if not where.strip():
        return True
    key, eq, value = where.partition("=")
    if not eq or not key.strip():
        raise BadInputError(f"--where must look like KEY=VALUE (e.g. label.leaked=true), "
                            f"got '{where}'")
    return str(field_of(t, key.strip())).lower() == value.strip().lower()


def labelled(store: ActivationStore, label: str, where: str = ""
             ) -> tuple[list[Record], np.ndarray]:
    """The store's records that carry ``label`` (and match ``where``), and the label."""
    recs = [r for r in store.records if label in r.label and matches(r.transcript, where)]
    if not recs:
        present = sorted({k for r in store.records for k in r.label})
        raise BadInputError(f"no transcript in '{store.root}' has label '{label}'; labels "
                            f"present: {', '.join(present) or 'none'}")
    return recs, np.array([bool(r.label[label]) for r in recs])


def fit_probe(X: np.ndarray, y: np.ndarray, split: dict[str, np.ndarray], cs: Sequence[float],
              seed: int = 0) -> tuple[Any, dict[str, Any]]:
    """Fit on train for each C, keep the best by validation AUROC; returns (model, facts)."""
    from faithline.monitors.metrics import auroc

    LogisticRegression = _sklearn()
    tr, va = split["train"], split["val"]
    mean = X[tr].mean(axis=0)
    scale = X[tr].std(axis=0) + 1e-6
    Z = (X - mean) / scale
    best: tuple[float, float, Any] | None = None
    for c in cs:
        clf = LogisticRegression(C=c, max_iter=2000, class_weight="balanced", random_state=seed)
        clf.fit(Z[tr], y[tr])
        val_auc = auroc(clf.decision_function(Z[va]), y[va])
        if best is None or val_auc > best[0]:
            best = (val_auc, c, clf)
    assert best is not None
    val_auc, c, clf = best
    return clf, {"mean": mean, "scale": scale, "c": c, "val_auroc": val_auc}


def evaluate_scores(scores: np.ndarray, y: np.ndarray, split: dict[str, np.ndarray],
                    seed: int = 0) -> dict[str, Any]:
    """Threshold by validation F1; test AUROC and F1 with bootstrap CIs."""
    from faithline.monitors.metrics import auroc

    va, te = split["val"], split["test"]
    threshold = best_f1_threshold(scores[va], y[va])
    return {"threshold": threshold, "val_auroc": auroc(scores[va], y[va]),
            "val_f1": f1(scores[va] >= threshold, y[va]),
            "test_auroc": paired_ci(lambda s, t: auroc(s, t), scores[te], y[te], seed=seed),
            "test_f1": paired_ci(lambda s, t: f1(s >= threshold, t), scores[te], y[te],
                                 seed=seed)}


def train_probes(store: ActivationStore, cfg: ProbeConfig, progress: bool = True
                 ) -> dict[str, Any]:
    """Probe every (path, position); write and return probes.json's content."""
    from tqdm.auto import tqdm

    positions, cs, paths = cfg.position_list(), cfg.c_list(), cfg.path_list(store)
    recs, y = labelled(store, cfg.label, cfg.where)
    split = split_ids([r.id for r in recs], y, cfg.val, cfg.test, cfg.seed)
    rows = []
    grid = [(p, q) for p in paths for q in positions]
    for path, position in tqdm(grid, desc="probes", disable=not progress):
        X = store.pooled(path, position, recs)
        clf, facts = fit_probe(X, y, split, cs, cfg.seed)
        probe = Probe(path=path, position=position, label=cfg.label,
                      mean=facts["mean"].tolist(), scale=facts["scale"].tolist(),
                      coef=clf.coef_[0].tolist(), intercept=float(clf.intercept_[0]),
                      threshold=0.5, c=float(facts["c"]))
        metrics = evaluate_scores(probe.score(X), y, split, cfg.seed)
        probe.threshold = metrics["threshold"]
        rows.append({**asdict(probe), **metrics})
    best = max(range(len(rows)), key=lambda i: (rows[i]["val_auroc"], rows[i]["val_f1"]))
    result = {"schema": SCHEMA, "store": str(store.root), "config": asdict(cfg),
              "n": {k: len(v) for k, v in split.items()},
              "positives": {k: int(y[v].sum()) for k, v in split.items()},
              "test_ids": [recs[i].id for i in split["test"]],
              "best": best, "probes": rows}
    out = Path(cfg.out)
    out.mkdir(parents=True, exist_ok=True)
    write_json_atomic(out / "probes.json", result)
    return result


def load_probes(path: str | Path) -> tuple[dict[str, Any], list[Probe]]:
    """probes.json (a file or a directory holding one) and its probes."""

    p = Path(path)
    f = p / "probes.json" if p.is_dir() else p
    if not f.is_file():
        raise BadInputError(f"no probes.json at '{p}' (make one with faithline interp probe)")
    data = read_json(f)
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        raise BadInputError(f"{f}: not a {SCHEMA} file")
    return data, [Probe.from_dict(r) for r in data["probes"]]


def summary_table(result: dict[str, Any]) -> str:
    """A Markdown table of the probes: validation AUROC, test AUROC and F1 with CIs."""
    def cell(ci: dict[str, float]) -> str:
        return f"{ci['value']:.3f} [{ci['ci_low']:.3f}, {ci['ci_high']:.3f}]"

    lines = ["| path | position | C | val AUROC | test AUROC | test F1 |",
             "|---|---|---|---|---|---|"]
    for i, r in enumerate(result["probes"]):
        mark = " **(best on val)**" if i == result["best"] else ""
        lines.append(f"| {r['path']}{mark} | {r['position']} | {r['c']:g} | "
                     f"{r['val_auroc']:.3f} | {cell(r['test_auroc'])} | {cell(r['test_f1'])} |")
    return "\n".join(lines)
