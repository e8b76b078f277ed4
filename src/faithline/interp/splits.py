"""Train / validation / test splits by transcript, and metrics with paired bootstrap CIs.

Splits are made over transcript ids (never tokens), stratified by the label and fixed by the
seed, so probes, feature monitors and text monitors are all scored on the same test transcripts.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from faithline.errors import BadInputError

NAN = float("nan")


def split_ids(ids: Sequence[str], labels: Sequence[bool] | np.ndarray, val: float = 0.2,
              test: float = 0.2, seed: int = 0) -> dict[str, np.ndarray]:
    """Indices of ``train``/``val``/``test``, stratified by label; each split gets at least two
    transcripts of each class (else a ``BadInputError``)."""
    y = np.asarray(labels, dtype=bool)
    if len(set(ids)) != len(ids):
        raise BadInputError("transcript ids must be unique to split by transcript")
    if not (0 < val < 1 and 0 < test < 1 and val + test < 1):
        raise BadInputError(f"bad split sizes val={val}, test={test}")
    order = np.argsort(np.asarray(ids, dtype=object).astype(str), kind="stable")
    rng = np.random.default_rng(seed)
    parts: dict[str, list[int]] = {"train": [], "val": [], "test": []}
    for cls in (True, False):
        members = order[y[order] == cls]
        members = members[rng.permutation(len(members))]
        n = len(members)
        n_test, n_val = round(n * test), round(n * val)
        if min(n_test, n_val, n - n_test - n_val) < 2:
            raise BadInputError(
                f"too few transcripts with label={cls} ({n}) to split into train/val/test with "
                "two of each class per split; capture more labelled transcripts")
        parts["test"] += members[:n_test].tolist()
        parts["val"] += members[n_test : n_test + n_val].tolist()
        parts["train"] += members[n_test + n_val :].tolist()
    return {k: np.sort(np.array(v, dtype=int)) for k, v in parts.items()}


def f1(flags: np.ndarray, labels: np.ndarray) -> float:
    """F1 of boolean flags against boolean labels (0 when nothing is flagged or positive)."""
    flags, labels = np.asarray(flags, dtype=bool), np.asarray(labels, dtype=bool)
    tp = int((flags & labels).sum())
    denom = int(flags.sum()) + int(labels.sum())
    return 2 * tp / denom if denom else 0.0


def best_f1_threshold(scores: np.ndarray, labels: np.ndarray) -> float:
    """The score threshold (flag when score >= it) with the best F1 on these scores.

    A threshold that flags every transcript is not a monitor (though with many positives its
    F1 can beat a real one), so the lowest score is never a candidate: constant scores give
    +inf (only failed verdicts, scored +inf, are flagged).
    """
    candidates = np.unique(np.asarray(scores, dtype=float))[1:]
    if candidates.size == 0:
        return float("inf")
    best = max(candidates, key=lambda c: (f1(scores >= c, labels), -c))
    return float(best)


def paired_ci(stat: Callable[..., float], *arrays: Any, n_boot: int = 2000, seed: int = 0,
              alpha: float = 0.05) -> dict[str, float]:
    """``stat(*arrays)`` with a percentile bootstrap CI, resampling rows of all arrays
    together; resamples where the statistic is undefined (NaN) are left out."""
    arrs = [np.asarray(a) for a in arrays]
    n = len(arrs[0])
    if n == 0:
        return {"value": NAN, "ci_low": NAN, "ci_high": NAN, "n": 0}
    rng = np.random.default_rng(seed)
    boot = np.array([stat(*(a[idx] for a in arrs))
                     for idx in rng.integers(0, n, size=(n_boot, n))], dtype=float)
    boot = boot[np.isfinite(boot)]
    low, high = np.quantile(boot, [alpha / 2, 1 - alpha / 2]) if boot.size else (NAN, NAN)
    return {"value": float(stat(*arrs)), "ci_low": float(low), "ci_high": float(high), "n": n}
