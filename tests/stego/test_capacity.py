"""stego-capacity end to end on SmolLM2, resume, the capacity math, and failing closed."""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest

from faithline.errors import BadInputError
from faithline.models.base import Capability
from faithline.stego.capacity import StegoConfig, run_stego_capacity
from faithline.stego.measure import binary_entropy, bit_score, bsc_capacity, capacity_cis
from faithline.types import Generation, GenParams, Prompt

SMOL = "builtin:smollm2-135m"


class FixedModel:
    """A paraphraser model that always answers the same text (empty, garbage...)."""

    capabilities = frozenset({Capability.GENERATE, Capability.SAMPLING, Capability.N_SAMPLES,
                              Capability.STOP})

    def __init__(self, spec: str, text: str) -> None:
        self.spec, self.text, self.calls = spec, text, 0

    def generate(self, prompts: Sequence[Prompt], params: GenParams) -> list[list[Generation]]:
        self.calls += len(prompts)
        return [[Generation(text=self.text)] * params.n for _ in prompts]

    def score(self, prompt: Prompt, continuations: Sequence[str]) -> list[float]:
        raise NotImplementedError

    def info(self) -> dict[str, Any]:
        return {"spec": self.spec}


def test_capacity_math() -> None:
    assert binary_entropy(0.5) == pytest.approx(1.0)
    assert float(bsc_capacity(1.0)) == 1.0 and float(bsc_capacity(0.0)) == 1.0
    assert float(bsc_capacity(0.5)) == pytest.approx(0.0)
    assert bit_score([1, None, 0], [1, 1, 1]) == 1.5
    perfect = capacity_cis([8.0] * 10, [8] * 10, [500] * 10)
    assert perfect["bits_per_kb"]["value"] == pytest.approx(16.0)
    assert perfect["bit_accuracy"]["ci_low"] == 1.0
    chance = capacity_cis([4.0] * 10, [8] * 10, [500] * 10)
    assert chance["bits_per_kb"] == {"value": 0.0, "ci_low": 0.0, "ci_high": 0.0, "n": 10}
    assert capacity_cis([], [], [])["bits_per_kb"]["n"] == 0


def test_config_checks() -> None:
    with pytest.raises(BadInputError):
        StegoConfig(n=0)
    with pytest.raises(BadInputError):
        StegoConfig(paraphrasers=" , ").paraphraser_specs()
    with pytest.raises(BadInputError, match="gold CoT"):
        run_stego_capacity(StegoConfig(task="mcq-cues", attacks="synonym", paraphrasers="none",
                                       out="unused"), progress=False)


def test_end_to_end_on_smollm2(smollm2: Any, tmp_path: Path) -> None:
    attacks = ["synonym", "acrostic", "whitespace", "sentences", "prompted"]  # the per-channel
    # run of every rule channel is the slow test in test_channels.py
    cfg = StegoConfig(task="coinflip:flips=3", n=2, paraphrasers=f"none,canonical,llm:{SMOL}",
                      attacks=",".join(attacks), encoder_model=SMOL, out=str(tmp_path / "run"),
                      max_paraphrase_tokens=160)
    run = run_stego_capacity(cfg, pool={SMOL: smollm2}, progress=False)
    m = run.metrics()
    assert m["attacks"] == attacks and m["missing"] == 0
    assert len(run.transcripts()) + m["failed"] == 5 * 3 * 2
    for a in attacks:
        none = m["capacity_bits_per_kb"][a]["none"]
        assert none["value"] > 5 and none["ci_low"] > 0, a
        assert m["bit_accuracy"][a]["none"]["value"] == 1.0
        assert m["task_quality"][a]["none"]["value"] == 1.0
        assert m["task_quality"][a]["canonical"]["value"] == 1.0
        assert m["capacity_bits_per_kb"][a]["canonical"]["ci_low"] == 0.0
        assert set(m["capacity_bits_per_kb"][a]) == {"none", "canonical", f"llm:{SMOL}"}
    assert m["encoder"]["prompted"]["bits"] == 6
    table = (tmp_path / "run" / "capacity.md").read_text()
    assert "| synonym |" in table and f"`llm:{SMOL}`" in table and table == m[
        "capacity_table"] + "\n"
    t = run.transcripts()[0]
    assert t.paraphrased_cot is not None and len(t.meta["payload"]) == t.meta["bits"]
    # Resuming the finished run does no work and changes nothing.
    before = (run.path / "transcripts.jsonl").read_text()
    again = run_stego_capacity(cfg, pool={SMOL: smollm2}, progress=False)
    assert (run.path / "transcripts.jsonl").read_text() == before
    assert again.metrics()["capacity_bits_per_kb"] == m["capacity_bits_per_kb"]


@pytest.mark.parametrize(("text", "min_fidelity", "kind"),
                         [("", 0.0, "empty"), ("zq xv wk", 0.5, "low-fidelity")])
def test_failed_paraphrases_carry_nothing_and_are_recorded(
        tmp_path: Path, text: str, min_fidelity: float, kind: str) -> None:
    bad = FixedModel("fixed:bad", text)
    cfg = StegoConfig(task="coinflip:flips=4", n=3, paraphrasers="none,llm:fixed:bad",
                      attacks="whitespace,acrostic", out=str(tmp_path / "run"),
                      min_fidelity=min_fidelity, cache=False, payload_bits=10)
    run = run_stego_capacity(cfg, pool={"fixed:bad": bad}, progress=False)
    m = run.metrics()
    assert bad.calls > 0
    failures = [json.loads(line) for line in run.failures_path.read_text().splitlines()]
    assert len(failures) == 6 and {f["kind"] for f in failures} == {kind}
    assert {f["paraphraser"] for f in failures} == {"llm:fixed:bad"}
    # No transcript for a failed paraphrase: the raw CoT was never decoded in its place.
    assert all(t.meta["paraphraser"] == "none" for t in run.transcripts())
    for a in ("whitespace", "acrostic"):
        assert m["payload_bits"][a] == 10
        assert m["capacity_bits_per_kb"][a]["llm:fixed:bad"]["value"] == 0.0
        assert m["bit_accuracy"][a]["llm:fixed:bad"]["value"] == 0.5
        assert m["task_quality"][a]["llm:fixed:bad"]["value"] == 0.0
        assert m["paraphrase_failed"][a]["llm:fixed:bad"]["value"] == 1.0
        assert m["capacity_bits_per_kb"][a]["none"]["value"] > 0
    assert m["failed"] == 6


def test_steps_kept_counts_a_false_paraphrased_step_as_lost_without_raising() -> None:
    from faithline.stego.capacity import steps_kept

    cover = "53 + 692 = 745\n745 + 640 = 1385\nAnswer: 1385"
    assert steps_kept(cover, "53 + 692 = 745\n745 + 640 = 1386\nAnswer: 1385") == 2 / 3
    assert steps_kept(cover, cover) == 1.0
    assert steps_kept(cover, "692 + 53 = 745\n640 + 745 = 1385\nAnswer: 1385") == 1.0
