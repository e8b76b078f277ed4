"""Reading activations: what a model computes but its chain of thought may not say.

- ``align``: the exact text fed to the model for a transcript, and which tokens are prompt,
  CoT (and which CoT step), answer cue and answer.
- ``store`` / ``capture``: forward-hook capture at named module paths, streamed to disk in
  safetensors shards with a JSONL index (resumable, larger than memory).
- ``probes``: logistic-regression probes on pooled activations, split by transcript.
- ``sae``: sparse autoencoders trained with SAELens on stored activations; SAELens format.
- ``describe``: automatic descriptions of units (SAE features, MLP neurons) from reasoning
  traces, scored by detection and simulation against shuffled descriptions.
- ``monitor`` / ``gap``: activation monitors with the text-monitor interface, and the F1 gap
  between the best activation monitor and the best text monitor.

CLI: ``faithline interp capture | probe | sae | describe | gap`` (see ``faithline.interp.cli``).
"""

from __future__ import annotations

from collections.abc import Callable

from faithline.monitors.base import Monitor
from faithline.monitors.specs import MONITORS, SpecContext


def _activation_monitor(kind: str) -> Callable[[str, SpecContext], Monitor]:
    def build(rest: str, ctx: SpecContext) -> Monitor:
        from faithline.interp.monitor import load_activation_monitor

        return load_activation_monitor(f"{kind}:{rest}")  # the model comes from the store

    return build


MONITORS.register("probe", _activation_monitor("probe"), grammar="probe:DIR[@N]",
                  help="a probe on activations (faithline interp probe); default its best")
MONITORS.register("features", _activation_monitor("features"), grammar="features:FILE[@N]",
                  help="an SAE-feature monitor written by faithline interp gap")

from faithline.config import COMMANDS  # noqa: E402

COMMANDS.register("interp", "faithline.interp.cli:install")
