"""Chapter 12's opening animation: digits emerging from noise under the shipped ``mnist-edm`` checkpoint."""
from __future__ import annotations

import torch

from ..checks import require_integer
from ..denoiser import Denoiser
from ..mnist import pretrained
from .animation import FONT, opening_axes

__all__ = ["digit_frames", "digit_opening"]


def digit_frames(n_steps: int = 12, seed: int = 0) -> dict:
    r"""The ten labels 0–9 sampled with ``mnist-edm`` (Heun, Karras grid, ``n_steps`` steps, exact checkpoint weights),
    recording after every step the state $x_t$ and the denoiser's guess $\hat x_0$. Returns ``sigmas`` (the grid),
    ``x`` and ``x0_hat``, each (n_steps + 1, 10, 28, 28); ``x[k]`` and ``x0_hat[k]`` belong to σ_k."""
    n_steps = require_integer("n_steps", n_steps, lo=2)
    model = pretrained.load("mnist-edm")
    den = Denoiser(model.process, model.predictor, "heun", "karras", shape=(1, 28, 28))
    x_T = den.prior(10, (1, 28, 28), torch.Generator().manual_seed(seed), dtype=torch.float32)
    y = torch.arange(10)
    states, guesses = [x_T], []
    with torch.no_grad():  # step k's callback: x after the step, x̂₀ evaluated at its start σ_k
        x0 = den.sample(x_T, n_steps, y=y, callback=lambda info: (states.append(info["x"].float()),
                                                                    guesses.append(info["x0_hat"].float())))
    guesses.append(x0.float())  # at σ = 0 the guess is the sample itself
    return {"sigmas": den.grid(n_steps).tolist(), "x": torch.stack(states)[:, :, 0],
            "x0_hat": torch.stack(guesses)[:, :, 0]}


def digit_opening(n_steps: int = 12, seed: int = 0):
    r"""(fig, update, n_frames) for ``animation.animation_html``: the state $x_t / \sqrt{1 + \sigma^2}$ (top) and the
    guess $\hat x_0$ (bottom) of ten digits, one frame per Heun step."""
    fr = digit_frames(n_steps, seed)
    fig, axes = opening_axes(1, height=2.6)
    ax = axes[0]

    def strip(imgs):  # (10, 28, 28) → (28, 280)
        return torch.cat(list(imgs.clamp(-1, 1)), 1).numpy()

    def update(k: int):
        ax.clear()
        sigma = fr["sigmas"][k]
        top = strip(fr["x"][k] / (1 + sigma**2) ** 0.5)
        ax.imshow(torch.cat([torch.tensor(top), torch.tensor(strip(fr["x0_hat"][k]))], 0).numpy(), cmap="gray",
                  vmin=-1, vmax=1)
        ax.set(xticks=[], yticks=[28 * 0.5, 28 * 1.5])
        ax.set_yticklabels(["$x_t$ (scaled)", r"$\hat x_0$"], fontsize=FONT)
        ax.set_title(f"labels 0–9 from noise, Heun step {k} of {len(fr['sigmas']) - 1}: σ = {sigma:.3g}",
                     fontsize=FONT)

    return fig, update, len(fr["sigmas"])
