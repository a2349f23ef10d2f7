"""The MNIST models' recipe (chapter 12): which process, output kind, loss and network each objective uses.

``build_model`` is what both the trainer and the checkpoint loader need, so it lives here, below both.

* ``ddpm``: ε-prediction on ``DiscreteDDPM`` (Ho et al. 2020), ``eps_loss``;
* ``flow``: velocity on ``RectifiedFlow`` (Liu et al. 2023; Lipman et al. 2023), ``flow_matching_loss``;
* ``edm``: the preconditioned denoiser $D_x$ on ``EDM`` (Karras et al. 2022), ``edm_loss``.
"""
from __future__ import annotations

from torch import Tensor, nn

from .. import losses
from ..nets import EDMPrecond, UNet
from ..processes import EDM, DiscreteDDPM, RectifiedFlow

__all__ = ["OBJECTIVES", "build_model", "Classifier"]

# objective → (process factory, output kind, loss, U-Net t_scale)
OBJECTIVES = {
    "ddpm": (DiscreteDDPM, "eps", losses.eps_loss, 1.0),
    "flow": (RectifiedFlow, "velocity", losses.flow_matching_loss, 1000.0),
    "edm": (EDM, "x0", losses.edm_loss, 250.0),
}


def build_model(objective: str, channels=(32, 64, 64), blocks: int = 1, **unet_kw):
    """(net, process, kind) for an objective; for ``edm`` the net is ``EDMPrecond(UNet)`` returning $D_x$."""
    if objective not in OBJECTIVES:
        raise ValueError(f"objective must be one of {sorted(OBJECTIVES)}; got {objective!r}")
    make_process, kind, _, t_scale = OBJECTIVES[objective]
    process = make_process()
    unet = UNet(tuple(channels), blocks, t_scale=t_scale, **unet_kw)
    net = EDMPrecond(unet, process.sigma_data) if objective == "edm" else unet
    return net, process, kind


class Classifier(nn.Module):
    """A small CNN for MNIST (two conv stages, 128-d features, 10 logits); ``features(x)`` gives the 128-d layer.

    Input in [−1, 1], shape (B, 1, 28, 28). Its features define FD-MNIST (``diffedu.metrics``).
    """

    def __init__(self, width: int = 16, feature_dim: int = 128):
        super().__init__()
        self.config = dict(width=width, feature_dim=feature_dim)
        w = width
        self.body = nn.Sequential(
            nn.Conv2d(1, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(),
            nn.Conv2d(w, w, 3, padding=1), nn.BatchNorm2d(w), nn.ReLU(), nn.MaxPool2d(2),  # 14×14
            nn.Conv2d(w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(),
            nn.Conv2d(2 * w, 2 * w, 3, padding=1), nn.BatchNorm2d(2 * w), nn.ReLU(), nn.MaxPool2d(2),  # 7×7
            nn.Flatten(), nn.Linear(2 * w * 49, feature_dim), nn.ReLU())
        self.head = nn.Linear(feature_dim, 10)

    def features(self, x: Tensor) -> Tensor:
        return self.body(x)  # (B, feature_dim)

    def forward(self, x: Tensor) -> Tensor:
        return self.head(self.features(x))  # (B, 10)
