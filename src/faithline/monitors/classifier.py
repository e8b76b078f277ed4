"""A trained text-classifier monitor (scikit-learn), saved to a directory and loaded by spec.

    faithline monitor-train runs/a/transcripts.jsonl --labels hack --out monitors/hack-tfidf
    faithline monitor --monitor classifier:monitors/hack-tfidf --labels hack IN.jsonl --out runs/m

From Python: ``train_classifier(transcripts, "hack", "monitors/hack-tfidf")`` then
``get_monitor("classifier:monitors/hack-tfidf")``.

Features (``features``): ``tfidf`` = TF-IDF of word 1-2-grams and character 2-5-grams (within
word boundaries); ``embed:MODEL_SPEC`` = the mean-pooled last hidden states of a local model
(e.g. ``embed:builtin:smollm2-135m``), standardised. Either way a logistic regression with
balanced class weights reads them; the score is its P(positive). The directory holds
``model.joblib`` (the fitted scikit-learn pipeline; it is a pickle, so load only directories you
trust), ``domain.joblib`` (the training features, below) and ``card.json``: the label key, the
view, the features, the training files, the sha256 of the training data, of ``model.joblib`` and
of ``domain.joblib`` (checked on load), out-of-fold cross-validated metrics, and the threshold
(0.5, or chosen for ``target_fpr`` on the out-of-fold scores).

Out of domain. ``monitor-train`` also records the training distribution: the classifier's own
features (TF-IDF or embeddings) of up to ``DOMAIN_ROWS`` training texts, L2-normalised, in
``domain.joblib`` (its sha256 in the card), and in ``card["domain"]`` the quantiles of each
training text's cosine similarity to its nearest *other* training text. At monitor time every
input's nearest-neighbour similarity to that set is computed; below ``card["domain"]
["threshold"]`` (``DOMAIN_RATIO`` x the 1st percentile of the training similarities: half the
similarity of the least typical training texts to their neighbours) the input is out of domain.
Every verdict carries ``domain`` = ``{"similarity", "threshold", "out_of_domain"}`` (stored in
the transcript's ``monitor`` entry), an out-of-domain verdict says so in its reason, and a
call with any out-of-domain input emits an ``OutOfDomainWarning`` naming how many. The score
is still given: out of domain means "do not trust this score", not "flagged".
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import warnings
from collections.abc import MutableMapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np

from faithline.errors import BadInputError, MissingDependencyError
from faithline.io import read_json, write_json_atomic
from faithline.models import Model, load_model
from faithline.models.base import Capability, local_model
from faithline.monitors.base import Verdict, check_view
from faithline.monitors.metrics import binary_metrics, labels_of, threshold_for_fpr
from faithline.types import Transcript

CARD_SCHEMA = "faithline.classifier/1"
DOMAIN_ROWS = 2000
DOMAIN_RATIO = 0.5


class OutOfDomainWarning(UserWarning):
    """Inputs of a trained monitor lie outside the distribution it was trained on."""


def _sklearn() -> Any:
    try:
        import joblib
        import sklearn
    except ImportError as e:
        raise MissingDependencyError(e.name or "scikit-learn", "monitor",
                                     "the classifier monitor") from None
    return sklearn, joblib


def texts_of(transcripts: Sequence[Transcript], view: str) -> list[str]:
    return [t.answer if view == "answer" else t.cot for t in transcripts]


def data_hash(transcripts: Sequence[Transcript], key: str, view: str) -> str:
    h = hashlib.sha256()
    for t, text in zip(transcripts, texts_of(transcripts, view), strict=True):
        label = (t.label or {}).get(key)
        h.update(json.dumps([t.id, text, label], ensure_ascii=False).encode() + b"\n")
    return h.hexdigest()


def file_hash(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# ----- features --------------------------------------------------------------------------------
@dataclass
class Embedder:
    """Mean-pooled last-layer hidden states of a local model (a scikit-learn transformer that
    is not pickled with the classifier: ``card.json`` names the model spec)."""

    model: Model
    batch_size: int = 8
    max_tokens: int = 512

    def fit(self, texts: Sequence[str], y: Any = None) -> Embedder:
        return self

    def transform(self, texts: Sequence[str]) -> np.ndarray:
        local = local_model(self.model, Capability.ACTIVATIONS, purpose="embedding features")
        import torch

        rows = []
        for start in range(0, len(texts), self.batch_size):
            batch = [t or " " for t in texts[start:start + self.batch_size]]
            local.tokenizer.padding_side = "right"
            enc = local.tokenizer(batch, return_tensors="pt", padding=True, truncation=True,
                                  max_length=self.max_tokens,
                                  add_special_tokens=False).to(local.device)
            with torch.inference_mode():
                out = local.model(**enc, output_hidden_states=True)
            hidden = out.hidden_states[-1].float()
            mask = enc["attention_mask"].unsqueeze(-1).float()
            rows.append(((hidden * mask).sum(1) / mask.sum(1).clamp(min=1)).cpu().numpy())
        return np.concatenate(rows) if rows else np.zeros((0, 1))


def _pipeline(features: str, seed: int, c: float) -> Any:
    _sklearn()
    from sklearn.feature_extraction.text import TfidfVectorizer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, make_pipeline
    from sklearn.preprocessing import StandardScaler

    clf = LogisticRegression(C=c, class_weight="balanced", max_iter=2000, random_state=seed)
    if features == "tfidf":
        union = FeatureUnion([
            ("words", TfidfVectorizer(ngram_range=(1, 2), sublinear_tf=True, min_df=1,
                                      token_pattern=r"(?u)\b\w+\b")),
            ("chars", TfidfVectorizer(analyzer="char_wb", ngram_range=(2, 5), sublinear_tf=True,
                                      min_df=2)),
        ])
        return make_pipeline(union, clf)
    return make_pipeline(StandardScaler(), clf)


def _check_features(features: str) -> str | None:
    """The embedding model spec for ``embed:SPEC`` features, None for ``tfidf``."""
    if features == "tfidf":
        return None
    if features.startswith("embed:") and len(features) > len("embed:"):
        return features.removeprefix("embed:")
    raise BadInputError(f"classifier features must be 'tfidf' or 'embed:MODEL_SPEC'; got "
                        f"'{features}'")


# ----- training --------------------------------------------------------------------------------
def train_classifier(transcripts: Sequence[Transcript], label: str, out: str | Path, *,
                     view: str = "cot", features: str = "tfidf", c: float = 1.0,
                     target_fpr: float | None = None, seed: int = 0,
                     sources: Sequence[str] = (), model: Model | None = None) -> dict[str, Any]:
    """Fit a classifier for ``label`` on ``transcripts``, save it to ``out``; returns the card.

    Out-of-fold scores from a stratified k-fold (k = min(5, smaller class)) give the card's
    metrics and, with ``target_fpr``, its threshold; the saved model is then fit on all data.
    """
    _, joblib = _sklearn()
    from sklearn.model_selection import StratifiedKFold, cross_val_predict

    check_view(view)
    embed_spec = _check_features(features)
    if target_fpr is not None and not 0 < target_fpr < 1:
        raise BadInputError(f"target FPR must be in (0, 1), got {target_fpr}")
    y = labels_of(transcripts, label)
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if min(n_pos, n_neg) < 2:
        raise BadInputError(f"training a classifier for '{label}' needs at least 2 positive and "
                            f"2 negative transcripts; got {n_pos} and {n_neg}")
    texts = texts_of(transcripts, view)
    X: Any = texts
    if embed_spec is not None:
        X = Embedder(model or load_model(embed_spec)).transform(texts)
    folds = min(5, n_pos, n_neg)
    oof = cross_val_predict(_pipeline(features, seed, c), X, y, method="predict_proba",
                            cv=StratifiedKFold(folds, shuffle=True, random_state=seed))[:, 1]
    threshold = 0.5 if target_fpr is None else threshold_for_fpr(oof, y, target_fpr)
    estimator = _pipeline(features, seed, c).fit(X, y)
    path = Path(out)
    try:
        path.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise BadInputError(f"cannot create classifier directory '{path}': {e.strerror}") from None
    joblib.dump(estimator, path / "model.joblib")
    domain = record_domain(estimator, X, path / "domain.joblib", seed)
    cv = binary_metrics(oof, oof >= threshold, y, seed=seed)
    card = {
        "schema": CARD_SCHEMA, "label": label, "view": view, "features": features,
        "threshold": threshold, "target_fpr": target_fpr, "C": c, "seed": seed,
        "training": {"files": list(sources), "n": len(y), "positives": n_pos,
                     "data_sha256": data_hash(transcripts, label, view)},
        "cross_validation": {"folds": folds, **cv},
        "domain": domain,
        "model_sha256": file_hash(path / "model.joblib"),
        "versions": {k: _version(k) for k in ("faithline", "scikit-learn", "numpy")},
        "created": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
    }
    write_json_atomic(path / "card.json", card)
    return card


def _version(name: str) -> str | None:
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


# ----- the training domain ---------------------------------------------------------------------
def features_of(estimator: Any, X: Any) -> Any:
    """The fitted pipeline's features of ``X`` (all steps but the classifier), rows of unit
    length (sparse for TF-IDF, dense for embeddings)."""
    from sklearn.preprocessing import normalize

    return normalize(estimator[:-1].transform(X))


def nearest_similarity(rows: Any, reference: Any) -> np.ndarray:
    """Per row, the cosine similarity to its nearest row of ``reference`` (both unit rows)."""
    sims = rows @ reference.T
    sims = sims.toarray() if hasattr(sims, "toarray") else np.asarray(sims)
    return sims.max(axis=1) if sims.size else np.zeros(rows.shape[0])


def record_domain(estimator: Any, X: Any, out: Path, seed: int) -> dict[str, Any]:
    """Save the training features (up to ``DOMAIN_ROWS``, drawn at random) to ``out`` and
    return the card's ``domain`` entry: leave-one-out nearest-neighbour similarities and the
    out-of-domain threshold (see the module docstring)."""
    _, joblib = _sklearn()
    feats = features_of(estimator, X)
    n = feats.shape[0]
    keep = np.sort(np.random.default_rng(seed).permutation(n)[:DOMAIN_ROWS])
    ref = feats[keep]
    sims = ref @ ref.T
    sims = sims.toarray() if hasattr(sims, "toarray") else np.array(sims)
    np.fill_diagonal(sims, -np.inf)
    loo = sims.max(axis=1)
    q = {f"q{int(k * 100):02d}": float(np.quantile(loo, k)) for k in (0.0, 0.01, 0.05, 0.5)}
    joblib.dump(ref, out)
    return {"method": "nearest-neighbour cosine similarity in the classifier's feature space",
            "reference_rows": int(ref.shape[0]), "train_similarity": q,
            "threshold": DOMAIN_RATIO * q["q01"], "ratio": DOMAIN_RATIO,
            "sha256": file_hash(out)}


# ----- the monitor -----------------------------------------------------------------------------
@dataclass
class ClassifierMonitor:
    """Scores each transcript's CoT (or answer: the card's ``view``) with a saved classifier."""

    path: Path
    estimator: Any
    card: dict[str, Any]
    threshold: float
    embedder: Embedder | None = None
    reference: Any = None  # training features (domain.joblib); None for a card without one

    @property
    def name(self) -> str:
        return f"classifier:{self.path}"

    def __call__(self, transcripts: Sequence[Transcript],
                 progress: bool = False) -> list[Verdict]:
        if not transcripts:
            return []
        texts = texts_of(transcripts, self.card.get("view", "cot"))
        X: Any = self.embedder.transform(texts) if self.embedder else texts
        probs = self.estimator.predict_proba(X)[:, 1]
        label = self.card.get("label", "positive")
        verdicts = [Verdict.of(float(p), self.threshold, f"P({label})={p:.3f}") for p in probs]
        return verdicts if self.reference is None else self.check_domain(X, verdicts)

    def check_domain(self, X: Any, verdicts: list[Verdict]) -> list[Verdict]:
        """Each verdict with its ``domain`` entry; warn when any input is out of domain."""
        limit = float(self.card["domain"]["threshold"])
        sims = nearest_similarity(features_of(self.estimator, X), self.reference)
        out = []
        for v, sim in zip(verdicts, sims, strict=True):
            ood = bool(sim < limit)
            note = (f"; out of domain: nearest training text similarity {sim:.2f} < {limit:.2f}"
                    if ood else "")
            out.append(dataclasses.replace(v, reason=v.reason + note, domain={
                "similarity": round(float(sim), 4), "threshold": round(limit, 4),
                "out_of_domain": ood}))
        n_ood = sum(bool(v.domain and v.domain["out_of_domain"]) for v in out)
        if n_ood:
            warnings.warn(OutOfDomainWarning(
                f"{self.name}: {n_ood} of {len(out)} inputs are out of the classifier's training "
                f"domain (nearest training text similarity < {limit:.2f}); do not trust their "
                "scores"), stacklevel=2)
        return out


def load_classifier(path: str | Path, pool: MutableMapping[str, Model] | None = None,
                    threshold: float | None = None) -> ClassifierMonitor:
    """The classifier saved in ``path`` (``card.json`` + ``model.joblib``), checked against the
    card's sha256."""
    _, joblib = _sklearn()
    p = Path(path)
    card_path, model_path = p / "card.json", p / "model.joblib"
    if not card_path.is_file() or not model_path.is_file():
        raise BadInputError(f"'{p}' is not a saved classifier (needs card.json and "
                            "model.joblib; make one with faithline monitor-train)")
    card = read_json(card_path)
    if not isinstance(card, dict) or card.get("schema") != CARD_SCHEMA:
        raise BadInputError(f"{card_path}: not a faithline classifier card ({CARD_SCHEMA})")
    if file_hash(model_path) != card.get("model_sha256"):
        raise BadInputError(f"{model_path} does not match the sha256 in its card.json")
    embedder = None
    spec = _check_features(str(card.get("features", "tfidf")))
    if spec is not None:
        pool = {} if pool is None else pool
        if spec not in pool:
            pool[spec] = load_model(spec)
        embedder = Embedder(pool[spec])
    t = float(card.get("threshold", 0.5)) if threshold is None else threshold
    reference = None
    if isinstance(card.get("domain"), dict):  # cards written before the domain check have none
        domain_path = p / "domain.joblib"
        if not domain_path.is_file() or file_hash(domain_path) != card["domain"].get("sha256"):
            raise BadInputError(f"{domain_path} is missing or does not match the sha256 in its "
                                "card.json")
        reference = joblib.load(domain_path)
    return ClassifierMonitor(p, joblib.load(model_path), card, t, embedder, reference)
