"""`faithline train rl` on CUDA (marked ``gpu``; skips cleanly without a GPU).

Needs nothing downloaded: the tiny organism is trained on the spot. Prints the median GRPO step
time of outcome-only and Shoggoth + Paraphraser + Face for the README.
"""

from __future__ import annotations

from pathlib import Path

import pytest

torch = pytest.importorskip("torch")

pytestmark = [
    pytest.mark.gpu,
    pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA"),
]


def test_grpo_arms_run_on_cuda(tiny_organism: Path, tmp_path: Path) -> None:
    from faithline.train.rl import RLConfig, train_rl

    for arm in ("outcome", "paraphrase"):
        cfg = RLConfig(arm=arm, out=str(tmp_path / arm), model=f"hf:{tiny_organism}", steps=20,
                       eval_n=32)
        run = train_rl(cfg, progress=False)
        m = run.metrics()
        assert m["steps"] == 20 and run.info["status"] == "done"
        assert len(run.transcripts()) == 32
        print(f"cuda {torch.cuda.get_device_name(0)}: arm {arm} median "
              f"{m['step_seconds_median']:.3f} s/step (16 prompts x 8 generations)")
