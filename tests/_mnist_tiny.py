"""A tiny MNIST subset and tiny checkpoints written to a temporary folder, for fast CPU tests."""
import torch

from diffedu.mnist.data import MnistData, load_mnist
from diffedu.mnist.pretrained import save_checkpoint
from diffedu.mnist.train import train_diffusion

_CACHE = {}


def tiny_data(n_train: int = 256, n_test: int = 128) -> MnistData:
    if "d" not in _CACHE:
        d = load_mnist()
        _CACHE["d"] = MnistData(d.x_train[:n_train].clone(), d.y_train[:n_train].clone(),
                                d.x_test[:n_test].clone(), d.y_test[:n_test].clone())
    return _CACHE["d"]


def tiny_checkpoint(folder, objective: str = "edm", steps: int = 2):
    res = train_diffusion(objective, steps, batch=8, data=tiny_data(), channels=(8, 8), progress=False)
    card = dict(kind=res["kind"], objective=objective, process=res["process"].name, net_config=res["net_config"],
                steps=res["steps"], device=res["device"])
    return save_checkpoint(res["net"], folder, f"tiny-{objective}", card), res
