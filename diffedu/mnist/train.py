r"""Training on MNIST: ``python -m diffedu train mnist|classifier [options]`` (chapter 12).

One loop for three objectives, all from ``diffedu.losses``:

* ``ddpm``: ε-prediction on ``DiscreteDDPM`` (Ho et al. 2020), ``eps_loss``;
* ``flow``: velocity on ``RectifiedFlow`` (Liu et al. 2023; Lipman et al. 2023), ``flow_matching_loss``;
* ``edm``: the preconditioned denoiser $D_x$ on ``EDM`` (Karras et al. 2022), ``edm_loss``.

Labels are dropped to the null class 10 with probability ``--p-uncond`` (so one net is both conditional and
unconditional, as classifier-free guidance needs); the weights saved are an exponential moving average (EMA).
On CUDA: the whole set on the GPU, optional bf16 autocast + channels_last, optional ``torch.compile``.
Writes ``<out>/<name>.safetensors`` and ``<out>/<name>.json`` (the model card), by default in ``runs/`` (git-ignored);
writing into the shipped ``data/`` folder or over an existing checkpoint needs ``--force``.
"""
from __future__ import annotations

import argparse
import copy
import math
import platform
import shlex
import subprocess
import sys
import time
from pathlib import Path

import torch
from torch import Tensor, nn

from ..checks import require_device, require_in_range, require_integer, require_output_path, require_positive
from ..nets import NULL_CLASS
from . import distributed
from .data import load_mnist
from .evaluate import fd_versus_wall_time
from .models import OBJECTIVES, Classifier, build_model
from .pretrained import CHECKPOINT_DIR
from .pretrained import card as read_card
from .pretrained import is_model_card, read_weights, require_net_config, save_checkpoint

__all__ = ["OBJECTIVES", "build_model", "Classifier", "drop_labels", "ema_update", "train_diffusion",
           "train_classifier", "save_checkpoint", "git_commit", "loss_curve", "diffusion_card", "classifier_card",
           "main"]


def drop_labels(y: Tensor, p_uncond: float, generator: torch.Generator | None = None) -> Tensor:
    """Replace each label by the null class 10 with probability ``p_uncond`` (Ho & Salimans 2022's label dropout)."""
    require_in_range("p_uncond", p_uncond, 0, 1)
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


class _Snapshots:
    """Copies of the EMA weights taken when the wall clock passes each of ``times`` (s): ``taken`` holds
    [(wall_s, steps, state_dict)], so that FD can be measured against wall time after training."""

    def __init__(self, times):
        self.pending, self.taken = sorted(float(s) for s in times), []

    def __call__(self, elapsed: float, steps: int, ema: nn.Module) -> None:
        while self.pending and elapsed >= self.pending[0]:
            self.pending.pop(0)
            self.taken.append((elapsed, steps, copy.deepcopy(ema.state_dict())))


def _batches(x_train: Tensor, y_train: Tensor, batch: int, p_uncond: float, generator: torch.Generator,
             channels_last: bool = False):
    """Endless random batches (x0, y): indices drawn on the CPU ``generator`` (so runs are reproducible), each label
    dropped to the null class with probability ``p_uncond``."""
    while True:
        idx = torch.randint(0, x_train.shape[0], (batch,), generator=generator).to(x_train.device)
        x0, y = x_train[idx], drop_labels(y_train[idx], p_uncond, generator)
        yield (x0.contiguous(memory_format=torch.channels_last) if channels_last else x0), y


def _model(objective: str, channels, blocks: int, init: dict | None, device: torch.device, lr: float, compile: bool):
    """The objective's U-Net on ``device`` (channels_last on CUDA, from ``init`` weights if given), its EMA copy, the
    module a step calls (``torch.compile``d if asked), its Adam optimiser, the process and the output kind."""
    net, process, kind = build_model(objective, channels, blocks)
    if init is not None:
        net.load_state_dict(init)
    net = net.to(device)
    if device.type == "cuda":
        net = net.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(net).eval().requires_grad_(False)
    return net, ema, (torch.compile(net) if compile else net), torch.optim.Adam(net.parameters(), lr=lr), process, kind


def train_diffusion(objective: str, steps: int, batch: int = 128, lr: float = 2e-4, p_uncond: float = 0.1,
                    ema_decay: float = 0.999, seed: int = 0, device=None, bf16: bool = False,
                    compile: bool = False, channels=(32, 64, 64), blocks: int = 1, time_budget: float | None = None,
                    data=None, log_every: int = 50, progress: bool = True, callback=None,
                    snapshot_at: tuple[float, ...] = (), init: dict | None = None, warmup: int = 0) -> dict:
    """Train a diffusion U-Net on MNIST; returns dict(net=EMA net, process, kind, losses, steps, wall_s, snapshots, …).

    Stops early after ``time_budget`` s of wall time; calls ``callback(step, loss)`` every step; keeps the EMA weights
    in ``snapshots`` as [(wall_s, steps, state_dict)] when training passes each wall time in ``snapshot_at`` (s).
    ``warmup`` ramps the learning rate linearly over its first steps; a run continued from ``init`` keeps the EMA's
    memory of those weights instead of restarting it."""
    from tqdm.auto import tqdm
    steps, batch = require_integer("steps", steps), require_integer("batch", batch)
    device = torch.device(device) if device is not None else torch.device("cpu")
    if (bf16 or compile) and device.type != "cuda":
        raise ValueError("bf16 and compile are supported on CUDA only in this course; drop --bf16/--compile on CPU")
    torch.manual_seed(seed)
    device, g = distributed.setup(device), distributed.rank_generator(seed)  # torchrun: this rank's device, draws
    data = data if data is not None else load_mnist(device=device)  # whole set on the device
    net, ema, step_fn, opt, process, kind = _model(objective, channels, blocks, init, device, lr, compile)
    schedule = torch.optim.lr_scheduler.LambdaLR(opt, lambda k: min(1.0, (k + 1) / max(warmup, 1)))
    step_fn = distributed.wrap(net, step_fn, device)  # DistributedDataParallel under torchrun
    batches = _batches(data.x_train.to(device), data.y_train.to(device), batch, p_uncond, g, device.type == "cuda")
    hist, snapshots, t0 = [], _Snapshots(snapshot_at), time.perf_counter()
    show = progress and distributed.is_main()  # torchrun: one progress bar, rank 0's
    with tqdm(total=steps, desc=f"train {objective}", leave=True, disable=not show) as bar:
        for step, (x0, y) in zip(range(steps), batches):
            with torch.autocast("cuda", dtype=torch.bfloat16, enabled=bf16):  # bf16 autocast on CUDA if asked
                loss = OBJECTIVES[objective][2](step_fn, x0, process, generator=g, y=y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            schedule.step()
            ema_update(ema, net, ema_decay if step > 0 or init is not None else 0.0)
            hist.append(_finite(loss, step))
            if callback is not None:
                callback(step, hist[-1])
            elapsed = time.perf_counter() - t0
            snapshots(elapsed, step + 1, ema)
            _show(bar, step, hist[-1], (step + 1) * batch / elapsed)
            if distributed.agree_to_stop(time_budget is not None and elapsed > time_budget, device):
                break
    wall = time.perf_counter() - t0
    return dict(net=ema, process=process, kind=kind, losses=hist, steps=len(hist), wall_s=wall,
                snapshots=snapshots.taken, img_per_s=len(hist) * batch * distributed.world_size() / wall, batch=batch,
                objective=objective, **distributed.card_fields(batch),
                net_config=dict(channels=list(channels), blocks=blocks), device=_device_name(device))


def _finite(loss: Tensor, step: int) -> float:
    """The loss as a float; a non-finite one stops training with a FloatingPointError."""
    val = float(loss.detach())
    if not math.isfinite(val):
        raise FloatingPointError(f"loss became {val} at step {step}; lower --lr")
    return val


def _show(bar, step: int, loss: float, img_per_s: float) -> None:
    """One step on the progress bar; the loss and images/s beside it every 10 steps."""
    bar.update(1)
    if step % 10 == 0:
        bar.set_postfix(loss=f"{loss:.4f}", img_s=f"{img_per_s:.0f}")


def train_classifier(steps: int, batch: int = 128, lr: float = 1e-3, seed: int = 0, device=None, data=None,
                     progress: bool = True) -> dict:
    """Train ``Classifier`` with Adam and light random shifts (±2 px); returns dict(net, test_accuracy, ...)."""
    from tqdm.auto import tqdm
    steps, batch, lr = require_integer("steps", steps), require_integer("batch", batch), require_positive("lr", lr)
    device = torch.device(device) if device is not None else torch.device("cpu")
    torch.manual_seed(seed)
    g = torch.Generator().manual_seed(seed)
    data = data if data is not None else load_mnist(device=device)
    net = Classifier().to(device)
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=lr * 3, total_steps=steps)
    t0 = time.perf_counter()
    for _ in tqdm(range(steps), desc="train classifier", disable=not progress):
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
                       "network; looked up in --out, then in data/checkpoints); the card adds up steps and wall time")
        p.add_argument("--warmup", type=int, default=0, help="ramp the learning rate up over this many steps "
                       "(use a few hundred with --init: a fresh Adam's first steps move every weight by about --lr)")
        p.add_argument("--fd-at", default="", help="comma-separated wall times (s): FD-MNIST of the EMA weights at each "
                       "goes into the card's fd_vs_wall_time (e.g. 60,120,180)")
    else:
        p.add_argument("--lr", type=float, default=1e-3)
    p.add_argument("--steps", type=int, default=2000)
    p.add_argument("--batch", type=int, default=128)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--device", default=None, help="cpu or cuda (default: diffedu.device())")
    p.add_argument("--out", default="runs", help="output folder (default: runs/, git-ignored; the shipped "
                   "data/checkpoints needs --force)")
    p.add_argument("--name", default=None)
    p.add_argument("--force", action="store_true", help="allow writing into data/ and replacing an existing "
                   "checkpoint of the same name")
    p.add_argument("--no-progress", action="store_true")
    return p


def parse_channels(text: str) -> tuple[int, ...]:
    """``--channels`` as a tuple of U-Net widths: comma-separated multiples of 8 (GroupNorm's groups) within the
    bounds a checkpoint card may hold, else a ValueError naming the flag."""
    parts = [c.strip() for c in text.split(",")]
    if not all(c.isdigit() and int(c) >= 1 for c in parts):
        raise ValueError(f"--channels must be comma-separated integers ≥ 1; got {text!r}")
    try:
        require_net_config(dict(channels=[int(c) for c in parts], blocks=1))
    except ValueError as e:
        raise ValueError(f"--channels {text!r}: {e}") from None
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
    if args.name is not None and (not args.name or "/" in args.name or "\\" in args.name or args.name in (".", "..")):
        raise ValueError(f"--name must be a plain file name (no folders); got {args.name!r}")
    if target == "classifier":
        _check_outputs(args, "mnist-classifier")
        return device, (), ()
    channels = parse_channels(args.channels)
    try:
        fd_at = tuple(float(s) for s in args.fd_at.split(",") if s.strip())
    except ValueError:
        raise ValueError(f"--fd-at must be comma-separated seconds; got {args.fd_at!r}") from None
    if args.warmup < 0:
        raise ValueError(f"--warmup must be an integer ≥ 0 (steps); got {args.warmup}")
    if not 1 <= args.blocks <= 8:
        raise ValueError(f"--blocks must be an integer in 1–8; got {args.blocks}")
    if not 0 <= args.p_uncond <= 1:
        raise ValueError(f"--p-uncond must lie in [0, 1]; got {args.p_uncond}")
    if not 0 <= args.ema < 1:
        raise ValueError(f"--ema must lie in [0, 1); got {args.ema}")
    if args.time_budget is not None and not (math.isfinite(args.time_budget) and args.time_budget > 0):
        raise ValueError(f"--time-budget must be a finite number of seconds > 0; got {args.time_budget}")
    if any(not (math.isfinite(s) and s > 0) for s in fd_at):
        raise ValueError(f"--fd-at must list finite times > 0 (s); got {args.fd_at!r}")
    for flag in ("bf16", "compile"):
        if getattr(args, flag) and device.type != "cuda":
            raise ValueError(f"--{flag} needs a CUDA device (this run is on {device.type}); drop --{flag}")
    _check_init(args, channels)
    _check_outputs(args, f"mnist-{args.objective}")
    return device, channels, fd_at


def _check_outputs(args, default_name: str) -> None:
    """``--out`` created and writable now; its ``<name>.json`` / ``.safetensors`` may replace an earlier checkpoint
    (a model card and its weights, nothing else) only with ``--force``, and data/ is written only with ``--force``."""
    args.name = args.name or default_name
    out = require_output_path(args.out, "--out", directory=True, force=args.force)
    card_path = out / f"{args.name}.json"

    def owned(path) -> bool:
        return is_model_card(card_path)
    owned.__doc__ = f"the weights named by the model card {card_path.name}"
    require_output_path(card_path, "--out/--name", force=args.force, owned=is_model_card)
    require_output_path(out / f"{args.name}.safetensors", "--out/--name", force=args.force, owned=owned)


def _check_init(args, channels: tuple) -> None:
    """``--init NAME``: a diffusion checkpoint (in --out, else in data/checkpoints) of this objective and network."""
    if not args.init:
        return
    folder = Path(args.out) if (Path(args.out) / f"{args.init}.json").is_file() else CHECKPOINT_DIR
    try:
        before = read_card(args.init, folder)
    except (TypeError, ValueError) as e:
        raise ValueError(f"--init: {e}") from None
    if before.get("objective") != args.objective or before["net_config"] != dict(channels=list(channels),
                                                                                  blocks=args.blocks):
        raise ValueError(f"--init {args.init}: its objective/network {before.get('objective')} "
                         f"{before.get('net_config')} differ from this run's ({args.objective}, "
                         f"channels {list(channels)}, blocks {args.blocks})")
    args.init_folder = folder


def loss_curve(losses: list[float], points: int = 50) -> list[list]:
    """The loss history down-sampled for the model card: [[first step, mean loss]] over ``len(losses) // points``
    consecutive steps (one step per point for shorter runs)."""
    k = max(1, len(losses) // points)
    return [[i * k, sum(losses[i * k:(i + 1) * k]) / len(losses[i * k:(i + 1) * k])] for i in range(len(losses) // k)]


def classifier_card(args, res: dict, command: str) -> dict:
    """The model card of a trained classifier: how it was made (command, commit, device, time) and its accuracy."""
    return dict(kind="classifier", net_config=res["net"].config, command=command, git_commit=git_commit(),
                steps=res["steps"], batch=args.batch, wall_s=round(res["wall_s"], 1), device=res["device"],
                params=sum(p.numel() for p in res["net"].parameters()),
                test_accuracy=res["test_accuracy"], torch=torch.__version__)


def diffusion_card(args, res: dict, before: dict, command: str, fd_curve: list[dict]) -> dict:
    """The model card of a trained diffusion net: objective, process, network, training flags, command, commit,
    device, time, loss curve and FD-MNIST against wall time (after the curve of the run it continues, ``before``),
    and the commands of the runs it continues (``continued_from``, oldest first)."""
    return dict(kind=res["kind"], objective=args.objective, process=res["process"].name,
                net_config=res["net_config"], p_uncond=args.p_uncond, ema=args.ema, lr=args.lr, warmup=args.warmup,
                command=command, git_commit=git_commit(), steps=res["steps"], batch=args.batch,
                wall_s=round(res["wall_s"], 1), img_per_s=round(res["img_per_s"], 1), device=res["device"],
                bf16=args.bf16, compile=args.compile, params=sum(p.numel() for p in res["net"].parameters()),
                loss_curve=loss_curve(res["losses"]), torch=torch.__version__, evaluation=None,
                fd_vs_wall_time=[*before.get("fd_vs_wall_time", []), *fd_curve],
                continued_from=earlier_commands(before), **distributed.card_fields(args.batch))


def earlier_commands(before: dict) -> list[str]:
    """The commands of every run a run continues, oldest first: the ``--init`` card's own ``continued_from`` (one
    string in cards written before the chain was kept), then its command; [] for a fresh run."""
    chain = before.get("continued_from") or []
    chain = [chain] if isinstance(chain, str) else list(chain)
    return [*chain, before["command"]] if "command" in before else chain


def _earlier_run(args, channels: tuple) -> tuple[dict, dict | None]:
    """The card and weights of the ``--init`` checkpoint this run continues (checked by ``_check_init``); no steps,
    no time and no weights for a fresh run."""
    if not args.init:
        return dict(steps=0, wall_s=0.0), None
    folder = getattr(args, "init_folder", Path(args.out))
    before = read_card(args.init, folder)
    return before, read_weights(args.init, folder, before)


def _train_mnist(args, device: torch.device, channels: tuple, fd_at: tuple, command: str) -> Path:
    """``train mnist``: train (or continue) a diffusion net and write its checkpoint and card."""
    before, init = _earlier_run(args, channels)
    res = train_diffusion(args.objective, args.steps, args.batch, args.lr, args.p_uncond, args.ema, args.seed,
                          device, args.bf16, args.compile, channels, args.blocks, args.time_budget,
                          progress=not args.no_progress, snapshot_at=fd_at, init=init, warmup=args.warmup)
    if not distributed.is_main():  # torchrun: only rank 0 evaluates and writes
        return None
    if args.init:  # one continued run: add up what came before, and shift the FD curve by the earlier wall time
        res["steps"] += before["steps"]
        res["snapshots"] = [(w + before["wall_s"], k + before["steps"], st) for w, k, st in res["snapshots"]]
        res["wall_s"] += before["wall_s"]
    card = diffusion_card(args, res, before, command, fd_versus_wall_time(res, device))
    path = save_checkpoint(res["net"], args.out, args.name, card)
    last = res["losses"][-50:]
    print(f"{res['steps']} steps in {res['wall_s']:.0f} s; final loss {sum(last) / len(last):.4f}; wrote {path}")
    return path


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
    if target == "mnist":
        _train_mnist(args, device, channels, fd_at, command)
        return 0
    res = train_classifier(args.steps, args.batch, args.lr, args.seed, device, progress=not args.no_progress)
    path = save_checkpoint(res["net"], args.out, args.name, classifier_card(args, res, command))
    print(f"test accuracy {res['test_accuracy']:.4f}; wrote {path}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
