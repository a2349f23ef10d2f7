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

from ..checks import require_device, require_integer, require_positive
from ..denoiser import Denoiser
from ..guidance import ClassifierFreeGuidance
from ..nets import NULL_CLASS, require_labels
from ..parametrization import ClippedPredictor, Predictor
from ..processes import Process
from ..runtime import DATA_DIR
from .data import sha256_of
from .models import OBJECTIVES, Classifier, build_model

__all__ = ["CHECKPOINT_DIR", "DATA_RANGE", "HEUN_MAX_CORRECTION_GAIN", "available", "card", "load", "load_classifier",
           "read_weights", "save_checkpoint", "Pretrained", "require_card", "require_net_config", "is_model_card"]

CHECKPOINT_DIR = DATA_DIR / "checkpoints"
DATA_RANGE = (-1.0, 1.0)  # MNIST pixels, 2p/255 − 1 (chapter 12)
HEUN_MAX_CORRECTION_GAIN = 10.0  # Heun corrects only where that multiplies x̂₀'s error by ≤ 10 (heun_corrects)
CARD_KINDS = ("x0", "eps", "velocity", "classifier")  # what a card's "kind" may be: a net's output kind or a classifier
# bounds on a card's net_config, so that a damaged or hostile card cannot build a huge network before its weights
# are read: U-Net levels and widths, residual blocks per level; the classifier's width and feature size
NET_BOUNDS = dict(levels=(1, 4), channels=(8, 512), blocks=(1, 8), width=(1, 256), feature_dim=(1, 1024))


def available(folder: str | Path | None = None) -> list[str]:
    """Names of the checkpoints that have both a card and weights in ``folder``."""
    folder = Path(folder) if folder is not None else CHECKPOINT_DIR
    return sorted(p.stem for p in folder.glob("*.json") if (folder / f"{p.stem}.safetensors").exists())


def _plain_name(name, what: str = "name") -> str:
    """A checkpoint name or card ``file`` that stays in its folder: a non-empty string with no folder part."""
    if not isinstance(name, str):
        raise TypeError(f"{what} must be a string; got {type(name).__name__}")
    if not name or name in (".", "..") or "/" in name or "\\" in name or "\0" in name:
        raise ValueError(f"{what} must be a plain file name in the checkpoint folder (no folders); got {name!r}")
    return name


def require_net_config(cfg, kind: str = "x0") -> dict:
    """A card's ``net_config`` within :data:`NET_BOUNDS`: U-Net ``channels`` (1–4 levels of multiples of 8 in 8–512,
    GroupNorm's groups) and ``blocks`` (1–8); the classifier's ``width`` and ``feature_dim``. ValueError otherwise."""
    if not isinstance(cfg, dict):
        raise ValueError(f"net_config must be a JSON object; got {type(cfg).__name__}")
    keys = ("width", "feature_dim") if kind == "classifier" else ("channels", "blocks")
    if set(cfg) != set(keys):
        raise ValueError(f"net_config must have exactly the keys {list(keys)}; got {sorted(cfg)}")
    if kind != "classifier":
        ch, (lo, hi) = cfg["channels"], NET_BOUNDS["levels"]
        if not isinstance(ch, (list, tuple)) or not lo <= len(ch) <= hi:
            raise ValueError(f"net_config channels must be a list of {lo}–{hi} widths; got {ch!r}")
        for c in ch:
            require_integer("net_config channels", c, *NET_BOUNDS["channels"])
            if c % 8:
                raise ValueError(f"net_config channels must be multiples of 8 (GroupNorm's groups); got {list(ch)}")
    for key in keys:
        if key != "channels":
            require_integer(f"net_config {key}", cfg[key], *NET_BOUNDS[key])
    return cfg


def require_card(meta, where: str) -> dict:
    """A model card as ``load`` needs it, checked before any network is built: a JSON object with a known ``kind``,
    an ``objective`` for diffusion nets, a bounded ``net_config`` and a plain ``file`` name; else ValueError."""
    if not isinstance(meta, dict):
        raise ValueError(f"model card {where} is damaged: a JSON object is needed; got {type(meta).__name__}")
    try:
        if meta.get("kind") not in CARD_KINDS:
            raise ValueError(f"kind must be one of {list(CARD_KINDS)}; got {meta.get('kind')!r}")
        if meta["kind"] != "classifier" and meta.get("objective") not in OBJECTIVES:
            raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}; got {meta.get('objective')!r}")
        require_net_config(meta.get("net_config"), meta["kind"])
        if "file" in meta:
            _plain_name(meta["file"], "its file")
    except (TypeError, ValueError) as e:
        raise ValueError(f"model card {where} is damaged: {e}") from None
    return meta


def is_model_card(path) -> bool:
    """Whether ``path`` holds a model card (what ``save_checkpoint`` writes, so ``train --force`` may replace it)."""
    try:
        require_card(json.loads(Path(path).read_text()), str(path))
    except (OSError, UnicodeDecodeError, ValueError):
        return False
    return True


is_model_card.__doc__ = "a model card written by `python -m diffedu train`"


def card(name: str, folder: str | Path | None = None) -> dict:
    """The model card of a checkpoint (a dict, validated by ``require_card``); unknown name → ValueError listing the
    available ones."""
    name = _plain_name(name)
    folder = Path(folder) if folder is not None else CHECKPOINT_DIR
    path = folder / f"{name}.json"
    if not path.is_file():
        raise ValueError(f"unknown checkpoint {name!r}; available in {folder}: {available(folder)}")
    try:
        meta = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as e:
        raise ValueError(f"model card {path} is damaged: {e}") from e
    return require_card(meta, str(path))


def read_weights(name: str, folder: Path, meta: dict) -> dict:
    """The state dict of checkpoint ``name`` in ``folder``, after checking its sha256 against the card ``meta``."""
    from safetensors import SafetensorError
    from safetensors.torch import load_file
    st = Path(folder) / _plain_name(meta.get("file", f"{name}.safetensors"), "the card's file")
    if not st.is_file():
        raise FileNotFoundError(f"checkpoint weights {st} are missing (the card {name}.json is there)")
    digest = sha256_of(st)
    if digest != meta.get("sha256"):
        raise ValueError(f"checkpoint {st} is damaged: sha256 {digest} ≠ {meta.get('sha256')} in its card; "
                         "restore it with `git checkout -- data/checkpoints` or retrain (see the card's command)")
    try:
        return load_file(str(st))
    except (SafetensorError, OSError, ValueError) as e:
        raise ValueError(f"checkpoint {st} is damaged: {e}") from None


def _load_state(net: nn.Module, state: dict, name: str) -> None:
    """``net.load_state_dict(state)``, a mismatch (a card that disagrees with its weights) as a clear ValueError."""
    try:
        net.load_state_dict(state)
    except RuntimeError as e:
        raise ValueError(f"checkpoint {name!r} is damaged: its weights do not fit the network its card describes: "
                         f"{str(e).splitlines()[0]}") from None


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
               timer: str = "karras", generator: torch.Generator | None = None, w: float = 1.0,
               clip_x0: bool = True, **integrator_kw) -> Tensor:
        """n samples of shape (n, 1, 28, 28) in [−1, 1] with labels y ((n,), an int 0–9, or None = no label).

        Uses ``diffedu.Denoiser``; ``n_steps`` is the number of steps (Heun: 2 NFE per step but the last).
        ``w`` is the classifier-free guidance scale (chapter 11; Ho & Salimans 2022): 1 samples the conditional model,
        0 the unconditional one, w > 1 extrapolates away from the unconditional prediction. It needs labels.
        ``clip_x0`` (default) clips every x̂₀ (guided or not) to the pixel range [−1, 1]
        (``parametrization.ClippedPredictor``); ``clip_x0=False`` shows the raw network. Heun skips its correction
        where it would multiply the network's error by more than ``HEUN_MAX_CORRECTION_GAIN`` (10; on EDM's grid:
        a noise level falling by more than 21×), unless ``max_correction_gain`` is given.
        """
        n, w = require_integer("n", n), require_positive("w", w, allow_zero=True)  # w ≥ 0, as in the CLI
        if not isinstance(clip_x0, bool):
            raise TypeError(f"clip_x0 must be True or False; got {clip_x0!r}")
        if generator is not None and not isinstance(generator, torch.Generator):
            raise TypeError(f"generator must be a torch.Generator or None; got {type(generator).__name__}")
        device = next(self.net.parameters()).device
        if isinstance(y, int) and not isinstance(y, bool):
            y = torch.full((int(n),), y, dtype=torch.long)
        y = require_labels(y if y is None else torch.as_tensor(y), int(n), device).to(device)
        predictor = self.predictor
        if w != 1.0:  # w = 1 is the plain conditional model: no second network call
            if bool((y == NULL_CLASS).any()):
                raise ValueError(f"guidance scale w = {w} needs a label 0–9 for every sample; got the null label "
                                 f"{NULL_CLASS}")
            predictor = ClassifierFreeGuidance(self.predictor, w, null_label=NULL_CLASS)
        if clip_x0:
            predictor = ClippedPredictor(predictor, *DATA_RANGE)
        if integrator == "heun":
            integrator_kw.setdefault("max_correction_gain", HEUN_MAX_CORRECTION_GAIN)
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
    device = require_device(device)
    folder = Path(folder) if folder is not None else CHECKPOINT_DIR
    meta = card(name, folder)
    if meta.get("kind") == "classifier":
        raise ValueError(f"{name!r} is a classifier; use pretrained.load_classifier")
    state = read_weights(name, folder, meta)
    cfg = meta["net_config"]
    net, process, kind = build_model(meta["objective"], tuple(cfg["channels"]), cfg["blocks"])
    _load_state(net, state, name)
    net.eval().requires_grad_(False).to(device)
    return Pretrained(name, net, process, kind, Predictor(_net_dtype_wrapper(net), kind, process), meta)


def load_classifier(name: str = "mnist-classifier", device="cpu", folder: str | Path | None = None) -> nn.Module:
    """The shipped MNIST classifier (eval mode) whose features define FD-MNIST."""
    device = require_device(device)
    folder = Path(folder) if folder is not None else CHECKPOINT_DIR
    meta = card(name, folder)
    if meta.get("kind") != "classifier":
        raise ValueError(f"{name!r} is not a classifier checkpoint")
    net = Classifier(**meta["net_config"])
    _load_state(net, read_weights(name, folder, meta), name)
    return net.eval().requires_grad_(False).to(device)


def save_checkpoint(net: nn.Module, out: str | Path, name: str, card: dict) -> Path:
    """Write ``<out>/<name>.safetensors`` (float32, CPU) and ``<out>/<name>.json`` with its sha256; returns the json path."""
    from safetensors.torch import save_file
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    st = out / f"{name}.safetensors"
    state = {k: v.detach().float().cpu().contiguous() for k, v in net.state_dict().items()}
    save_file(state, str(st))
    card = dict(card, name=name, file=st.name, sha256=sha256_of(st), size_bytes=st.stat().st_size)
    path = out / f"{name}.json"
    path.write_text(json.dumps(card, indent=2) + "\n")
    return path

