"""Reliability of the data and weight files (review D9, D10): trusted only after checks, damage reported clearly.

Oracles: files damaged on purpose here (truncated zip, bad labels, a card pointing outside its folder, a card whose
net_config is huge or disagrees with the weights, weights that are not safetensors, a card that is a JSON list) each
end in a ValueError that names the file and the problem, raised before any network is built; the shipped checkpoint
copied unchanged still loads.
"""
from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch

from diffedu.mnist import pretrained
from diffedu.mnist.data import load_mnist, mnist_from_idx, sha256_of, write_idx

ROOT = Path(__file__).resolve().parent.parent
CK = ROOT / "data" / "checkpoints"


def _arrays(y_train, y_test, n=10):
    z = np.zeros((n, 28, 28), np.uint8)
    return dict(x_train=z, y_train=y_train, x_test=z, y_test=y_test)


@pytest.mark.parametrize("y,match", [(-np.ones(10, np.int64), "0–9"), (np.full(10, 3.7), "integer"),
                                     (np.full(10, 12, np.int64), "0–9"), (np.zeros(9, np.int64), "one integer")])
def test_mnist_labels_are_checked(tmp_path, y, match):
    """Oracle: MNIST labels are integers 0–9, one per image; -1, 3.7, 12 and a missing label are refused."""
    np.savez(tmp_path / "bad.npz", **_arrays(y, np.zeros(10, np.int64)))
    with pytest.raises(ValueError, match=match):
        load_mnist(tmp_path / "bad.npz")


def test_mnist_empty_and_truncated(tmp_path):
    """Oracle: an empty split (N = 0) and a zip cut in half (BadZipFile inside numpy) are clear ValueErrors."""
    np.savez(tmp_path / "empty.npz", **_arrays(np.zeros(0, np.int64), np.zeros(0, np.int64), n=0))
    with pytest.raises(ValueError, match="N ≥ 1"):
        load_mnist(tmp_path / "empty.npz")
    np.savez_compressed(tmp_path / "ok.npz", **_arrays(np.arange(10) % 10, np.arange(10) % 10, n=10))
    raw = (tmp_path / "ok.npz").read_bytes()
    (tmp_path / "t.npz").write_bytes(raw[: len(raw) // 2])
    with pytest.raises(ValueError, match="damaged"):
        load_mnist(tmp_path / "t.npz")
    assert load_mnist(tmp_path / "ok.npz").y_test.tolist() == list(range(10))


def test_idx_fallback_checks_the_content_hash(tmp_path):
    """Oracle: well-formed IDX files of other content do not hash to MNIST's arrays (arrays_sha256); a damaged .gz is
    a ValueError, not a raw gzip error."""
    a = _arrays(np.arange(10, dtype=np.uint8) % 10, np.arange(10, dtype=np.uint8) % 10)
    names = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
    for key, stem in names.items():
        write_idx(tmp_path / stem, a[key])
    assert len(mnist_from_idx(tmp_path).y_train) == 10
    with pytest.raises(ValueError, match="content sha256"):
        mnist_from_idx(tmp_path, expected="0" * 64)
    (tmp_path / "train-labels-idx1-ubyte").unlink()
    (tmp_path / "train-labels-idx1-ubyte.gz").write_bytes(b"\x1f\x8b\x08garbage")
    with pytest.raises(ValueError, match="damaged"):
        mnist_from_idx(tmp_path)


@pytest.fixture()
def folder(tmp_path):
    """A copy of the shipped checkpoints (cards and weights), to damage."""
    shutil.copytree(CK, tmp_path / "ck")
    return tmp_path / "ck"


def _edit_card(folder, name="mnist-edm", **changes):
    path = folder / f"{name}.json"
    card = json.loads(path.read_text())
    card.update(changes)
    path.write_text(json.dumps(card))
    return card


def test_card_file_must_stay_in_its_folder(folder):
    """Oracle: "../outside.safetensors" (a real copy of the weights, sha256 matching) is refused by name."""
    shutil.copy(folder / "mnist-edm.safetensors", folder.parent / "outside.safetensors")
    _edit_card(folder, file="../outside.safetensors")
    with pytest.raises(ValueError, match="plain file name"):
        pretrained.load("mnist-edm", folder=folder)
    with pytest.raises(ValueError, match="plain file name"):
        pretrained.load("../ck/mnist-edm", folder=folder)


@pytest.mark.parametrize("cfg,match", [(dict(channels=[8192] * 3, blocks=1), "8–512"),
                                       (dict(channels=[16, 32], blocks=1000), "blocks"),
                                       (dict(channels=[12, 16], blocks=1), "multiples of 8"),
                                       (dict(channels="16,32", blocks=1), "list"),
                                       ([16, 32], "JSON object")])
def test_card_net_config_is_bounded_before_a_net_is_built(folder, cfg, match):
    """Oracle: NET_BOUNDS; channels of 8192 used to allocate GBs and run for over a minute before failing."""
    _edit_card(folder, net_config=cfg)
    with pytest.raises(ValueError, match=match):
        pretrained.load("mnist-edm", folder=folder)


def test_card_of_the_wrong_type_or_kind(folder):
    """Oracle: a card that is a JSON list, or names an unknown kind or objective, is damaged."""
    (folder / "mnist-flow.json").write_text("[1, 2]")
    with pytest.raises(ValueError, match="JSON object"):
        pretrained.load("mnist-flow", folder=folder)
    _edit_card(folder, "mnist-ddpm", objective="gan")
    with pytest.raises(ValueError, match="objective"):
        pretrained.load("mnist-ddpm", folder=folder)


def test_weights_that_do_not_fit_or_are_not_safetensors(folder):
    """Oracle: a net_config other than the one the weights were trained with, and a torch.save file whose sha256 is
    put in the card, each end in "checkpoint … is damaged" (no raw RuntimeError / SafetensorError)."""
    _edit_card(folder, net_config=dict(channels=[16, 32], blocks=1))
    with pytest.raises(ValueError, match="is damaged: its weights do not fit"):
        pretrained.load("mnist-edm", folder=folder)
    torch.save({"a": torch.zeros(2)}, folder / "mnist-flow.safetensors")
    _edit_card(folder, "mnist-flow", sha256=sha256_of(folder / "mnist-flow.safetensors"))
    with pytest.raises(ValueError, match="is damaged"):
        pretrained.load("mnist-flow", folder=folder)
    assert pretrained.load("mnist-ddpm", folder=folder).kind == "eps"  # the untouched copy still loads


def test_pretrained_sample_refuses_what_the_cli_refuses():
    """Oracle: the CLI's rule w ≥ 0 (guidance), and a generator must be a torch.Generator."""
    model = pretrained.load("mnist-edm")
    with pytest.raises(ValueError, match="w must be ≥ 0"):
        model.sample(2, 3, n_steps=1, w=-3)
    with pytest.raises(TypeError, match="generator"):
        model.sample(2, 3, n_steps=1, generator=5)
