"""The Face under several training processes (``accelerate launch --config_file
configs/ddp.yaml``): its update averages gradients across processes, so the copies stay one Face.

Two real processes (``torch.multiprocessing``, gloo on the CPU) each hold a Face copy of the
tiny organism, sample different answers (different seeds) and take one update: without the
average their copies would part; with it they stay equal, and the step moved them.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

import pytest

torch = pytest.importorskip("torch")


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _worker(rank: int, folder: str, port: int, out: str) -> None:
    import torch.distributed as dist
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from faithline.train.face import FaceLearner

    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port))
    torch.set_num_threads(1)
    dist.init_process_group("gloo", rank=rank, world_size=2)
    try:
        tok = AutoTokenizer.from_pretrained(folder)
        model = AutoModelForCausalLM.from_pretrained(folder, dtype=torch.float32)
        start = [p.detach().clone() for p in model.parameters()]
        face = FaceLearner(model, tok, lr=1e-2, single_token=True, seed=rank)
        texts = [f"flip {i} H T H" for i in range(8)]
        answers = face.sample(texts, step=rank)
        # Each process its own rewards (and draws): alone, the two copies would step apart
        rewards = [[1.0, 0.0, 0.0, 0.0, 1.0, 0.0, 1.0, 0.0],
                   [0.0, 1.0, 1.0, 1.0, 0.0, 0.0, 0.0, 0.0]][rank]
        face.update(rewards, group=4)
        moved = max(float((p.detach() - s).abs().max()) for p, s in zip(model.parameters(), start,
                                                                  strict=True))
        flat = torch.cat([p.detach().flatten() for p in model.parameters()])
        torch.save({"params": flat, "answers": answers, "moved": moved}, f"{out}/{rank}.pt")
    finally:
        dist.destroy_process_group()


def test_face_copies_stay_equal_across_two_processes(tiny_organism: Path,
                                                      tmp_path: Path) -> None:
    import torch.multiprocessing as mp

    mp.spawn(_worker, args=(str(tiny_organism), _free_port(), str(tmp_path)), nprocs=2,
             join=True)
    a, b = (torch.load(tmp_path / f"{r}.pt") for r in (0, 1))
    assert a["moved"] > 0 and b["moved"] > 0  # a real step
    assert torch.equal(a["params"], b["params"])  # one Face, not two
