"""The ``faithline monitor`` and ``faithline monitor-train`` commands."""

from __future__ import annotations

import argparse
from dataclasses import dataclass, field

from faithline.config import SEED, AddCommand, add_config_args, check_config, config_from_args
from faithline.config import help_meta as _help

SPECS_HELP = "monitor spec (repeat for a comparison); the kinds are listed above"

TRAIN_DOC = """Train a text-classifier monitor on labelled transcripts and save it to a directory.

    faithline monitor-train runs/a/transcripts.jsonl --labels hack --out monitors/hack-tfidf
    faithline monitor-train a.jsonl b.jsonl --labels hack --features embed:builtin:smollm2-135m \\
        --target-fpr 0.05 --out monitors/hack-embed
    faithline monitor --monitor classifier:monitors/hack-tfidf --labels hack c.jsonl --out runs/m

TF-IDF word and character n-grams (or a local model's mean-pooled hidden states) and a logistic
regression (scikit-learn). The directory holds model.joblib, domain.joblib (the training
features) and card.json (label, view, features, training-data sha256, out-of-fold
cross-validated recall/FPR/AUROC, threshold, and the training domain: at monitor time an input
whose nearest training text is much less similar than usual is marked out of domain in its
verdict, with a warning).
"""



@dataclass(frozen=True)
class TrainConfig:
    """Settings of ``faithline monitor-train`` (recorded in the card)."""

    inputs: tuple[str, ...] = field(metadata=_help("labelled Transcript JSONL file(s)"))
    labels: str = field(metadata=_help("label key to learn (a key of each transcript's 'label')"))
    out: str = field(metadata=_help("directory to save the classifier in"))
    label_from: str | None = field(default=None, metadata=_help(
        "Inspect logs: set the --labels key from a score: score:NAME or score:NAME=VALUE"))
    view: str = field(default="cot", metadata=_help("text to read: cot or answer"))
    features: str = field(default="tfidf", metadata=_help(
        "tfidf (word + character n-grams) or embed:MODEL_SPEC (mean-pooled hidden states)"))
    c: float = field(default=1.0, metadata=_help("inverse regularisation strength (C)", gt=0))
    target_fpr: float | None = field(default=None, metadata=_help(
        "set the saved threshold for this FPR on out-of-fold scores (default threshold 0.5)",
        gt=0, lt=1))
    seed: int = field(default=0, metadata=_help("seed for the folds and the solver", **SEED))

    def __post_init__(self) -> None:
        check_config(self)  # the ranges declared above


def cmd_monitor(ns: argparse.Namespace) -> int:
    from faithline.monitors.benchmark import MonitorConfig, run_monitors

    run = run_monitors(config_from_args(MonitorConfig, ns), progress=not ns.quiet)
    m = run.metrics()
    print(m.get("table", ""))
    print(f"\n{m.get('transcripts')} transcripts; metrics: {run.metrics_path}; "
          f"report: {run.path / 'report.html'}")
    return 0


def cmd_train(ns: argparse.Namespace) -> int:
    from faithline.io import check_output, load_transcripts
    from faithline.monitors.classifier import train_classifier

    cfg = config_from_args(TrainConfig, ns)
    check_output(cfg.out, "dir")  # before anything is read or a model loads
    transcripts = [t for path in cfg.inputs
                   for t in load_transcripts(path, cfg.label_from, cfg.labels)]
    card = train_classifier(transcripts, cfg.labels, cfg.out, view=cfg.view,
                            features=cfg.features, c=cfg.c, target_fpr=cfg.target_fpr,
                            seed=cfg.seed, sources=cfg.inputs)
    cv = card["cross_validation"]

    def ci(name: str) -> str:
        m = cv[name]
        return f"{m['value']:.2f} [{m['ci_low']:.2f}, {m['ci_high']:.2f}]"

    tr = card["training"]
    print(f"{cfg.out}: classifier for '{cfg.labels}' ({cfg.features}, view {cfg.view}) on "
          f"{tr['n']} transcripts ({tr['positives']} positive); {cv['folds']}-fold "
          f"out-of-fold AUROC {ci('auroc')}, recall {ci('recall')}, FPR {ci('fpr')} at "
          f"threshold {card['threshold']:.3g}")
    dom = card["domain"]
    print(f"training domain: {dom['reference_rows']} texts, nearest-neighbour similarity median "
          f"{dom['train_similarity']['q50']:.2f}, 1st percentile "
          f"{dom['train_similarity']['q01']:.2f}; inputs below {dom['threshold']:.2f} are marked "
          "out of domain")
    print(f"use it: --monitor classifier:{cfg.out}")
    return 0


def install_monitor(add: AddCommand) -> None:
    from faithline.monitors import benchmark as bench
    from faithline.monitors.specs import MONITORS

    p = add("monitor", cmd_monitor, f"{bench.__doc__}\nMonitor kinds (--monitor SPEC):\n"
                                     f"{MONITORS.help_text()}\n")
    p.add_argument("inputs", nargs="+", metavar="IN.jsonl",
                   help="Transcript JSONL file(s) or Inspect logs (.eval, .json)")
    p.add_argument("--monitor", dest="monitors", action="append", required=True,
                   metavar="SPEC", help=SPECS_HELP)
    add_config_args(p, bench.MonitorConfig, skip=("inputs", "monitors"))


def install_train(add: AddCommand) -> None:
    t = add("monitor-train", cmd_train, TRAIN_DOC)
    t.add_argument("inputs", nargs="+", metavar="IN.jsonl",
                   help="labelled Transcript JSONL (or Inspect logs)")
    add_config_args(t, TrainConfig, skip=("inputs",))
