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
