"""The Face's GRPO advantage is TRL's: ``group_advantages`` against the advantages a real
``GRPOTrainer`` (on the tiny organism) computes from the same rewards, a missing one included."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("trl")

from faithline.train.face import group_advantages  # noqa: E402

GROUP = 4
Rewards = Sequence[float | None]


@pytest.fixture(scope="module")
def trl_advantages(tiny_organism: Path, tmp_path_factory: pytest.TempPathFactory
                   ) -> Callable[[Rewards], Any]:
    """``trl_advantages(rewards)``: the advantages TRL's own ``GRPOTrainer`` gives rollouts
    with these rewards (in groups of ``GROUP``), through its real scoring step: one reward
    function returns them, None where a rollout has no reward."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    current: list[float | None] = []

    def reward(completions: list[Any], **_: Any) -> list[float | None]:
        assert len(completions) == len(current)
        return list(current)

    n = 2 * GROUP
    args = GRPOConfig(output_dir=str(tmp_path_factory.mktemp("trl")), num_generations=GROUP,
                      per_device_train_batch_size=n, max_completion_length=2, use_cpu=True,
                      bf16=False, report_to=[], dataloader_num_workers=0, logging_steps=1)
    assert args.scale_rewards == "group"  # what faithline's GRPOConfig leaves it at
    trainer = GRPOTrainer(model=AutoModelForCausalLM.from_pretrained(tiny_organism),
                          processing_class=AutoTokenizer.from_pretrained(tiny_organism),
                          reward_funcs=[reward], args=args,
                          train_dataset=Dataset.from_dict({"prompt": ["flip"] * n}))
    trainer.model.train()

    def advantages(rewards: Rewards) -> Any:
        current[:] = list(rewards)
        out = trainer._generate_and_score_completions([{"prompt": "flip"}] * len(rewards))
        return out["advantages"].detach().cpu()

    return advantages


@pytest.mark.filterwarnings("ignore::UserWarning")  # TRL warns about the rollouts with None
def test_a_missing_reward_is_normalised_as_trl_does(
        trl_advantages: Callable[[Rewards], Any]) -> None:
    """Issue 26 item 7: with a reward missing, the group's std has Bessel's correction over the
    rewards present (TRL's ``nanstd``), not over the group size; the missing one's advantage is
    0, and so are those of a group with a single reward."""
    for rewards in ([1.0, None, 0.0, 0.0, 1.0, 0.5, None, None],
                    [None, 0.25, 1.0, -0.5, None, None, None, 2.0]):
        ours = group_advantages(rewards, GROUP)
        torch.testing.assert_close(ours, trl_advantages(rewards), rtol=1e-5, atol=1e-6)
        assert all(ours[i] == 0 for i, r in enumerate(rewards) if r is None)
    # the definition the Face used before: Bessel's correction over the whole group of 4
    r = torch.tensor([1.0, 0.0, 0.0])
    by_group_size = (1.0 - r.mean()) / ((((r - r.mean()) ** 2).mean() * 4 / 3).sqrt() + 1e-4)
    assert abs(group_advantages([1.0, None, 0.0, 0.0], GROUP)[0] - by_group_size) > 0.05


def test_with_no_missing_reward_nothing_changed(
        trl_advantages: Callable[[Rewards], Any]) -> None:
    rewards = [1.0, 0.0, 0.0, 1.0, 0.5, 0.5, 0.5, 0.5]
    ours = group_advantages(rewards, GROUP)
    torch.testing.assert_close(ours, trl_advantages(rewards), rtol=1e-5, atol=1e-6)
    r = torch.tensor(rewards).view(-1, GROUP)  # the Face's formula before the fix
    mean = r.mean(1, keepdim=True)
    std = torch.sqrt(((r - mean) ** 2).mean(1, keepdim=True) * GROUP / (GROUP - 1))
    torch.testing.assert_close(ours, ((r - mean) / (std + 1e-4)).view(-1))
    assert ours[4:].eq(0).all()  # equal rewards: nothing to learn
