"""MNIST loader: shipped file, sha256 check, clear errors, IDX fallback (offline, with small IDX files written here)."""
import gzip
import shutil

import numpy as np
import pytest
import torch

from diffedu import data as D


def test_shipped_file_loads_scaled():
    """Oracle: the data README (shapes, canonical first labels 5 0 4 1 9 / 7 2 1 0 4) and the map 2p/255 − 1."""
    d = D.load_mnist()
    assert d.x_train.shape == (60000, 1, 28, 28) and d.x_test.shape == (10000, 1, 28, 28)
    assert d.y_train[:5].tolist() == [5, 0, 4, 1, 9] and d.y_test[:5].tolist() == [7, 2, 1, 0, 4]
    assert d.x_train.min().item() == -1.0 and d.x_train.max().item() == 1.0
    assert D.sha256_of(D.default_path()) == D.MNIST_SHA256


def test_missing_file_error(tmp_path):
    """Oracle: a path that does not exist must raise FileNotFoundError naming the path and the fix."""
    with pytest.raises(FileNotFoundError, match="mnist.npz"):
        D.load_mnist(tmp_path / "mnist.npz")


def test_damaged_file_errors(tmp_path, monkeypatch):
    """Oracle: a byte-flipped copy of the shipped file fails the sha256 check; a non-npz fails to parse."""
    bad = tmp_path / "mnist.npz"
    raw = bytearray(D.default_path().read_bytes())
    raw[1000] ^= 0xFF
    bad.write_bytes(bytes(raw))
    monkeypatch.setattr(D, "default_path", lambda: bad)
    with pytest.raises(ValueError, match="damaged"):
        D.load_mnist(bad)
    junk = tmp_path / "junk.npz"
    junk.write_bytes(b"not a zip file")
    with pytest.raises(ValueError, match="damaged"):
        D.load_mnist(junk)


def _write_tiny_idx(folder, gz):
    rng = np.random.default_rng(0)
    arrays = dict(x_train=rng.integers(0, 256, (7, 28, 28), dtype=np.uint8), y_train=np.arange(7, dtype=np.uint8),
                  x_test=rng.integers(0, 256, (3, 28, 28), dtype=np.uint8), y_test=np.array([9, 0, 5], np.uint8))
    for key, stem in D.IDX_FILES.items():
        D.write_idx(folder / (stem + (".gz" if gz else "")), arrays[key])
    return arrays


@pytest.mark.parametrize("gz", [False, True])
def test_idx_round_trip_and_fallback(tmp_path, gz):
    """Oracle: arrays written in IDX (plain and gzip) read back bit-exactly; load_mnist falls back to them."""
    arrays = _write_tiny_idx(tmp_path, gz)
    stem = D.IDX_FILES["x_train"] + (".gz" if gz else "")
    np.testing.assert_array_equal(D.read_idx(tmp_path / stem), arrays["x_train"])
    d = D.load_mnist(tmp_path / "mnist.npz")  # missing npz, IDX present
    assert d.y_test.tolist() == [9, 0, 5]
    torch.testing.assert_close(d.x_train[:, 0], torch.from_numpy(arrays["x_train"]).float() * 2 / 255 - 1)


def test_idx_damaged(tmp_path):
    """Oracle: a truncated IDX body and a wrong magic number are both refused with ValueError."""
    arrays = _write_tiny_idx(tmp_path, False)
    p = tmp_path / D.IDX_FILES["x_test"]
    p.write_bytes(p.read_bytes()[:-5])
    with pytest.raises(ValueError, match="damaged"):
        D.read_idx(p)
    p.write_bytes(b"\x01\x02\x08\x01" + b"\x00" * 8)
    with pytest.raises(ValueError, match="magic"):
        D.read_idx(p)
    assert arrays  # the fixture wrote the files


def test_shipped_arrays_hash():
    """Oracle: the content hash that fetched IDX files must match is the hash of the shipped file's own arrays."""
    with np.load(D.default_path()) as f:
        assert D.arrays_sha256({k: f[k] for k in D.IDX_FILES}) == D.MNIST_ARRAYS_SHA256


def test_fetch_from_a_mirror(tmp_path):
    """Oracle: tiny IDX .gz files served from a local file:// 'mirror' (no network) are fetched after an unreachable
    first mirror, pass the content check, and load bit-exactly; a wrong expected hash deletes them with a ValueError."""
    mirror, dest = tmp_path / "mirror", tmp_path / "data"
    mirror.mkdir()
    arrays = _write_tiny_idx(mirror, gz=True)
    mirrors = ((tmp_path / "nowhere").as_uri() + "/", mirror.as_uri() + "/")
    D.fetch_mnist(dest, mirrors=mirrors, expected=D.arrays_sha256(arrays))
    d = D.load_mnist(dest / "mnist.npz")
    assert d.y_train.tolist() == list(range(7))
    with pytest.raises(ValueError, match="damaged"):
        D.fetch_mnist(tmp_path / "other", mirrors=mirrors, expected="0" * 64)
    assert not list((tmp_path / "other").glob("*.gz"))
    with pytest.raises(ConnectionError, match="mirror"):
        D.fetch_mnist(tmp_path / "third", mirrors=((tmp_path / "nowhere").as_uri() + "/",))
