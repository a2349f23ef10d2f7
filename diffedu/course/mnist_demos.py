"""MNIST with the shipped checkpoints, as chapters 11 and 12 show it: the panels' compute functions, guided samples,
the accuracy–diversity table of classifier-free guidance, and inpainting.
"""
from __future__ import annotations

import torch
from torch import Tensor

from ..checks import require_integer, require_real
from ..denoiser import Denoiser
from ..guidance import ClassifierFreeGuidance, Mask, Projection, dps, parse_guidance
from ..integrators import nfe_per_step, steps_for_nfe
from ..metrics import classifier_features, conditional_accuracy
from ..mnist.pretrained import DATA_RANGE, Pretrained, available, load, load_classifier
from ..nets import NULL_CLASS
from ..parametrization import ClippedPredictor

__all__ = ["SHIPPED", "shipped", "evaluation_classifier", "play_mnist", "PANEL_SAMPLERS", "PANEL_NFE",
           "panel_steps", "expected_poor", "out_of_range", "sample_rows", "cfg_sample", "within_class_diversity", "guidance_table", "play_guidance", "inpaint"]


SHIPPED: dict[str, Pretrained] = {}  # the checkpoints loaded so far in this kernel, by name


def shipped(name: str) -> Pretrained:
    """A shipped checkpoint, loaded once per kernel (the panels redraw without reading the file again)."""
    if name not in SHIPPED:
        SHIPPED[name] = load(name)
    return SHIPPED[name]


def evaluation_classifier() -> torch.nn.Module:
    """The shipped evaluation classifier, loaded once per kernel."""
    if "mnist-classifier" not in SHIPPED:
        SHIPPED["mnist-classifier"] = load_classifier()
    return SHIPPED["mnist-classifier"]


PANEL_SAMPLERS = ("heun", "dpmpp_2m", "euler", "ddim", "ddpm")  # the sampler panel's choices (chapter 12)
PANEL_NFE = (10, 24)  # its budget slider: from 10 NFE (Heun: 5 steps) to 24 (about 1 s of CPU for 16 digits)


def panel_steps(integrator: str, nfe: int, guided: bool = False) -> int:
    """The step count the sampler panel runs for a budget of ``nfe`` network evaluations (``steps_for_nfe``, final
    jump). Guidance (w ≠ 1) evaluates the network twice per step, so it gets half the steps, but never fewer than
    the budget's lower end ``PANEL_NFE[0]`` buys unguided (below it samples leave the pixel range; chapter 12)."""
    nfe = require_integer("nfe", nfe, *PANEL_NFE)
    return steps_for_nfe(integrator, max(nfe // 2, PANEL_NFE[0]) if guided else nfe, final_jump=True)


def expected_poor(integrator: str, n_steps: int) -> str:
    """Why a sampler setting is expected to draw poor digits ('' if it is not): under 6 steps every sampler blurs
    (one ODE step from pure noise lands near the mean image); ancestral DDPM adds fresh noise at every step and
    needs many more steps than an ODE sampler (chapters 04–05)."""
    if n_steps < 6:
        return f"{n_steps} steps are few: expect blurred or noisy digits"
    if integrator == "ddpm" and n_steps < 20:
        return "ancestral DDPM needs many steps: expect noisy digits"
    return ""


def play_mnist(name: str, integrator: str = "heun", n_steps: int = 10, label: int = 3, n: int = 16,
               seed: int = 0, w: float = 1.0) -> dict:
    """Compute function of chapter 12's sampler panel: n samples of one label (10 = no label) from a checkpoint.

    ``w`` is the classifier-free guidance scale; with no label (10) there is nothing to guide towards and the
    unconditional model is sampled (``w`` = 1 in the result then). Returns dict(x (n, 1, 28, 28), nfe, w, read):
    ``read`` is how many samples the evaluation classifier reads as ``label`` (None without a label or classifier).
    """
    label, n_steps = require_integer("label", label, 0, NULL_CLASS), require_integer("n_steps", n_steps)
    w = 1.0 if label == NULL_CLASS else parse_guidance(w)
    model = shipped(name)
    g = torch.Generator().manual_seed(seed)
    x = model.sample(n, int(label), n_steps=int(n_steps), integrator=integrator, generator=g, w=w).float()
    nfe = nfe_per_step(integrator) * n_steps  # an upper bound: Heun's last step into σ = 0 is Euler's
    read = None
    if label != NULL_CLASS and "mnist-classifier" in available():
        with torch.no_grad():
            read = int((evaluation_classifier()(x.clamp(-1, 1)).argmax(1) == label).sum())
    return dict(x=x, nfe=nfe, w=w, read=read)


def out_of_range(x: Tensor, bound: float = 1.1) -> tuple[float, float]:
    """(share of pixels with |x| > bound, max |x|): how far samples leave the pixel range [−1, 1]."""
    x = x.detach().float()
    return (x.abs() > bound).float().mean().item(), x.abs().max().item()


def sample_rows(rows: list[dict], labels: Tensor, seed: int = 0) -> list[Tensor]:
    """One batch of samples per row, each row a dict of ``Pretrained.sample`` arguments plus ``name`` (a shipped
    checkpoint); every row starts from the same noise (the same seed) and draws ``labels``."""
    out = []
    for row in rows:
        kw = {k: v for k, v in row.items() if k != "name"}
        out.append(shipped(row["name"]).sample(len(labels), labels, generator=torch.Generator().manual_seed(seed),
                                               **kw).float())
    return out


def cfg_sample(model, w: float, y: Tensor, n_steps: int = 8, integrator: str = "euler", timer: str = "karras",
               generator: torch.Generator | None = None, clip_x0: bool = True) -> Tensor:
    """Class-conditional samples (len(y), 1, 28, 28) of a shipped checkpoint with classifier-free guidance scale w;
    the guided x̂₀ is clipped to the pixel range [−1, 1] unless ``clip_x0=False`` (as in ``Pretrained.sample``)."""
    cfg = ClassifierFreeGuidance(model.predictor, w, null_label=10)
    den = Denoiser(model.process, ClippedPredictor(cfg, *DATA_RANGE) if clip_x0 else cfg, integrator, timer,
                   shape=(1, 28, 28))
    x_T = den.prior(len(y), (1, 28, 28), generator, dtype=torch.float32)
    with torch.no_grad():
        return den.sample(x_T, n_steps, generator=generator, y=y).float()


def within_class_diversity(features: Tensor, y: Tensor) -> float:
    """Mean Euclidean distance between the features of two different samples of the same class, over all classes."""
    dists = []
    for c in y.unique():
        f = features[y == c]
        if len(f) >= 2:
            d = torch.cdist(f, f)
            dists.append(d[~torch.eye(len(f), dtype=torch.bool)])
    if not dists:
        raise ValueError("need at least two samples of one class")
    return float(torch.cat(dists).mean())


def guidance_table(model, classifier, ws, n_per_class: int = 4, n_steps: int = 8, seed: int = 0) -> list[dict]:
    """For each w: conditional accuracy (the classifier reads the asked-for label) and within-class diversity (mean
    pairwise distance of classifier features) of 10·n_per_class guided samples; the same noise for every w."""
    y = torch.arange(10).repeat_interleave(n_per_class)
    rows = []
    for w in ws:
        x = cfg_sample(model, w, y, n_steps, generator=torch.Generator().manual_seed(seed))
        rows.append(dict(w=float(w), accuracy=conditional_accuracy(classifier, x, y),
                         diversity=within_class_diversity(classifier_features(classifier, x), y), x=x))
    return rows


def play_guidance(name: str = "mnist-flow", w: float = 2.0, label: int = 3, n: int = 8, n_steps: int = 8,
                  seed: int = 0) -> dict:
    """Compute function of chapter 11's MNIST panel: n samples of one digit at guidance scale w (0 ≤ w ≤ 8).

    Returns dict(x (n, 1, 28, 28), w, label)."""
    w = require_real("w", w)
    if not 0 <= w <= 8:
        raise ValueError(f"w must lie in [0, 8]; got {w}")
    label = require_integer("label", label, 0, 9)
    model = shipped(name)
    y = torch.full((int(n),), int(label), dtype=torch.long)
    x = cfg_sample(model, w, y, n_steps, generator=torch.Generator().manual_seed(seed))
    return dict(x=x, w=w, label=int(label))


def inpaint(model, x0: Tensor, mask: Tensor, method: str = "dps", n_steps: int = 20, zeta: float = 1.0,
            eta: float = 1.0, timer: str = "karras", generator: torch.Generator | None = None) -> Tensor:
    """Fill in the unobserved pixels of images x0 (N, 1, 28, 28) seen through ``mask`` (1, 28, 28) (1 = observed) with a
    shipped checkpoint: ``method`` 'dps' (Chung et al. 2023) or 'projection' (DDNM-style replacement, DDIM(η))."""
    op = Mask(mask)
    op.check(x0.shape[1:])
    y = op(x0)  # the measurement: observed pixels, zeros elsewhere
    if method == "dps":
        den = Denoiser(model.process, model.predictor, dps, timer, operator=op, measurement=y, zeta=zeta, eta=eta)
    elif method == "projection":
        den = Denoiser(model.process, Projection(model.predictor, model.process, op, y), "ddim", timer, eta=eta)
    else:
        raise ValueError(f"method must be 'dps' or 'projection'; got {method!r}")
    x_T = den.prior(len(x0), tuple(x0.shape[1:]), generator, dtype=torch.float32)
    return den.sample(x_T, n_steps, generator=generator).float()



