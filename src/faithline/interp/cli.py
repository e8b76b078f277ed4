"""The ``faithline interp`` command and its subcommands (plugged into cli/main.py)."""

from __future__ import annotations

import argparse
import importlib
import math
from collections.abc import Callable
from pathlib import Path
from typing import Any

from faithline.config import AddCommand, add_config_args, config_from_args
from faithline.errors import BadInputError
from faithline.io import check_output

DOC = """Read activations: capture, probes, SAEs, feature descriptions, the activation-text gap.

    faithline interp capture runs/cf/transcripts.jsonl --model builtin:smollm2-135m --out acts
    faithline interp probe acts --label hack --out acts/probes
    faithline interp sae acts --path model.layers.14 --max-seconds 300 --out sae-l14
    faithline interp describe sae-l14 --units top:16
    faithline interp gap acts --label hack --by meta.arm --monitors "rule:leak" --out gap

Run `faithline interp COMMAND --help` for each command's options.
"""


def _ci(m: dict[str, float]) -> str:
    if m.get("value") is None or not math.isfinite(m["value"]):
        return "n/a"
    return f"{m['value']:.3f} [{m['ci_low']:.3f}, {m['ci_high']:.3f}]"


def cmd_capture(ns: argparse.Namespace) -> int:
    from faithline.interp.capture import CaptureConfig, capture_transcripts
    from faithline.io import load_transcripts
    from faithline.models import load_model

    cfg = config_from_args(CaptureConfig, ns)
    check_output(cfg.out, "dir")  # before anything is read or a model loads
    transcripts = load_transcripts(ns.transcripts)
    if cfg.limit:
        transcripts = transcripts[: cfg.limit]
    counts = capture_transcripts(load_model(cfg.model), transcripts, cfg,
                                 progress=not ns.quiet)
    print(f"{cfg.out}: {counts['written']} transcripts captured, {counts['skipped']} already "
          f"there; {counts['tokens']} tokens in the store")
    return 0


def cmd_probe(ns: argparse.Namespace) -> int:
    from faithline.interp.probes import ProbeConfig, summary_table, train_probes
    from faithline.interp.store import ActivationStore

    cfg = config_from_args(ProbeConfig, ns)
    check_output(cfg.out, "dir")
    result = train_probes(ActivationStore(ns.store), cfg, progress=not ns.quiet)
    print(summary_table(result))
    print(f"\nsplit {result['n']} (positives {result['positives']}); "
          f"probes: {cfg.out}/probes.json")
    return 0


def cmd_sae(ns: argparse.Namespace) -> int:
    from faithline.interp.sae import SAETrainConfig, train_sae
    from faithline.interp.store import ActivationStore

    cfg = config_from_args(SAETrainConfig, ns)
    check_output(cfg.out, "dir")
    info = train_sae(ActivationStore(ns.store), cfg, progress=not ns.quiet)
    held = info["held_out"]
    print(f"{cfg.out}: SAELens {cfg.architecture} SAE on {info['path']} "
          f"(d_sae {info['d_sae']}), {info['trained_tokens']} tokens in {info['seconds']} s "
          f"on {info['device']}{' (time budget reached)' if info['stopped_by_time'] else ''}; "
          f"held-out {held['tokens']} tokens: explained variance "
          f"{held['explained_variance']:.3f}, L0 {held['l0']:.1f}, "
          f"{held['dead_features']} features silent")
    return 0


def cmd_describe(ns: argparse.Namespace) -> int:
    from faithline.interp.describe import DescribeConfig, describe_units

    cfg = config_from_args(DescribeConfig, ns)
    if cfg.out:
        check_output(cfg.out, "file")
    result = describe_units(cfg, progress=not ns.quiet)
    for row in result["units"]:
        print(f"unit {row['unit']}: {row['description'] or '(no description)'} | detection "
              f"AUROC {row['detection_auroc']:.2f}, simulation r {row['simulation_r']:.2f}")
    for key, s in result["summary"].items():
        print(f"{key}: described {_ci(s['described'])}, shuffled {_ci(s['shuffled'])}, "
              f"difference {_ci(s['difference'])}")
    print(f"descriptions: {result['out']}")
    return 0


def cmd_gap(ns: argparse.Namespace) -> int:
    from faithline.interp.gap import GapConfig, measure_gap

    cfg = config_from_args(GapConfig, ns)
    check_output(cfg.out, "dir")
    measure_gap(ns.stores, cfg, progress=not ns.quiet)
    print((Path(cfg.out) / "gap.md").read_text(encoding="utf-8"))
    print(f"details: {cfg.out}/gap.json")
    return 0


def _sub(parent: argparse.ArgumentParser, subs: Any, name: str, handler: Callable[..., int],
         module: str) -> argparse.ArgumentParser:
    doc = importlib.import_module(module).__doc__ or ""
    summary = doc.strip().splitlines()[0].split(": ", 1)[-1] if doc.strip() else ""
    p = subs.add_parser(name, help=summary, description=doc,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.set_defaults(handler=handler)
    return p


def _no_subcommand(ns: argparse.Namespace) -> int:
    raise BadInputError("name a subcommand: capture, probe, sae, describe or gap "
                        "(faithline interp --help)")


def install(add: AddCommand) -> None:
    from faithline.interp.capture import CaptureConfig
    from faithline.interp.describe import DescribeConfig
    from faithline.interp.gap import GapConfig
    from faithline.interp.probes import ProbeConfig
    from faithline.interp.sae import SAETrainConfig

    parent = add("interp", _no_subcommand, DOC)
    subs = parent.add_subparsers(dest="interp_command", metavar="COMMAND")
    cap = _sub(parent, subs, "capture", cmd_capture, "faithline.interp.capture")
    cap.add_argument("transcripts", help="Transcript JSONL file")
    add_config_args(cap, CaptureConfig)
    probe = _sub(parent, subs, "probe", cmd_probe, "faithline.interp.probes")
    probe.add_argument("store", help="activation store (from faithline interp capture)")
    add_config_args(probe, ProbeConfig)
    sae = _sub(parent, subs, "sae", cmd_sae, "faithline.interp.sae")
    sae.add_argument("store", help="activation store (from faithline interp capture)")
    add_config_args(sae, SAETrainConfig)
    desc = _sub(parent, subs, "describe", cmd_describe, "faithline.interp.describe")
    desc.add_argument("source", help="SAELens SAE directory, or an activation store")
    add_config_args(desc, DescribeConfig, skip=("source",))
    gap = _sub(parent, subs, "gap", cmd_gap, "faithline.interp.gap")
    gap.add_argument("stores", nargs="+", help="activation store(s) of labelled transcripts")
    add_config_args(gap, GapConfig)
