r"""Guidance on the labelled 2-D mixture (chapter 11), where every conditional model is exact.

``MixturePredictor`` is the exact label-conditional predictor of a labelled ``GaussianMixture`` (what a network
trained with label dropout learns in the limit); ``mixture_classifier`` and its gradient are the exact noisy
classifier; ``tilted_samples`` draws from $q(x\mid y)^w q(x)^{1-w}$, the law classifier-free guidance aims at;
``cfg_mixture`` is the compute function of the chapter's 2-D panel; ``inverse_mixture`` runs DPS and projection on
linear inverse problems of the mixture, beside the exact posterior.
"""
from __future__ import annotations

from functools import lru_cache

import torch
from torch import Tensor

from ..checks import require_integer, require_positive, require_real
from ..denoiser import Denoiser
from ..guidance import ClassifierFreeGuidance, Matrix, Projection, as_labels, dps, linear_gaussian_posterior
from ..metrics import sliced_wasserstein
from ..parametrization import convert, require_kind
from ..processes import as_tensor, make_process
from ..toys import gmm_2d
from .animation import paths_animation

__all__ = ["guidance_opening", "MixturePredictor", "mixture_classifier", "mixture_classifier_grad", "tilted_samples", "cfg_mixture",
           "inverse_mixture"]


class MixturePredictor:
    r"""The exact label-conditional model of a labelled ``GaussianMixture``: a predictor ``(x_t, t, kind, *, y=None)``.

    For a sample with label y it answers with the exact prediction of $q(x_0\mid y)$ (the components labelled y,
    ``gmm.restrict(y)``); for ``y = null_label`` (or ``y=None``) with the whole mixture $q(x_0)$ — what a network
    trained with label dropout learns in the limit.
    """

    def __init__(self, gmm, process, null_label: int = -1):
        if gmm.labels is None:
            raise ValueError("gmm must have labels (GaussianMixture(..., labels=...))")
        if int(null_label) in set(gmm.labels.tolist()):
            raise ValueError(f"null_label must differ from the mixture's labels {sorted(set(gmm.labels.tolist()))}; "
                             f"got {null_label}")
        self.gmm, self.process, self.null_label = gmm, process, int(null_label)
        self.parts = {int(c): gmm.restrict(int(c)) for c in gmm.labels.unique()}

    def __call__(self, x_t: Tensor, t, kind: str = "x0", *, y=None) -> Tensor:
        require_kind(kind, "kind")
        n = x_t.shape[0]
        y = torch.full((n,), self.null_label, dtype=torch.long) if y is None else as_labels(y, n, x_t.device)
        if type(t) is float:  # one time, as the samplers pass it: each part answers it as a scalar (memoised α, σ)
            t_batch = t
        else:
            t = self.process.require_t(as_tensor(t, like=x_t))
            t_batch = t.expand(n) if t.ndim == 0 else t
        x0_hat = torch.empty_like(x_t)
        for label in y.unique().tolist():
            rows = y == label
            if label == self.null_label:
                part = self.gmm
            elif label in self.parts:
                part = self.parts[label]
            else:
                raise ValueError(f"y must hold labels in {sorted(self.parts)} or {self.null_label} (no label); got {label}")
            x0_hat[rows] = part.denoiser(x_t[rows], t_batch if type(t_batch) is float else t_batch[rows], self.process)
        return convert(x0_hat, "x0", kind, x_t, t_batch, self.process)


def mixture_classifier(gmm, x_t: Tensor, t, process) -> Tensor:
    r"""The exact noisy classifier of a labelled mixture: $\log p_t(y\mid x_t)$ for every label, shape (N, C).

    $p_t(y\mid x_t) = \sum_{k:\,\ell_k = y} P(k\mid x_t)$ — the responsibilities of the noised mixture grouped by label
    (labels in increasing order: column c is the c-th smallest label).
    """
    if gmm.labels is None:
        raise ValueError("gmm must have labels (GaussianMixture(..., labels=...))")
    log_post = gmm.log_responsibilities(x_t, t, process)  # (N, K) log P(k | x_t)
    labels = gmm.labels.to(x_t.device)
    return torch.stack([torch.logsumexp(log_post[:, labels == c], -1) for c in labels.unique()], -1)


def mixture_classifier_grad(gmm, x_t: Tensor, t, process, y) -> Tensor:
    r"""Exact $\nabla_{x_t}\log p_t(y\mid x_t) = \nabla\log p_t(x_t\mid y) - \nabla\log p_t(x_t)$ (Bayes' rule), (N, D).

    The first score is that of the components labelled y (``gmm.restrict(y)``), the second that of the whole mixture.
    """
    n = x_t.shape[0]
    y = as_labels(y, n, x_t.device)
    grad = -gmm.score(x_t, t, process)
    t = torch.as_tensor(t, dtype=x_t.dtype)
    for label in y.unique().tolist():
        rows = y == label
        t_rows = t[rows] if t.ndim == 1 else t
        grad[rows] += gmm.restrict(label).score(x_t[rows], t_rows, process)
    return grad


@lru_cache(maxsize=4)
def _grid_log_densities(gmm, label: int, half_width: float, cells: int) -> tuple[Tensor, Tensor, Tensor, Tensor]:
    r"""What ``tilted_samples`` tabulates that does not depend on w, kept per mixture object and grid: the cell edges,
    the cell centres (cells², 2), $\log q(x\mid y)$ and $\log q(x)$ there."""
    edges = torch.linspace(-half_width, half_width, cells + 1, dtype=torch.float64)
    centres = 0.5 * (edges[1:] + edges[:-1])
    grid = torch.cartesian_prod(centres, centres)  # (cells², 2)
    return edges, grid, gmm.restrict(label).log_prob(grid), gmm.log_prob(grid)


def tilted_samples(gmm, label: int, w: float, n: int, generator: torch.Generator | None = None,
                   half_width: float = 6.0, cells: int = 300) -> Tensor:
    r"""n samples of the tilted density $q(x\mid y)^w q(x)^{1-w}$ (normalised) of a 2-D labelled mixture.

    Not a mixture for w ≠ 0, 1: it is tabulated on a grid of ``cells``² cells over $[-h, h]^2$, a cell is drawn with
    probability ∝ density × area and the point uniformly inside it (error: the cell size, 2h/cells = 0.04 by default).
    """
    if gmm.dim != 2:
        raise ValueError(f"gmm must be 2-D; got dim {gmm.dim}")
    w, n, cells = require_real("w", w), require_integer("n", n), require_integer("cells", cells)
    half_width = require_positive("half_width", half_width)
    edges, grid, log_q_y, log_q = _grid_log_densities(gmm, int(label), float(half_width), int(cells))
    log_density = w * log_q_y + (1 - w) * log_q
    cell = torch.multinomial(torch.softmax(log_density, 0), n, replacement=True, generator=generator)
    h = edges[1] - edges[0]
    return grid[cell] + h * (torch.rand(n, 2, generator=generator, dtype=torch.float64) - 0.5)


CFG_GMM = gmm_2d()  # chapter 11's panel mixture


def cfg_mixture(w: float, label: int = 0, n: int = 2000, n_steps: int = 30, process_name: str = "edm",
                seed: int = 0) -> dict:
    r"""Compute function of chapter 11's 2-D panel: CFG samples of a ``gmm_2d`` class with the exact models.

    Returns dict(x (n, 2) CFG samples, exact (n, 2) samples of $q(x_0\mid y)$, tilted (n, 2) samples of
    $q(x_0\mid y)^w q(x_0)^{1-w}$, sw_exact, sw_tilted (SW of the CFG samples to each), floor_exact, floor_tilted
    (SW between two sets of size n of the same law), sw_tilted_exact (tilted vs conditional), mass (the
    fraction of samples nearest, by responsibility, to each component of the class)).
    """
    gmm, process = CFG_GMM, make_process(process_name)  # one mixture object: its tilted-density grids are kept
    if int(label) != label or label not in (0, 1, 2):
        raise ValueError(f"label must be 0, 1 or 2 (the classes of gmm_2d); got {label!r}")
    w = require_real("w", w)
    g = torch.Generator().manual_seed(seed)
    cfg = ClassifierFreeGuidance(MixturePredictor(gmm, process, null_label=3), w, null_label=3)
    timer = "karras" if process_name in ("edm", "ve") else "log_snr"
    x = Denoiser(process, cfg, "heun", timer).sample(n, n_steps, shape=(2,), generator=g, y=int(label))
    part = gmm.restrict(int(label))
    exact, exact2 = part.sample(n, generator=g), part.sample(n, generator=g)
    tilted, tilted2 = tilted_samples(gmm, int(label), w, n, generator=g), tilted_samples(gmm, int(label), w, n, generator=g)

    def sw(a, b):
        return float(sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(seed)))

    mass = torch.bincount(part.responsibilities(x).argmax(1), minlength=part.n_components).double() / n
    return dict(x=x, exact=exact, tilted=tilted, sw_exact=sw(x, exact), sw_tilted=sw(x, tilted),
                floor_exact=sw(exact2, exact), floor_tilted=sw(tilted2, tilted), sw_tilted_exact=sw(tilted, exact),
                mass=mass.tolist(), exact_mass=part.weights.tolist())



def inverse_mixture(problems: dict, n: int, n_steps: int, zeta: float = 0.05) -> dict:
    r"""DPS and projection on linear inverse problems $y = A x_0 + \sigma_y z$ of ``gmm_2d``, beside the exact posterior.

    ``problems`` maps a name to (A, y, σ_y); every sampler runs ``n_steps`` DDIM(η = 1) steps on VP's log-SNR grid
    from the same x_T, with the mixture's exact denoiser as the prior model (DPS with step ``zeta``; projection only
    where it applies, σ_y ≤ 0.05 and A not the identity). Returns, per name, dict(exact, floor (SW₂ between two exact
    sets), prior (SW₂ of prior samples to the exact ones), weights (the posterior's component weights), dps,
    projection).
    """
    process, gmm = make_process("vp"), gmm_2d()
    prior_model = gmm.predictor(process)
    out = {}
    for name, (A, y, sigma_y) in problems.items():
        A, y = torch.tensor(A, dtype=torch.float64), torch.tensor(y, dtype=torch.float64)
        post = linear_gaussian_posterior(gmm, A, y, sigma_y)
        gen = torch.Generator().manual_seed(1)
        ref, ref2 = post.sample(n, generator=gen), post.sample(n, generator=gen)
        x_T = Denoiser(process, prior_model).prior(n, (2,), gen)
        row = dict(exact=ref, floor=_sw(ref, ref2), prior=_sw(gmm.sample(n, generator=gen), ref), weights=post.weights)
        row["dps"] = Denoiser(process, prior_model, dps, "log_snr", operator=Matrix(A), measurement=y,
                              zeta=zeta).sample(x_T, n_steps, generator=torch.Generator().manual_seed(2))
        if sigma_y <= 0.05 and A.shape[0] < A.shape[1]:
            row["projection"] = Denoiser(process, Projection(prior_model, process, Matrix(A), y), "ddim", "log_snr",
                                         eta=1.0).sample(x_T, n_steps, generator=torch.Generator().manual_seed(2))
        out[name] = row
    return out


def _sw(a: Tensor, b: Tensor) -> float:
    """SW₂ with fixed projections (seed 0), as chapter 11 prints it."""
    return float(sliced_wasserstein(a, b, generator=torch.Generator().manual_seed(0)))


def guidance_opening(n: int = 300, n_steps: int = 15, label: int = 0, ws=(0.0, 1.0, 4.0), seed: int = 0):
    r"""Chapter 11's opening animation as (fig, update, n_frames): classifier-free guidance on ``gmm_2d`` with the exact
    label-conditional model (``MixturePredictor``), rectified flow, Euler, the same $x_1$ for every w: w = 0 samples
    the whole mixture, w = 1 class ``label``, w > 1 bends the paths further into the class."""
    process, gmm = make_process("flow"), gmm_2d()
    x_T = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    base = MixturePredictor(gmm, process, null_label=3)
    panels = []
    for w in ws:
        den = Denoiser(process, ClassifierFreeGuidance(base, w, null_label=3), "euler", "uniform")
        _, traj = den.sample(x_T, n_steps, return_trajectory=True, y=int(label))  # (n_steps + 1, n, 2)
        panels.append((f"w = {w:g}", traj))
    ts = torch.linspace(1, 0, n_steps + 1).tolist()
    titles = [f"CFG towards class {label} (grey: the whole mixture), t = {t:.2f}" for t in ts]
    return paths_animation(panels, titles, background=gmm.sample(600, generator=torch.Generator().manual_seed(1)).numpy())
