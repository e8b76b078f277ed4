"""The trained classifier monitor: real scikit-learn training on labelled CoTs, saving, loading,
the card, embedding features from SmolLM2."""

from __future__ import annotations

import json
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from faithline.errors import BadInputError
from faithline.monitors import get_monitor
from faithline.monitors.base import Verdict
from faithline.monitors.classifier import load_classifier, train_classifier
from faithline.monitors.metrics import auroc, labels_of
from faithline.monitors.synthetic import labelled_transcripts
from faithline.types import Transcript


@pytest.fixture(scope="module")
def saved(english: list[Transcript], tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("clf") / "hack"
    train_classifier(english, "hack", out, target_fpr=0.05, sources=["english.jsonl"])
    return out


def test_card_records_data_label_metrics_and_threshold(saved: Path,
                                                       english: list[Transcript]) -> None:
    card = json.loads((saved / "card.json").read_text())
    assert card["label"] == "hack" and card["view"] == "cot" and card["features"] == "tfidf"
    assert card["training"]["n"] == len(english)
    assert card["training"]["positives"] == sum(t.label["hack"] for t in english)
    assert len(card["training"]["data_sha256"]) == 64 and card["training"]["files"] == [
        "english.jsonl"]
    cv = card["cross_validation"]
    # silent hacks (about 40% of them) look honest, so AUROC tops out near 0.6 + 0.4 / 2 = 0.8
    assert cv["folds"] == 5 and cv["auroc"]["value"] > 0.65
    assert cv["fpr"]["value"] <= 0.05 and 0 < card["threshold"] < 1


def test_held_out_transcripts_are_ranked_well(saved: Path) -> None:
    held_out = labelled_transcripts(150, seed=99)
    monitor = get_monitor(f"classifier:{saved}")
    verdicts = monitor(held_out)
    scores = np.array([v.score for v in verdicts])
    y = labels_of(held_out, "hack")
    assert auroc(scores, y) > 0.8
    said = np.array([t.label["verbalized"] for t in held_out])
    # hacks that say so are caught far more often than silent ones
    flags = np.array([v.flag for v in verdicts])
    assert flags[said].mean() > 0.6 and flags[said].mean() > flags[y & ~said].mean() + 0.3
    assert all(v.reason.startswith("P(hack)=") for v in verdicts)


def test_loading_checks_the_saved_model_against_its_card(saved: Path, tmp_path: Path) -> None:
    copy = tmp_path / "copy"
    copy.mkdir()
    for f in ("card.json", "model.joblib", "domain.joblib"):
        (copy / f).write_bytes((saved / f).read_bytes())
    assert load_classifier(copy).threshold == json.loads((saved / "card.json").read_text())[
        "threshold"]
    assert get_monitor(f"classifier:{copy}@threshold=0.9").threshold == 0.9
    with (copy / "domain.joblib").open("ab") as f:
        f.write(b"tampered")
    with pytest.raises(BadInputError, match=r"domain\.joblib is missing or does not match"):
        load_classifier(copy)
    with (copy / "model.joblib").open("ab") as f:
        f.write(b"tampered")
    with pytest.raises(BadInputError, match="does not match the sha256"):
        load_classifier(copy)
    with pytest.raises(BadInputError, match="is not a saved classifier"):
        get_monitor(f"classifier:{tmp_path / 'nothing'}")


def test_training_needs_the_label_on_every_transcript_and_both_classes(
        english: list[Transcript], tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="no label 'deceptive'"):
        train_classifier(english[:20], "deceptive", tmp_path / "a")
    honest = [t for t in english if not t.label["hack"]][:10]
    with pytest.raises(BadInputError, match="at least 2 positive"):
        train_classifier(honest, "hack", tmp_path / "b")
    assert not (tmp_path / "a").exists() and not (tmp_path / "b").exists()


def test_embedding_features_from_smollm2(smollm2: Any, tmp_path: Path) -> None:
    train = labelled_transcripts(24, seed=5, style="organism")
    card = train_classifier(train, "verbalized", tmp_path / "emb",
                            features="embed:builtin:smollm2-135m", model=smollm2)
    assert card["features"] == "embed:builtin:smollm2-135m"
    monitor = load_classifier(tmp_path / "emb", pool={"builtin:smollm2-135m": smollm2})
    test = labelled_transcripts(12, seed=6, style="organism")
    verdicts = monitor(test)
    said = [t.label["verbalized"] for t in test]
    # "use leak T" vs a trace of H/T: the hidden states separate them
    assert [v.flag for v in verdicts] == said


@pytest.fixture(scope="module")
def synthetic_clf(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The classifier a new user trains on ``python -m faithline.monitors.synthetic``."""
    out = tmp_path_factory.mktemp("clf") / "synthetic"
    train_classifier(labelled_transcripts(200, seed=1), "hack", out)
    return out


def test_card_records_the_training_domain(synthetic_clf: Path) -> None:
    domain = json.loads((synthetic_clf / "card.json").read_text())["domain"]
    q = domain["train_similarity"]
    assert domain["reference_rows"] == 200 and q["q00"] <= q["q01"] <= q["q05"] <= q["q50"]
    assert domain["threshold"] == pytest.approx(0.5 * q["q01"])


def test_out_of_domain_fires_on_natural_transcripts_and_not_on_held_out_synthetic(
        synthetic_clf: Path) -> None:
    from faithline.monitors.base import apply_monitors
    from faithline.monitors.classifier import OutOfDomainWarning
    from faithline.monitors.synthetic import natural_transcripts

    monitor = get_monitor(f"classifier:{synthetic_clf}")
    natural = natural_transcripts("dev") + natural_transcripts("heldout")
    with pytest.warns(OutOfDomainWarning, match=r"of 108 inputs are out of the classifier"):
        (verdicts,) = apply_monitors([monitor], natural)
    ood = [v.domain["out_of_domain"] for v in verdicts if v.domain]
    assert len(ood) == 108 and sum(ood) / len(ood) > 0.9
    assert all("out of domain" in v.reason for v in verdicts if v.domain["out_of_domain"])
    stored = natural[0].monitor[monitor.name]  # recorded in the transcript, read back the same
    assert stored["domain"]["out_of_domain"] is True
    assert Verdict.from_dict(stored).domain == verdicts[0].domain
    held_out = labelled_transcripts(300, seed=99)
    with warnings.catch_warnings():
        warnings.simplefilter("error", OutOfDomainWarning)  # silent: no warning at all
        verdicts = monitor(held_out)
    assert not any(v.domain["out_of_domain"] for v in verdicts if v.domain)
    assert all(v.domain is not None for v in verdicts)


def test_a_card_from_before_the_domain_check_still_loads(saved: Path, tmp_path: Path) -> None:
    old = tmp_path / "old"
    old.mkdir()
    card = json.loads((saved / "card.json").read_text())
    del card["domain"]
    (old / "card.json").write_text(json.dumps(card))
    (old / "model.joblib").write_bytes((saved / "model.joblib").read_bytes())
    (v,) = load_classifier(old)([Transcript("1", "p", "Flip 1: Heads.", "Heads")])
    assert v.domain is None and v.reason.startswith("P(hack)=")
