"""``torchrun --nproc_per_node=2 -m diffedu train mnist`` on the CPU (gloo) against one process doing the same math.

Oracle: DistributedDataParallel averages the two ranks' gradients, so each step is the gradient of the mean of the
two per-rank losses; one process that draws both ranks' batches and noise from the same generators
(``distributed.rank_generator``: seed and seed + 1000003) and steps Adam on the mean of the two losses must end at
the same weights (float32 tolerance: the all-reduce sums in another order). Cost: about 15–25 s on 2 cores (two
interpreters start and load MNIST), so it is marked slow.
"""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from diffedu.mnist import distributed
from diffedu.mnist.data import load_mnist
from diffedu.mnist.models import OBJECTIVES
from diffedu.mnist.pretrained import read_weights
from diffedu.mnist.train import _batches, _model

ROOT = Path(__file__).resolve().parents[1]
STEPS, BATCH, SEED, LR = 3, 4, 0, 1e-3


def _one_process_on_both_batches(objective: str) -> dict:
    """The oracle: Adam on the mean of rank 0's and rank 1's losses, each with its own generator and batches."""
    torch.manual_seed(SEED)
    data = load_mnist()
    net, _, _, opt, process, _ = _model(objective, (8, 8), 1, None, torch.device("cpu"), LR, False)
    gens = [torch.Generator().manual_seed(SEED + r * distributed.RANK_SEED_STRIDE) for r in range(2)]
    streams = [_batches(data.x_train, data.y_train, BATCH, 0.1, g) for g in gens]
    for _ in range(STEPS):
        losses = []
        for g, stream in zip(gens, streams):
            x0, y = next(stream)
            losses.append(OBJECTIVES[objective][2](net, x0, process, generator=g, y=y))
        opt.zero_grad(set_to_none=True)
        (sum(losses) / 2).backward()
        opt.step()
    return net.state_dict()


@pytest.mark.slow
def test_torchrun_two_ranks_equal_one_process_on_the_combined_batch(tmp_path):
    objective = "edm"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2", "-m", "diffedu",
           "train", "mnist", "--objective", objective, "--steps", str(STEPS), "--batch", str(BATCH), "--channels",
           "8,8", "--lr", str(LR), "--ema", "0", "--seed", str(SEED), "--device", "cpu", "--no-progress",
           "--out", str(tmp_path), "--name", "ddp"]
    env = dict(os.environ, OMP_NUM_THREADS="1", PYTHONPATH=str(ROOT))
    run = subprocess.run(cmd, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert run.stdout.count("wrote") == 1  # rank 0 alone writes
    card = json.loads((tmp_path / "ddp.json").read_text())
    assert (card["world_size"], card["batch_per_rank"], card["global_batch"]) == (2, BATCH, 2 * BATCH)
    got = read_weights("ddp", tmp_path, card)  # --ema 0: the EMA copy is the trained net itself
    want = _one_process_on_both_batches(objective)
    assert got.keys() == want.keys()
    torch.manual_seed(SEED)
    start = _model(objective, (8, 8), 1, None, torch.device("cpu"), LR, False)[0].state_dict()
    assert max(float((got[k] - start[k]).abs().max()) for k in start) > 1e-4  # the three steps moved the weights
    assert card["steps"] == STEPS
