r"""Training on MNIST: ``python -m diffedu train mnist|classifier [options]`` (chapter 12).

One loop for three objectives, all from ``diffedu.losses``:

* ``ddpm``: ε-prediction on ``DiscreteDDPM`` (Ho et al. 2020), ``eps_loss``;
* ``flow``: velocity on ``RectifiedFlow`` (Liu et al. 2023; Lipman et al. 2023), ``flow_matching_loss``;
* ``edm``: the preconditioned denoiser $D_x$ on ``EDM`` (Karras et al. 2022), ``edm_loss``.

Labels are dropped to the null class 10 with probability ``--p-uncond`` (so one net is both conditional and
unconditional, as classifier-free guidance needs); the weights saved are an exponential moving average (EMA).
On CUDA: the whole set on the GPU, optional bf16 autocast + channels_last, optional ``torch.compile``.
Writes ``<out>/<name>.safetensors`` and ``<out>/<name>.json`` (the model card).
"""
from __future__ import annotations

import argparse
import copy
import json
import math
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from ..checks import require_device, require_output_path
from ..nets import NULL_CLASS
from .data import load_mnist
from .evaluate import fd_versus_wall_time
from .models import OBJECTIVES, Classifier, build_model
from .pretrained import CHECKPOINT_DIR
from .pretrained import card as read_card
from .pretrained import read_weights, save_checkpoint

__all__ = ["OBJECTIVES", "build_model", "Classifier", "drop_labels", "ema_update", "train_diffusion",
           "train_classifier", "save_checkpoint", "git_commit", "main"]

# objective → (process factory, output kind, loss, U-Net t_scale)


def drop_labels(y: Tensor, p_uncond: float, generator: torch.Generator | None = None) -> Tensor:
    """Replace each label by the null class 10 with probability ``p_uncond`` (Ho & Salimans 2022's label dropout)."""
    if not 0 <= p_uncond <= 1:
        raise ValueError(f"p_uncond must lie in [0, 1]; got {p_uncond}")
    u = torch.rand(y.shape, generator=generator).to(y.device)
    return torch.where(u < p_uncond, torch.full_like(y, NULL_CLASS), y)


@torch.no_grad()
def ema_update(ema: nn.Module, net: nn.Module, decay: float) -> None:
    r"""$\theta_{ema} \leftarrow d\,\theta_{ema} + (1-d)\,\theta$ for every parameter; buffers are copied."""
    if not 0 <= decay < 1:
        raise ValueError(f"ema decay must lie in [0, 1); got {decay}")
    for p_ema, p in zip(ema.parameters(), net.parameters()):
        p_ema.lerp_(p.detach(), 1 - decay)
    for b_ema, b in zip(ema.buffers(), net.buffers()):
        b_ema.copy_(b)


def git_commit() -> str:
    try:
        return subprocess.run(["git", "rev-parse", "HEAD"], cwd=Path(__file__).parent, capture_output=True,
                              text=True, timeout=10).stdout.strip() or "unknown"
    except (OSError, subprocess.SubprocessError):
        return "unknown"


def _device_name(device: torch.device) -> str:
    if device.type == "cuda":
        return f"cuda ({torch.cuda.get_device_name(device)})"
    return f"cpu ({platform.processor() or platform.machine()}, {torch.get_num_threads()} threads)"


def train_diffusion(objective: str, steps: int, batch: int = 128, lr: float = 2e-4, p_uncond: float = 0.1,
                    ema_decay: float = 0.999, seed: int = 0, device=None, bf16: bool = False,
                    compile: bool = False, channels=(32, 64, 64), blocks: int = 1, time_budget: float | None = None,
                    data=None, log_every: int = 50, progress: bool = True, callback=None,
                    snapshot_at: tuple[float, ...] = (), init: dict | None = None) -> dict:
    """Train a diffusion U-Net on MNIST; returns dict(net=EMA net, process, kind, losses, steps, wall_s, img_per_s).

    ``time_budget`` (s) stops early after that much wall time; ``callback(step, loss)`` is called every step.
    ``snapshot_at`` (s of wall time): a copy of the EMA weights is kept when training passes each of these times, in
    ``snapshots`` as [(wall_s, steps, state_dict)], so that FD can be measured against wall time afterwards.
    """
    if int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer ≥ 1; got {steps}")
    if int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be an integer ≥ 1; got {batch}")
    device = torch.device(device) if device is not None else torch.device("cpu")
    cuda = device.type == "cuda"
    if (bf16 or compile) and not cuda:
        raise ValueError("bf16 and compile are supported on CUDA only in this course; drop --bf16/--compile on CPU")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    data = data if data is not None else load_mnist(device=device)  # whole set on the device
    x_train, y_train = data.x_train.to(device), data.y_train.to(device)
    net, process, kind = build_model(objective, channels, blocks)
    if init is not None:
        net.load_state_dict(init)
    loss_fn = OBJECTIVES[objective][2]
    net = net.to(device)
    if cuda:
        net = net.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(net).eval().requires_grad_(False)
    step_fn = torch.compile(net) if compile else net
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    hist, snapshots, pending = [], [], sorted(float(s) for s in snapshot_at)
    t0 = time.perf_counter()
    bar = None
    if progress:
        from tqdm.auto import tqdm
        bar = tqdm(total=steps, desc=f"train {objective}", leave=True)
    done = 0
    for step in range(steps):
        # 1. a random batch (indices drawn on the CPU generator, so runs are reproducible)
        idx = torch.randint(0, x_train.shape[0], (batch,), generator=g).to(device)
        x0, y = x_train[idx], drop_labels(y_train[idx], p_uncond, g)
        if cuda:
            x0 = x0.contiguous(memory_format=torch.channels_last)
        # 2. the objective's loss, bf16 autocast on CUDA if asked
        with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):
            loss = loss_fn(step_fn, x0, process, generator=g, y=y)
        # 3. Adam step, then EMA
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        ema_update(ema, net, ema_decay if step > 0 else 0.0)
        done = step + 1
        val = float(loss.detach())
        if not math.isfinite(val):
            raise FloatingPointError(f"loss became {val} at step {step}; lower --lr")
        hist.append(val)
        if callback is not None:
            callback(step, val)
        elapsed = time.perf_counter() - t0
        while pending and elapsed >= pending[0]:
            pending.pop(0)
            snapshots.append((elapsed, done, copy.deepcopy(ema.state_dict())))
        if bar is not None:
            bar.update(1)
            if step % 10 == 0:
                bar.set_postfix(loss=f"{val:.4f}", img_s=f"{done * batch / elapsed:.0f}")
        if time_budget is not None and elapsed > time_budget:
            break
    if bar is not None:
        bar.close()
    wall = time.perf_counter() - t0
    return dict(net=ema, process=process, kind=kind, losses=hist, steps=done, wall_s=wall, snapshots=snapshots,
                img_per_s=done * batch / wall, batch=batch, objective=objective,
                net_config=dict(channels=list(channels), blocks=blocks), device=_device_name(device))


def train_classifier(steps: int, batch: int = 128, lr: float = 1e-3, seed: int = 0, device=None, data=None,
                     progress: bool = True) -> dict:
    """Train ``Classifier`` with Adam and light random shifts (±2 px); returns dict(net, test_accuracy, ...)."""
    if isinstance(steps, bool) or int(steps) != steps or steps < 1:
        raise ValueError(f"steps must be an integer ≥ 1; got {steps}")
    if isinstance(batch, bool) or int(batch) != batch or batch < 1:
        raise ValueError(f"batch must be an integer ≥ 1; got {batch}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a finite number > 0; got {lr}")
    steps, batch = int(steps), int(batch)
    device = torch.device(device) if device is not None else torch.device("cpu")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    data = data if data is not None else load_mnist(device=device)
    net = Classifier().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr * 3, total_steps=steps)
    t0 = time.perf_counter()
    it = range(steps)
    if progress:
        from tqdm.auto import tqdm
        it = tqdm(it, desc="train classifier")
    for _ in it:
        idx = torch.randint(0, data.x_train.shape[0], (batch,), generator=g).to(device)
        x, y = data.x_train[idx], data.y_train[idx]
        dx, dy = (int(v) for v in torch.randint(-2, 3, (2,), generator=g))
        x = torch.roll(x, shifts=(dx, dy), dims=(2, 3))  # augmentation: a small shift
        loss = nn.functional.cross_entropy(net(x), y)
        if not torch.isfinite(loss):
            raise FloatingPointError(f"the classifier's loss became {loss.item()}; lower lr (now {lr})")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        sched.step()
    wall = time.perf_counter() - t0
    net.eval()
    acc = classifier_accuracy(net, data.x_test, data.y_test)
    return dict(net=net, test_accuracy=acc, steps=steps, wall_s=wall, batch=batch, device=_device_name(device))


@torch.no_grad()
def classifier_accuracy(net: nn.Module, x: Tensor, y: Tensor, chunk: int = 1000) -> float:
    """Fraction of x whose argmax logit equals y."""
    correct = sum(int((net(x[i:i + chunk]).argmax(1) == y[i:i + chunk]).sum()) for i in range(0, len(x), chunk))
    return correct / len(x)


def _parser(target: str) -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog=f"python -m diffedu train {target}")
    if target == "mnist":
        p.add_argument("--objective", choices=sorted(OBJECTIVES), default="edm")
        p.add_argument("--channels", default="32,64,64", help="U-Net channels per level, comma-separated")
        p.add_argument("--blocks", type=int, default=1)
        p.add_argument("--p-uncond", type=float, default=0.1)
        p.add_argument("--ema", type=float, default=0.999)
        p.add_argument("--lr", type=float, default=2e-4)
        p.add_argument("--bf16", action="store_true", help="bf16 autocast + channels_last (CUDA only)")
        p.add_argument("--compile", action="store_true", help="torch.compile the net (CUDA only)")
        p.add_argument("--time-budget", type=float, default=None, help="stop after this many seconds")
        p.add_argument("--init", default=None, help="continue from this checkpoint's weights (same objective and "
                       "network); the card adds up steps and wall time")
        p.add_argument("--fd-at", default="", help="comma-separated wall times (s): FD-MNIST of the EMA weights at each "
                       "goes into the card's fd_vs_wall_time (e.g. 60,120,180)")
    else:
        p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu or cuda (default: diffedu.device())")
    p.add_argument("--out", default=str(CHECKPOINT_DIR))
    p.add_argument("--name", default=None)
    p.add_argument("--no-progress", action="store_true")
    return p


def parse_channels(text: str) -> tuple[int, ...]:
    """``--channels`` as a tuple of U-Net widths: comma-separated integers ≥ 1, else a ValueError naming the flag."""
    parts = [c.strip() for c in text.split(",")]
    if not all(c.isdigit() and int(c) >= 1 for c in parts):
        raise ValueError(f"--channels must be comma-separated integers ≥ 1; got {text!r}")
    return tuple(int(c) for c in parts)


def _check_args(target: str, args) -> tuple[torch.device, tuple, tuple]:
    """Every flag checked before any data is loaded (a bad one must not cost a training run): returns the device, the
    U-Net channels and the --fd-at times."""
    device = require_device(args.device, "--device")
    for flag, value in (("--steps", args.steps), ("--batch", args.batch)):
        if value < 1:
            raise ValueError(f"{flag} must be an integer ≥ 1; got {value}")
    if not (math.isfinite(args.lr) and args.lr > 0):
        raise ValueError(f"--lr must be a finite number > 0; got {args.lr}")
    require_output_path(args.out, "--out", directory=True)
    if args.name is not None and (not args.name or "/" in args.name or "\\" in args.name):
        raise ValueError(f"--name must be a plain file name (no folders); got {args.name!r}")
    if target == "classifier":
        return device, (), ()
    channels = parse_channels(args.channels)
    try:
        fd_at = tuple(float(s) for s in args.fd_at.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--fd-at must be comma-separated seconds; got {args.fd_at!r}") from None
    if args.blocks < 1:
        raise ValueError(f"--blocks must be an integer ≥ 1; got {args.blocks}")
    if not 0 <= args.p_uncond <= 1:
        raise ValueError(f"--p-uncond must lie in [0, 1]; got {args.p_uncond}")
    if not 0 <= args.ema < 1:
        raise ValueError(f"--ema must lie in [0, 1); got {args.ema}")
    if args.time_budget is not None and not (math.isfinite(args.time_budget) and args.time_budget > 0):
        raise ValueError(f"--time-budget must be a finite number of seconds > 0; got {args.time_budget}")
    if any(not (math.isfinite(s) and s > 0) for s in fd_at):
        raise ValueError(f"--fd-at must list finite times > 0 (s); got {args.fd_at!r}")
    return device, channels, fd_at


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] not in ("mnist", "classifier"):
        raise SystemExit("usage: python -m diffedu train mnist|classifier [options]  (see --help)")
    parser = _parser(argv[0])
    target, args = argv[0], parser.parse_args(argv[1:])
    try:
        device, channels, fd_at = _check_args(target, args)
    except ValueError as e:
        parser.error(str(e))
    command = "python -m diffedu train " + " ".join(shlex.quote(a) for a in argv)
    if target == "classifier":
        res = train_classifier(args.steps, args.batch, args.lr, args.seed, device, progress=not args.no_progress)
        card = dict(kind="classifier", net_config=res["net"].config, command=command, git_commit=git_commit(),
                    steps=res["steps"], batch=args.batch, wall_s=round(res["wall_s"], 1), device=res["device"],
                    params=sum(p.numel() for p in res["net"].parameters()),
                    test_accuracy=res["test_accuracy"], torch=torch.__version__)
        path = save_checkpoint(res["net"], args.out, args.name or "mnist-classifier", card)
        print(f"test accuracy {res['test_accuracy']:.4f}; wrote {path}")
        return 0
    init, before = None, dict(steps=0, wall_s=0.0)
    if args.init:
        before = read_card(args.init, args.out)
        if before.get("objective") != args.objective or before["net_config"] != dict(channels=list(channels),
                                                                                      blocks=args.blocks):
            raise SystemExit(f"--init {args.init}: its objective/network {before.get('objective')} "
                             f"{before.get('net_config')} differ from this run's")
        init = read_weights(args.init, Path(args.out), before)
    res = train_diffusion(args.objective, args.steps, args.batch, args.lr, args.p_uncond, args.ema, args.seed,
                          device, args.bf16, args.compile, channels, args.blocks, args.time_budget,
                          progress=not args.no_progress, snapshot_at=fd_at, init=init)
    if args.init:  # one continued run: add up what came before, and shift the FD curve by the earlier wall time
        res["steps"] += before["steps"]
        res["snapshots"] = [(w + before["wall_s"], k + before["steps"], st) for w, k, st in res["snapshots"]]
        res["wall_s"] += before["wall_s"]
    losses_hist = res["losses"]
    k = max(1, len(losses_hist) // 50)
    curve = [[i * k, sum(losses_hist[i * k:(i + 1) * k]) / len(losses_hist[i * k:(i + 1) * k])]
             for i in range(len(losses_hist) // k)]
    card = dict(kind=res["kind"], objective=args.objective, process=res["process"].name,
                net_config=res["net_config"], p_uncond=args.p_uncond, ema=args.ema, lr=args.lr,
                command=command, git_commit=git_commit(), steps=res["steps"], batch=args.batch,
                wall_s=round(res["wall_s"], 1), img_per_s=round(res["img_per_s"], 1), device=res["device"],
                bf16=args.bf16, compile=args.compile, params=sum(p.numel() for p in res["net"].parameters()),
                loss_curve=curve, torch=torch.__version__, evaluation=None,
                fd_vs_wall_time=[*before.get("fd_vs_wall_time", []), *fd_versus_wall_time(res, device)],
                continued_from=before.get("command"))
    path = save_checkpoint(res["net"], args.out, args.name or f"mnist-{args.objective}", card)
    print(f"{res['steps']} steps in {res['wall_s']:.0f} s; final loss {sum(losses_hist[-50:]) / len(losses_hist[-50:]):.4f}; "
          f"wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
