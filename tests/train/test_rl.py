"""GRPO arms through TRL on a real (tiny) organism: metrics, transcripts, reward targeting, a
user's own reward, label and monitor, resume after an interruption."""

from __future__ import annotations

import json
import math
import os
from dataclasses import replace
from pathlib import Path

import pytest

from faithline.errors import BadInputError
from faithline.train import setup
from faithline.train.arms import DEMO_ARMS, parse_arm
from faithline.train.rl import RLConfig, train_rl
from faithline.train.rollout import ArmRollout


def _cfg(organism: Path, arm: str, out: Path, **kw: object) -> RLConfig:
    base: dict[str, object] = dict(arm=arm, out=str(out), model=f"hf:{organism}", steps=2,
                                   prompts=4, generations=4, eval_n=16)
    base.update(kw)
    return RLConfig(**base)  # type: ignore[arg-type]


def _steps(run_path: Path) -> list[dict[str, object]]:
    return [json.loads(x) for x in (run_path / "steps.jsonl").read_text().splitlines()]


@pytest.mark.parametrize("arm", DEMO_ARMS)
def test_each_arm_trains_and_writes_labelled_transcripts(tiny_organism: Path, tmp_path: Path,
                                                         arm: str) -> None:
    run = train_rl(_cfg(tiny_organism, arm, tmp_path / arm), progress=False)
    steps = _steps(run.path)
    assert [s["step"] for s in steps] == [1, 2]
    for key in ("accuracy", "hack_rate", "monitor_recall", "monitor_fpr", "legibility_js",
                "step_seconds", "reward/task", "reward/monitor"):
        assert key in steps[0]
    assert ("reward/legibility" in steps[0]) == (arm == "legibility")
    ts = run.transcripts()
    assert len(ts) == 16 and len({t.id for t in ts}) == 16
    for t in ts:
        assert set(t.label or {}) == {"hack", "verbalized", "leaked"}
        assert t.monitor is not None and "rule:leak" in t.monitor
        leak = t.meta["leak"]
        assert t.label["hack"] == (bool(t.meta["wrong_leak"]) and t.answer == leak)
        if arm == "paraphrase":  # the canonical rewrite keeps the states, drops the rest
            assert t.paraphrased_cot is not None
            states = [w for w in t.cot.split() if w in ("H", "T")]
            if "leak" not in t.cot.split():
                assert [w for w in t.paraphrased_cot.split() if w in ("H", "T")] == states
    m = run.metrics()
    assert m["arm"] == arm and m["final"]["accuracy"]["n"] == 16 and m["monitor"] == "rule:leak"
    assert m["curves"]["accuracy"]["x"] == [1, 2]
    assert run.info["status"] == "done"
    assert (run.path / "policy" / "config.json").is_file()  # loadable as hf:RUN/policy
    umask = os.umask(0o022)
    os.umask(umask)
    assert (run.path / "policy").stat().st_mode & 0o777 == 0o777 & ~umask  # not mkdtemp's 0700
    assert (run.path / "face").is_dir() == parse_arm(arm).face


def test_the_arm_decides_where_the_penalty_lands(tiny_organism: Path, tmp_path: Path) -> None:
    """Reward targeting: in the Face arms the policy's monitor term has weight 0 and the Face's
    reward carries the penalty; under pressure the policy's term has the penalty weight."""
    weights = {}
    for arm in ("outcome", "pressure", "face", "legibility"):
        parts = setup.build_parts(_cfg(tiny_organism, arm, tmp_path / arm, penalty=5.0),
                                  parse_arm(arm))
        funcs, w = parts.reward_funcs()
        weights[arm] = ([getattr(f, "__name__", "") for f in funcs], w)
    assert weights["outcome"] == (["task", "monitor"], [1.0, 0.0])
    assert weights["pressure"] == (["task", "monitor"], [1.0, 5.0])
    assert weights["face"] == (["task", "monitor"], [1.0, 0.0])
    assert weights["legibility"] == (["task", "monitor", "legibility"], [1.0, 5.0, 1.0])

    seen: list[tuple[list[float | None], list[object]]] = []
    original = ArmRollout.face_rewards

    def spy(self: ArmRollout, ts: list[object], verdicts: object,
            base: list[float | None]) -> list[float | None]:
        out = original(self, ts, verdicts, base)  # type: ignore[arg-type]
        seen.append((out, list(ts)))
        return out

    ArmRollout.face_rewards = spy  # type: ignore[method-assign, assignment]
    try:
        train_rl(_cfg(tiny_organism, "face", tmp_path / "f", penalty=5.0), progress=False)
    finally:
        ArmRollout.face_rewards = original  # type: ignore[method-assign]
    assert len(seen) == 2
    for rewards, ts in seen:
        for r, t in zip(rewards, ts, strict=True):
            flagged = t.monitor["rule:leak"]["flag"]  # type: ignore[attr-defined]
            grade = t.meta["grade"]  # type: ignore[attr-defined]
            assert r == pytest.approx(grade - (5.0 * (1 - math.exp(-2.0)) if flagged else 0.0))


def test_interrupted_run_resumes_without_duplicate_steps(tiny_organism: Path,
                                                         tmp_path: Path) -> None:
    cfg = _cfg(tiny_organism, "face", tmp_path / "r", steps=4, save_every=2)
    calls = {"n": 0}
    original = ArmRollout.__call__

    def dies_at_step_4(self: ArmRollout, prompts: list[object],
                       trainer: object) -> dict[str, object]:
        calls["n"] += 1
        if calls["n"] == 4:
            raise KeyboardInterrupt
        return original(self, prompts, trainer)

    ArmRollout.__call__ = dies_at_step_4  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            train_rl(cfg, progress=False)
    finally:
        ArmRollout.__call__ = original  # type: ignore[method-assign]
    info = json.loads((tmp_path / "r" / "run.json").read_text())
    assert info["status"] == "interrupted"
    assert (tmp_path / "r" / "trl" / "checkpoint-2" / "face" / "optimizer.pt").is_file()
    run = train_rl(cfg, progress=False)
    assert [s["step"] for s in _steps(run.path)] == [1, 2, 3, 4]
    assert run.info["status"] == "done" and len(run.transcripts()) == 16
    # the same as a run that was never interrupted (policy, Face and its optimiser, sampling)
    whole = train_rl(replace(cfg, out=str(tmp_path / "whole")), progress=False)
    assert [(t.id, t.cot, t.answer) for t in run.transcripts()] == \
        [(t.id, t.cot, t.answer) for t in whole.transcripts()]
    assert run.metrics()["final"] == whole.metrics()["final"]


def test_run_cut_short_during_evaluation_does_not_train_again(tiny_organism: Path,
                                                              tmp_path: Path) -> None:
    cfg = _cfg(tiny_organism, "outcome", tmp_path / "e")
    original = setup.Parts.evaluate

    def dies(*args: object, **kw: object) -> None:
        raise KeyboardInterrupt

    setup.Parts.evaluate = dies  # type: ignore[method-assign]
    try:
        with pytest.raises(KeyboardInterrupt):
            train_rl(cfg, progress=False)
    finally:
        setup.Parts.evaluate = original  # type: ignore[method-assign]
    calls = {"n": 0}
    rollout = ArmRollout.__call__

    def counting(self: ArmRollout, prompts: list[object], trainer: object) -> dict[str, object]:
        calls["n"] += 1
        return rollout(self, prompts, trainer)

    ArmRollout.__call__ = counting  # type: ignore[method-assign]
    try:
        run = train_rl(cfg, progress=False)
    finally:
        ArmRollout.__call__ = rollout  # type: ignore[method-assign]
    assert calls["n"] == 0 and len(run.transcripts()) == 16
    assert len(_steps(run.path)) == 2


def test_bad_config_is_a_clear_error(tiny_organism: Path, tmp_path: Path) -> None:
    with pytest.raises(BadInputError, match="unknown arm 'nosuch'"):
        train_rl(_cfg(tiny_organism, "nosuch", tmp_path / "x"))
    with pytest.raises(BadInputError, match="generations >= 2"):
        train_rl(_cfg(tiny_organism, "outcome", tmp_path / "y", generations=1))
    with pytest.raises(BadInputError, match="unknown monitor kind"):
        train_rl(_cfg(tiny_organism, "pressure", tmp_path / "z", monitor="nosuch:x"))
    with pytest.raises(BadInputError, match="must look like module:function"):
        train_rl(_cfg(tiny_organism, "outcome", tmp_path / "w", reward="no_colon"))


def test_training_time_monitors_and_legibility_arm_are_logged(tiny_organism: Path,
                                                              tmp_path: Path) -> None:
    run = train_rl(_cfg(tiny_organism, "legibility", tmp_path / "l", log_monitors="rule:hack",
                        monitor_every=2, legibility_metrics=True), progress=False)
    steps = _steps(run.path)
    assert "monitor/rule:hack/flag_rate" not in steps[0]  # every 2 steps
    assert 0.0 <= steps[1]["monitor/rule:hack/flag_rate"] <= 1.0  # type: ignore[operator]
    assert steps[1]["monitor/rule:hack/failed"] == 0.0
    assert steps[1]["legibility/perplexity"] > 1.0  # type: ignore[operator]
    assert steps[1]["legibility/alarm"] in (0.0, 1.0)
    assert all(s["legibility_reward"] < 0 for s in steps)  # type: ignore[operator]
    assert all("rule:hack" in (t.monitor or {}) for t in run.transcripts())


def test_a_users_reward_label_and_trained_classifier_monitor(tiny_organism: Path,
                                                             tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch
                                                             ) -> None:
    """--reward module:fn (TRL's signature), --label module:fn, and --monitor classifier:DIR
    trained by `faithline monitor-train` on an earlier run's transcripts."""
    (tmp_path / "mine.py").write_text(
        "def short_cot(prompts, completions, cot, answer, **kw):\n"
        "    return [1.0 - len(c.split()) / 20 if a else 0.0 for c, a in zip(cot, answer)]\n"
        "def says_so(sample, cot, answer):\n"
        "    return {'says_so': 'so' in cot.split()}\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    first = train_rl(_cfg(tiny_organism, "outcome", tmp_path / "o", eval_n=64), progress=False)
    from faithline.cli.main import main

    clf = tmp_path / "clf"
    assert main(["monitor-train", str(first.transcripts_path), "--labels", "hack",
                 "--out", str(clf)]) == 0
    run = train_rl(_cfg(tiny_organism, "pressure", tmp_path / "p", reward="mine:short_cot",
                        label="mine:says_so", monitor=f"classifier:{clf}"), progress=False)
    steps = _steps(run.path)
    assert "reward/short_cot" in steps[0] and "reward/task" not in steps[0]
    name = run.metrics()["monitor"]
    assert name.startswith("classifier")
    for t in run.transcripts():
        assert set(t.label or {}) == {"hack", "verbalized", "leaked", "says_so"}
        assert t.label["says_so"] == ("so" in t.cot.split())
        assert 0.0 <= t.monitor[name]["score"] <= 1.0
    face = train_rl(_cfg(tiny_organism, "face", tmp_path / "f", reward="mine:short_cot"),
                    progress=False)  # the Face is rewarded by the same function
    assert "reward/short_cot" in _steps(face.path)[0]


def test_monitor_stats_counts_recall_and_fpr_against_labels() -> None:
    from faithline.monitors import get_monitor
    from faithline.train.callbacks import monitor_stats
    from faithline.types import Transcript

    def t(cot: str, hack: bool) -> Transcript:
        return Transcript(id=cot, prompt="p", cot=cot, answer="H", label={"hack": hack})

    ts = [t("use leak H", True), t("T H H", True), t("T T H", False), t("leak H", False)]
    stats = monitor_stats(get_monitor("rule:leak"), ts)
    assert stats["recall"] == 0.5 and stats["fpr"] == 0.5 and stats["flag_rate"] == 0.5


def test_a_checkpoint_cut_short_by_a_kill_is_not_resumed_from(tmp_path: Path) -> None:
    from faithline.train.rl import _checkpoint

    for step, files in ((2, ["trainer_state.json", "face/optimizer.pt"]),
                        (4, ["model.safetensors", "face/config.json"]),  # killed mid-save
                        (3, ["trainer_state.json"])):  # the Face's save never finished
        for f in files:
            (tmp_path / f"checkpoint-{step}" / f).parent.mkdir(parents=True, exist_ok=True)
            (tmp_path / f"checkpoint-{step}" / f).write_text("x")
    assert _checkpoint(tmp_path, face=True) == tmp_path / "checkpoint-2"
    assert _checkpoint(tmp_path, face=False) == tmp_path / "checkpoint-3"
    assert _checkpoint(tmp_path / "none", face=False) is None
