r"""Several processes, one training run: PyTorch's DistributedDataParallel under ``torchrun`` (chapter 12).

    python -m torch.distributed.run --standalone --nproc_per_node=N -m diffedu train mnist --batch B …

``torchrun`` starts N processes and sets ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE``; outside it every function here
is a no-op and training is the single-process loop, unchanged. Under it:

* the backend is NCCL on CUDA (process r uses GPU ``LOCAL_RANK``) and gloo on the CPU;
* ``DistributedDataParallel`` broadcasts rank 0's initial weights and averages the gradients after every backward,
  so the N copies stay equal; each rank draws its own B examples and noise from its own generator (seed ``seed +
  RANK·1000003``, see :func:`rank_generator`): the **global batch is B × N** and the step is the gradient of the
  mean of the N per-rank losses, the same as one process's step on the N batches together;
* the ranks agree on when to stop (:func:`agree_to_stop`: a time budget is read on rank 0's clock), and only rank 0
  shows progress, evaluates and writes the checkpoint and card (which records ``world_size`` and ``global_batch``).
"""
from __future__ import annotations

import atexit
import os

import torch
import torch.distributed as dist
from torch import nn
from torch.nn.parallel import DistributedDataParallel

__all__ = ["world_size", "rank", "is_main", "setup", "rank_generator", "wrap", "agree_to_stop", "card_fields"]

RANK_SEED_STRIDE = 1_000_003  # rank r draws from seed + r·stride: far from the seeds of neighbouring runs


def world_size() -> int:
    """The number of processes torchrun started (1 outside torchrun)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def rank() -> int:
    """This process's rank, 0 … world_size − 1 (0 outside torchrun)."""
    return int(os.environ.get("RANK", "0"))


def is_main() -> bool:
    """True on rank 0, the only process that logs, evaluates and writes files."""
    return rank() == 0


def setup(device: torch.device) -> torch.device:
    """Join the process group once (NCCL for CUDA, gloo for the CPU) and return this rank's device: on CUDA the GPU
    ``LOCAL_RANK``. Outside torchrun: ``device`` unchanged and nothing started."""
    if world_size() == 1:
        return device
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    if not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
        atexit.register(dist.destroy_process_group)
    return device


def rank_generator(seed: int) -> torch.Generator:
    """The CPU generator of this rank's batches and noise: ``seed`` itself on rank 0 (so a single process is the run
    it always was), ``seed + rank·RANK_SEED_STRIDE`` on the others."""
    return torch.Generator().manual_seed(int(seed) + rank() * RANK_SEED_STRIDE)


def wrap(net: nn.Module, step_fn: nn.Module, device: torch.device) -> nn.Module:
    """The module a training step calls: ``step_fn`` alone, or under torchrun ``DistributedDataParallel(net)``
    (compiled again if ``step_fn`` was ``torch.compile(net)``)."""
    if world_size() == 1:
        return step_fn
    ddp = DistributedDataParallel(net, device_ids=[device.index] if device.type == "cuda" else None)
    return ddp if step_fn is net else torch.compile(ddp)


def agree_to_stop(stop: bool, device: torch.device) -> bool:
    """Rank 0's decision to stop, the same on every rank (a rank that stopped alone would hang the others' next
    gradient average)."""
    if world_size() == 1:
        return stop
    flag = torch.tensor([1.0 if stop else 0.0], device=device)
    dist.broadcast(flag, src=0)
    return bool(flag.item())


def card_fields(batch: int) -> dict:
    """What the model card records about the distribution: world size, per-rank and global batch."""
    return dict(world_size=world_size(), batch_per_rank=int(batch), global_batch=int(batch) * world_size())
