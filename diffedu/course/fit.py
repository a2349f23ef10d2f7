r"""The toy trainer of chapters 04, 06 and 08: Adam (Kingma & Ba 2015), with a cosine learning-rate decay
(Loshchilov & Hutter 2017) or a constant rate, on a loss that draws its own minibatch. The MNIST capstone trains in ``mnist/train.py``.
"""
from __future__ import annotations

from typing import Callable, Optional

import torch
from torch import Tensor, nn

from ..checks import require_integer, require_positive

__all__ = ["fit"]


def fit(net: nn.Module, batch_loss: Callable[[Optional[torch.Generator]], Tensor], steps: int, lr: float,
        generator: Optional[torch.Generator] = None,
        callback: Optional[Callable[[int, float], None]] = None, cosine: bool = True) -> list[float]:
    r"""Minimise ``batch_loss(generator)`` (a fresh minibatch each call) over ``net``'s parameters for ``steps`` Adam
    steps, the learning rate decaying as $\eta_k = \tfrac{\eta}{2}(1 + \cos(\pi k/\text{steps}))$ (``cosine``) or
    constant.

    Every random draw goes through ``generator``, in the order ``batch_loss`` makes them.
    Returns the loss of every step; ``callback(step, loss)`` sees them as they come. Leaves ``net`` in eval mode.
    """
    steps, lr = require_integer("steps", steps, lo=0), require_positive("lr", lr)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.CosineAnnealingLR(opt, max(steps, 1)) if cosine else None
    losses = []
    for step in range(steps):
        loss = batch_loss(generator)
        opt.zero_grad()
        loss.backward()
        opt.step()  # Adam step
        if sched is not None:
            sched.step()  # cosine decay
        losses.append(loss.item())
        if callback is not None:
            callback(step, losses[-1])
    net.eval()
    return losses
