"""Activation monitors with the text monitors' interface: transcripts in, verdicts out.

``ProbeMonitor`` runs a saved linear probe (``interp.probes``); ``FeatureMonitor`` flags a
transcript when SAE features tied to a concept fire: a small logistic regression over the
pooled activations of the few features that best separate the label on training transcripts
(max over the CoT tokens for ``during``), with their automatic descriptions in the reason when
``descriptions.json`` exists. Both read the model the store was captured with and lay the
transcript out the same way, so their scores on new transcripts match the scores the gap was
measured with. They fail closed: a transcript they cannot score gets a failed (flagged) verdict.

    >>> m = load_activation_monitor("probe:runs/cf/probes")            # doctest: +SKIP
    >>> m(transcripts)  # [Verdict(score, flag, reason, failed), ...]
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from faithline.errors import BadInputError, FaithlineError
from faithline.interp.align import Layout, align_transcript, position_index
from faithline.interp.probes import Probe, load_probes
from faithline.interp.store import ActivationStore, Record
from faithline.io import read_json
from faithline.models.base import local_model
from faithline.monitors.base import Verdict
from faithline.types import Transcript

FEATURES_SCHEMA = "faithline.feature-monitor/1"


def pool_rows(rows: np.ndarray, segment: np.ndarray, position: str, how: str) -> np.ndarray:
    """One vector from a transcript's rows at ``position`` (``how``: mean or max)."""
    idx = position_index(segment, position)
    sel = rows[idx]
    return sel.max(axis=0) if how == "max" else sel.mean(axis=0)


@dataclass
class FeatureProbe:
    """A logistic regression over a few SAE features of one module path."""

    sae: str
    path: str
    position: str
    label: str
    features: list[int]
    mean: list[float]
    scale: list[float]
    coef: list[float]
    intercept: float
    threshold: float
    descriptions: dict[str, str] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return f"features:{self.label}@{self.path}/{self.position}[{len(self.features)}]"

    def score(self, F: np.ndarray) -> np.ndarray:
        """P(label) from Float[Array, "n features"] (the selected features, pooled)."""
        z = (np.asarray(F, dtype=np.float64) - np.asarray(self.mean)) / np.asarray(self.scale)
        logits = z @ np.asarray(self.coef) + self.intercept
        return np.asarray(1.0 / (1.0 + np.exp(-np.clip(logits, -50, 50))))

    def reason(self, f: np.ndarray, p: float) -> str:
        contrib = (np.asarray(f) - np.asarray(self.mean)) / np.asarray(self.scale) * \
            np.asarray(self.coef)
        k = int(np.argmax(contrib))
        unit = self.features[k]
        desc = self.descriptions.get(str(unit))
        what = f" ({desc})" if desc else ""
        return f"P({self.label})={p:.3f}; strongest: feature {unit}{what} at {f[k]:.2f}"


def sae_pooled(store: ActivationStore, sae: Any, path: str, position: str,
               records: Sequence[Record]) -> np.ndarray:
    """Float[Array, "records d_sae"]: SAE features pooled per record (max over the CoT for
    ``during``, else the position's token)."""
    from faithline.interp.sae import encode

    out = np.zeros((len(records), int(sae.cfg.d_sae)), dtype=np.float32)
    how = "max" if position == "during" else "mean"
    for i, rec in enumerate(records):
        acts = encode(sae, store.rows(rec, path))
        out[i] = pool_rows(acts, store.rows(rec, "segment"), position, how)
    return out


class _ActivationReader:
    """Runs the store's model on transcripts, laid out as at capture time."""

    def __init__(self, store_info: dict[str, Any], model: Any = None) -> None:
        from faithline.models import load_model

        spec = store_info.get("model", {}).get("spec")
        if model is None:
            if not spec:
                raise BadInputError("the store does not name its model; pass one")
            model = load_model(spec)
        self.model = local_model(model, purpose="activation monitor")
        self.layout = Layout(**store_info.get("layout", {}))

    def rows(self, transcripts: Sequence[Transcript], path: str
             ) -> list[tuple[np.ndarray, np.ndarray] | str]:
        """Per transcript (activations [tokens d], segments) or an error message."""
        from faithline.interp.capture import forward_capture

        out: list[tuple[np.ndarray, np.ndarray] | str] = []
        for t in transcripts:
            try:
                a = align_transcript(self.model, t, self.layout)
                acts = forward_capture(self.model, [a.ids], [path])[path][0].float().numpy()
                out.append((acts, a.segment))
            except FaithlineError as e:
                out.append(str(e))
        return out


class ProbeMonitor:
    """A saved linear probe as a monitor (score = P(label))."""

    def __init__(self, probe: Probe, store_info: dict[str, Any], model: Any = None) -> None:
        self.probe = probe
        self.threshold = probe.threshold
        self.reader = _ActivationReader(store_info, model)

    @property
    def name(self) -> str:
        return self.probe.name

    def __call__(self, transcripts: Sequence[Transcript],
                 progress: bool = False) -> list[Verdict]:
        out = []
        for got in self.reader.rows(transcripts, self.probe.path):
            if isinstance(got, str):
                out.append(Verdict.fail(got))
                continue
            x = pool_rows(got[0], got[1], self.probe.position, "mean")
            p = float(self.probe.score(x[None])[0])
            out.append(Verdict.of(p, self.threshold, f"P({self.probe.label})={p:.3f} at "
                                                     f"{self.probe.path}/{self.probe.position}"))
        return out


class FeatureMonitor:
    """Flags a transcript when the selected SAE features fire (see ``FeatureProbe``)."""

    def __init__(self, fp: FeatureProbe, store_info: dict[str, Any], model: Any = None) -> None:
        from faithline.interp.sae import load_sae

        self.fp = fp
        self.threshold = fp.threshold
        self.sae = load_sae(fp.sae)
        self.reader = _ActivationReader(store_info, model)

    @property
    def name(self) -> str:
        return self.fp.name

    def __call__(self, transcripts: Sequence[Transcript],
                 progress: bool = False) -> list[Verdict]:
        from faithline.interp.sae import encode

        out = []
        how = "max" if self.fp.position == "during" else "mean"
        for got in self.reader.rows(transcripts, self.fp.path):
            if isinstance(got, str):
                out.append(Verdict.fail(got))
                continue
            acts = encode(self.sae, got[0])[:, self.fp.features]
            f = pool_rows(acts, got[1], self.fp.position, how)
            p = float(self.fp.score(f[None])[0])
            out.append(Verdict.of(p, self.threshold, self.fp.reason(f, p)))
        return out


def save_feature_probes(path: str | Path, probes: Sequence[FeatureProbe], store: str) -> None:
    from faithline.io import write_json_atomic

    write_json_atomic(path, {"schema": FEATURES_SCHEMA, "store": store,
                             "monitors": [asdict(p) for p in probes]})


def load_activation_monitor(spec: str, model: Any = None) -> ProbeMonitor | FeatureMonitor:
    """``probe:DIR_OR_FILE[@N]`` (probes.json; default its best probe) or
    ``features:FILE[@N]`` (a feature-monitor file written by ``faithline interp gap``)."""
    kind, _, rest = spec.partition(":")
    body, _, index = rest.partition("@")
    try:
        n = int(index) if index else None
    except ValueError:
        raise BadInputError(f"monitor spec '{spec}': '@{index}' is not an index") from None
    if kind == "probe":
        data, probes = load_probes(body)
        i = data.get("best", 0) if n is None else n
        if not 0 <= i < len(probes):
            raise BadInputError(f"'{body}' has {len(probes)} probes; no probe {i}")
        return ProbeMonitor(probes[i], ActivationStore(data["store"]).info, model)
    if kind == "features":
        p = Path(body)
        if not p.is_file():
            raise BadInputError(f"feature-monitor file '{body}' does not exist")
        data = read_json(p)
        if data.get("schema") != FEATURES_SCHEMA:
            raise BadInputError(f"{p}: not a {FEATURES_SCHEMA} file")
        mons = data["monitors"]
        i = 0 if n is None else n
        if not 0 <= i < len(mons):
            raise BadInputError(f"'{body}' has {len(mons)} feature monitors; no monitor {i}")
        return FeatureMonitor(FeatureProbe(**mons[i]), ActivationStore(data["store"]).info,
                              model)
    raise BadInputError(f"unknown activation monitor kind '{kind}'; use probe: or features:")


__all__ = ["FeatureMonitor", "FeatureProbe", "ProbeMonitor", "load_activation_monitor",
           "sae_pooled"]
