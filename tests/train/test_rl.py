"""GRPO arms through TRL on a real (tiny) organism: metrics, transcripts, reward targeting,
resume after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from faithline.errors import BadInputError
from faithline.train import rl
from faithline.train.rl import RLConfig, train_rl
from faithline.train.rollout import ARMS


def _cfg(organism: Path, arm: str, out: Path, **kw: object) -> RLConfig:
    base: dict[str, object] = dict(arm=arm, out=str(out), model=f"hf:{organism}", steps=2,
                                   prompts=4, generations=4, eval_n=16)
    base.update(kw)
    return RLConfig(**base)  # type: ignore[arg-type]


@pytest.mark.parametrize("arm", ARMS)
def test_each_arm_trains_and_writes_labelled_transcripts(tiny_organism: Path, tmp_path: Path,
                                                         arm: str) -> None:
    run = train_rl(_cfg(tiny_organism, arm, tmp_path / arm), progress=False)
    steps = [json.loads(x) for x in (run.path / "steps.jsonl").read_text().splitlines()]
    assert [s["step"] for s in steps] == [1, 2]
    for key in ("accuracy", "hack_rate", "monitor_recall", "legibility_js", "step_seconds"):
        assert key in steps[0]
    ts = run.transcripts()
    assert len(ts) == 16 and len({t.id for t in ts}) == 16
    for t in ts:
        assert set(t.label or {}) == {"hack", "verbalized", "leaked"}
        assert t.monitor is not None and "rule-leak" in t.monitor
        assert t.label["hack"] == (bool(t.meta["wrong_leak"]) and t.answer == t.meta["leak"])
        if arm == "paraphrase":  # the canonical rewrite keeps the states, drops the rest
            assert t.paraphrased_cot is not None
            states = [w for w in t.cot.split() if w in ("H", "T")]
            if "leak" not in t.cot.split():
                assert [w for w in t.paraphrased_cot.split() if w in ("H", "T")] == states
    m = run.metrics()
    assert m["arm"] == arm and m["final"]["accuracy"]["n"] == 16
    assert m["curves"]["accuracy"]["x"] == [1, 2]
    assert run.info["status"] == "done"
    assert (run.path / "policy" / "config.json").is_file()  # loadable as hf:RUN/policy
    assert (run.path / "face").is_dir() == (arm in ("face", "paraphrase"))


def test_face_arms_reward_the_shoggoth_by_the_grader_only(tiny_organism: Path,
                                                          tmp_path: Path) -> None:
    """Reward targeting: the Shoggoth's reward ignores the monitor; the Face's includes it."""
    seen: list[tuple[list[float], list[float], list[float]]] = []
    original = rl.ArmRollouts.__call__

    def spy(self: rl.ArmRollouts, prompts: list[object], trainer: object) -> dict[str, object]:
        out = original(self, prompts, trainer)
        seen.append((list(out["arm_reward"]), [r.grade for r in self.last_rollouts],
                     [r.face_reward for r in self.last_rollouts]))
        return out

    rl.ArmRollouts.__call__ = spy  # type: ignore[method-assign]
    try:
        train_rl(_cfg(tiny_organism, "face", tmp_path / "f", penalty=5.0), progress=False)
        train_rl(_cfg(tiny_organism, "pressure", tmp_path / "p", penalty=5.0), progress=False)
    finally:
        rl.ArmRollouts.__call__ = original  # type: ignore[method-assign]
    face, pressure = seen[:2], seen[2:]
    for shoggoth, grade, _ in face:
        assert shoggoth == grade
    for policy, grade, _ in pressure:
        assert all(p <= g for p, g in zip(policy, grade, strict=True))


def test_interrupted_run_resumes_without_duplicate_steps(tiny_organism: Path,
                                                         tmp_path: Path) -> None:
    cfg = _cfg(tiny_organism, "outcome", tmp_path / "r", steps=4, save_every=2)
    calls = {"n": 0}
    original = rl.ArmRollouts.__call__

    def dies_at_step_4(self: rl.ArmRollouts, prompts: list[object],
                       trainer: object) -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, prompts, trainer)

    rl.ArmRollouts.__call__ = dies_at_step_4  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            train_rl(cfg, progress=False)
    finally:
        rl.ArmRollouts.__call__ = original  # type: ignore[method-assign]
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert info["status"] == "interrupted"
    run = train_rl(cfg, progress=False)
    steps = [json.loads(x)["step"] for x in (run.path / "steps.jsonl").read_text().splitlines()]
    assert steps == [1, 2, 3, 4]
    assert run.info["status"] == "done" and len(run.transcripts()) == 16


def test_run_cut_short_during_evaluation_does_not_train_again(tiny_organism: Path,
                                                              tmp_path: Path) -> None:
    cfg = _cfg(tiny_organism, "outcome", tmp_path / "e")
    original = rl._evaluate

    def dies(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    rl._evaluate = dies  # type: ignore[assignment]
    try:
        with pytest.raises(KeyboardInterrupt):
            train_rl(cfg, progress=False)
    finally:
        rl._evaluate = original  # type: ignore[assignment]
    calls = {"n": 0}
    rollout = rl.ArmRollouts.__call__

    def counting(self: rl.ArmRollouts, prompts: list[object],
                 trainer: object) -> dict[str, object]:
        calls["n"] += 1
        return rollout(self, prompts, trainer)

    rl.ArmRollouts.__call__ = counting  # type: ignore[method-assign]
    try:
        run = train_rl(cfg, progress=False)
    finally:
        rl.ArmRollouts.__call__ = rollout  # type: ignore[method-assign]
    assert calls["n"] == 0 and len(run.transcripts()) == 16
    steps = (run.path / "steps.jsonl").read_text().splitlines()
    assert len(steps) == 2


def test_bad_config_is_a_clear_error(tiny_organism: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="unknown arm 'nosuch'"):
        train_rl(_cfg(tiny_organism, "nosuch", tmp_path / "x"))
    with pytest.raises(BadInputError, match="generations >= 2"):
        train_rl(_cfg(tiny_organism, "outcome", tmp_path / "y", generations=1))


def test_training_time_monitors_and_legibility_arm_are_logged(tiny_organism: Path,
                                                              tmp_path: Path) -> None:
    run = train_rl(_cfg(tiny_organism, "legibility", tmp_path / "l", monitors="rule:leak",
                        monitor_every=2, legibility_metrics=True), progress=False)
    steps = [json.loads(x) for x in (run.path / "steps.jsonl").read_text().splitlines()]
    assert "monitor/rule:leak/flag_rate" not in steps[0]  # every 2 steps
    assert 0.0 <= steps[1]["monitor/rule:leak/flag_rate"] <= 1.0
    assert steps[1]["monitor/rule:leak/failed"] == 0.0
    assert steps[1]["legibility/perplexity"] > 1.0 and steps[1]["legibility/alarm"] in (0.0, 1.0)
    assert all(s["legibility_reward"] < 0 for s in steps)  # weight x clipped log-likelihood


def test_monitor_stats_counts_recall_and_fpr_against_labels() -> None:
    from faithline.monitors import get_monitor
    from faithline.train.callbacks import monitor_stats
    from faithline.types import Transcript

    def t(cot: str, hack: bool) -> Transcript:
        return Transcript(id=cot, prompt="p", cot=cot, answer="H", label={"hack": hack})

    ts = [t("use leak H", True), t("T H H", True), t("T T H", False), t("leak H", False)]
    stats = monitor_stats(get_monitor("rule:leak"), ts)
    assert stats["recall"] == 0.5 and stats["fpr"] == 0.5 and stats["flag_rate"] == 0.5
