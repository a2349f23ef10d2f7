"""Shipped checkpoints: ``pretrained.load(name)`` (chapter 12).

Each checkpoint is ``data/checkpoints/<name>.safetensors`` with a model card ``<name>.json`` (command, git commit,
steps, wall time, device, params, sha256, evaluation). ``load`` verifies the sha256 before reading the weights.
"""
from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import torch
from torch import Tensor, nn

from .data import sha256_of
from .nets import NULL_CLASS, check_labels
from .parametrization import Predictor
from .processes import Process

__all__ = ["CHECKPOINT_DIR", "available", "card", "load", "load_classifier", "Pretrained"]

CHECKPOINT_DIR = Path(__file__).resolve().parent.parent / "data" / "checkpoints"


def available(folder: str | Path | None = None) -> list[str]:
    """Names of the checkpoints that have both a card and weights in ``folder``."""
    folder = Path(folder) if folder is not None else CHECKPOINT_DIR
    return sorted(p.stem for p in folder.glob("*.json") if (folder / f"{p.stem}.safetensors").exists())


def card(name: str, folder: str | Path | None = None) -> dict:
    """The model card of a checkpoint (a dict); unknown name → ValueError listing the available ones."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string; got {type(name).__name__}")
    folder = Path(folder) if folder is not None else CHECKPOINT_DIR
    path = folder / f"{name}.json"
    if not path.exists():
        raise ValueError(f"unknown checkpoint {name!r}; available in {folder}: {available(folder)}")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise ValueError(f"model card {path} is damaged: {e}") from e


def _read_weights(name: str, folder: Path, meta: dict) -> dict:
    from safetensors.torch import load_file
    st = folder / meta.get("file", f"{name}.safetensors")
    if not st.exists():
        raise FileNotFoundError(f"checkpoint weights {st} are missing (the card {name}.json is there)")
    digest = sha256_of(st)
    if digest != meta.get("sha256"):
        raise ValueError(f"checkpoint {st} is damaged: sha256 {digest} ≠ {meta.get('sha256')} in its card; "
                         "restore it with `git checkout -- data/checkpoints` or retrain (see the card's command)")
    return load_file(str(st))


@dataclass
class Pretrained:
    """A loaded diffusion checkpoint: ``net`` (eval mode), its ``process``, output ``kind``, ``predictor`` and ``card``."""

    name: str
    net: nn.Module
    process: Process
    kind: str
    predictor: Predictor
    card: dict = field(repr=False)

    @classmethod
    def from_net(cls, name: str, net: nn.Module, process: Process, kind: str, card: dict | None = None) -> "Pretrained":
        """Wrap a network in memory (e.g. a training snapshot) the way ``load`` wraps a shipped one."""
        return cls(name, net, process, kind, Predictor(_net_dtype_wrapper(net), kind, process), dict(card or {}))

    def to(self, device) -> "Pretrained":
        self.net.to(device)
        return self

    @torch.no_grad()
    def sample(self, n: int, y: Tensor | int | None = None, n_steps: int = 20, integrator: str = "heun",
               timer: str = "karras", generator: torch.Generator | None = None, guidance: float = 1.0,
               **integrator_kw) -> Tensor:
        """n samples of shape (n, 1, 28, 28) in about [−1, 1] with labels y ((n,), an int 0–9, or None = no label).

        Uses ``diffedu.Denoiser``; ``n_steps`` is the number of steps (Heun: 2 NFE per step but the last).
        ``guidance`` is the classifier-free guidance scale w (chapter 11): 1 samples the conditional model, 0 the
        unconditional one, w > 1 extrapolates away from the unconditional prediction. It needs labels.
        """
        from .denoiser import Denoiser
        if isinstance(n, bool) or int(n) != n or n < 1:
            raise ValueError(f"n must be an integer ≥ 1; got {n!r}")
        device = next(self.net.parameters()).device
        if isinstance(y, int) and not isinstance(y, bool):
            y = torch.full((int(n),), y, dtype=torch.long)
        y = check_labels(y if y is None else torch.as_tensor(y), int(n), device).to(device)
        predictor = self.predictor
        if guidance != 1.0:  # w = 1 is the plain conditional model: no second network call
            from .guidance import ClassifierFreeGuidance
            if bool((y == NULL_CLASS).any()):
                raise ValueError(f"guidance = {guidance} needs a label 0–9 for every sample; got the null label "
                                 f"{NULL_CLASS}")
            predictor = ClassifierFreeGuidance(self.predictor, guidance, null_label=NULL_CLASS)
        den = Denoiser(self.process, predictor, integrator, timer, shape=(1, 28, 28), **integrator_kw)
        x_T = den.prior(int(n), (1, 28, 28), generator, dtype=torch.float32).to(device)
        return den.sample(x_T, n_steps, generator=generator, y=y)


def _net_dtype_wrapper(net: nn.Module):
    """The integrators work in float64; the net in float32: cast in, cast out."""
    def call(x_t: Tensor, t: Tensor, y: Tensor | None = None) -> Tensor:
        dtype = x_t.dtype
        return net(x_t.float(), t.float(), y).to(dtype)
    return call


def load(name: str, device="cpu", folder: str | Path | None = None) -> Pretrained:
    """Load a shipped diffusion checkpoint (``mnist-edm``, ``mnist-ddpm``, ``mnist-flow``) after checking its sha256."""
    from .runtime import check_device
    from .train import build_model
    device = check_device(device)
    folder = Path(folder) if folder is not None else CHECKPOINT_DIR
    meta = card(name, folder)
    if meta.get("kind") == "classifier":
        raise ValueError(f"{name!r} is a classifier; use pretrained.load_classifier")
    state = _read_weights(name, folder, meta)
    cfg = meta["net_config"]
    net, process, kind = build_model(meta["objective"], tuple(cfg["channels"]), cfg["blocks"])
    net.load_state_dict(state)
    net.eval().requires_grad_(False).to(device)
    return Pretrained(name, net, process, kind, Predictor(_net_dtype_wrapper(net), kind, process), meta)


def load_classifier(name: str = "mnist-classifier", device="cpu", folder: str | Path | None = None) -> nn.Module:
    """The shipped MNIST classifier (eval mode) whose features define FD-MNIST."""
    from .runtime import check_device
    from .train import Classifier
    device = check_device(device)
    folder = Path(folder) if folder is not None else CHECKPOINT_DIR
    meta = card(name, folder)
    if meta.get("kind") != "classifier":
        raise ValueError(f"{name!r} is not a classifier checkpoint")
    net = Classifier(**meta["net_config"])
    net.load_state_dict(_read_weights(name, folder, meta))
    return net.eval().requires_grad_(False).to(device)


def play_mnist(name: str, integrator: str = "heun", n_steps: int = 10, label: int = 3, n: int = 16,
               seed: int = 0, guidance: float = 1.0) -> dict:
    """Compute function of chapter 12's sampler panel: n samples of one label (10 = no label) from a checkpoint.

    ``guidance`` is the classifier-free guidance scale w; with no label (10) there is nothing to guide towards and
    the unconditional model is sampled (``w_used`` = 1 then). Returns dict(x (n, 1, 28, 28), nfe, w_used).
    """
    from .guidance import parse_guidance
    from .integrators import nfe_per_step
    if isinstance(label, bool) or int(label) != label or not 0 <= label <= 10:
        raise ValueError(f"label must be an integer in 0–9 or 10 (no label); got {label!r}")
    if int(n_steps) != n_steps or n_steps < 1:
        raise ValueError(f"n_steps must be an integer ≥ 1; got {n_steps!r}")
    w = 1.0 if label == NULL_CLASS else parse_guidance(guidance)
    model = _CACHE.get(name) or _CACHE.setdefault(name, load(name))
    g = torch.Generator().manual_seed(seed)
    x = model.sample(n, int(label), n_steps=int(n_steps), integrator=integrator, generator=g, guidance=w)
    return dict(x=x.float(), nfe=nfe_per_step(integrator) * int(n_steps), w_used=w)  # NFE: an upper bound (Heun's last step is Euler)


_CACHE: dict = {}
