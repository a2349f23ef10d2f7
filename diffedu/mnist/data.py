r"""MNIST for chapter 12: the shipped ``data/mnist.npz`` (sha256-checked), scaled to $[-1, 1]$.

MNIST: Yann LeCun, Corinna Cortes and Christopher J. C. Burges, the MNIST database of handwritten digits
(CC BY-SA 3.0). The course ships its own copy so that it runs offline; ``load_mnist`` checks its sha256 and says
clearly what is wrong when the file is missing or damaged. ``read_idx`` / ``mnist_from_idx`` read the canonical IDX
files (the fallback on a machine where someone downloaded them); ``fetch_mnist`` downloads those from the canonical
mirrors on a machine with internet and accepts them only if their contents hash to the shipped file's arrays.

Pixels $p\in\{0,\dots,255\}$ map to $x = 2p/255 - 1 \in [-1, 1]$; images have shape (N, 1, 28, 28).
"""
from __future__ import annotations

import gzip
import hashlib
import struct
import urllib.error
import urllib.request
import zipfile
import zlib
from pathlib import Path

import numpy as np
import torch
from torch import Tensor

from ..runtime import DATA_DIR

__all__ = ["MNIST_SHA256", "DATA_DIR", "default_path", "sha256_of", "load_mnist", "to_unit",
           "read_idx", "write_idx", "mnist_from_idx", "MnistData", "MNIST_ARRAYS_SHA256", "MNIST_MIRRORS",
           "arrays_sha256", "fetch_mnist"]

MNIST_SHA256 = "06af5dfe73b70e3bc1c36439982b18a8d76803db9b544f6fdf838a37fbb01b64"
# sha256 of the four arrays' uint8 bytes (x_train, y_train, x_test, y_test in that order): the same content check
# for the npz and for IDX files fetched from a mirror, whatever their compression.
MNIST_ARRAYS_SHA256 = "06b0d1f124c4e5fa796686ade41a9b778edacc8622f2195a352ef479ad44fc16"
MNIST_MIRRORS = ("https://ossci-datasets.s3.amazonaws.com/mnist/", "https://storage.googleapis.com/cvdf-datasets/mnist/")
IDX_FILES = {"x_train": "train-images-idx3-ubyte", "y_train": "train-labels-idx1-ubyte",
             "x_test": "t10k-images-idx3-ubyte", "y_test": "t10k-labels-idx1-ubyte"}
_IDX_DTYPES = {0x08: np.uint8, 0x09: np.int8, 0x0B: np.dtype(">i2"), 0x0C: np.dtype(">i4"),
               0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


def default_path() -> Path:
    """The shipped file ``data/mnist.npz`` next to the package."""
    return DATA_DIR / "mnist.npz"


def sha256_of(path: str | Path) -> str:
    """Hex sha256 of a file, read in 1 MiB chunks."""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def to_unit(pixels: Tensor) -> Tensor:
    r"""uint8 pixels $p$ → $x = 2p/255 - 1\in[-1, 1]$ (float32)."""
    return pixels.to(torch.float32) * (2 / 255) - 1


class MnistData:
    """The four MNIST arrays as tensors: ``x_train`` (60000, 1, 28, 28) in [−1, 1], ``y_train`` (60000,) int64, …"""

    def __init__(self, x_train: Tensor, y_train: Tensor, x_test: Tensor, y_test: Tensor):
        self.x_train, self.y_train, self.x_test, self.y_test = x_train, y_train, x_test, y_test

    def split(self, name: str) -> tuple[Tensor, Tensor]:
        if name not in ("train", "test"):
            raise ValueError(f"split must be 'train' or 'test'; got {name!r}")
        return (self.x_train, self.y_train) if name == "train" else (self.x_test, self.y_test)

    def to(self, device) -> "MnistData":
        return MnistData(*(a.to(device) for a in (self.x_train, self.y_train, self.x_test, self.y_test)))

    def __repr__(self) -> str:
        return f"MnistData(train={len(self.y_train)}, test={len(self.y_test)}, device={self.x_train.device})"


def _from_arrays(arrays: dict, device) -> MnistData:
    out = []
    for key in ("x_train", "y_train", "x_test", "y_test"):
        a = torch.from_numpy(np.ascontiguousarray(arrays[key]))
        out.append(to_unit(a)[:, None] if key.startswith("x") else a.long())  # (N, 1, 28, 28) or (N,)
    data = MnistData(*out)
    return data.to(device) if device is not None else data


def load_mnist(path: str | Path | None = None, device=None, check: bool = True, download: bool = False) -> MnistData:
    """Load MNIST from ``data/mnist.npz`` (or ``path``), verify its sha256, scale to [−1, 1].

    ``device``: where the whole set goes (``diffedu.device()`` puts it on the GPU when on CUDA: 220 MB as float32).
    If the npz is missing but the four canonical IDX files (optionally .gz) lie in the same folder, reads those; with
    ``download=True`` it first fetches them from the canonical mirrors (``fetch_mnist``, content-checked).
    Raises FileNotFoundError (missing) or ValueError (damaged: sha256 mismatch or wrong contents) with what to do.
    """
    path = Path(path) if path is not None else default_path()
    if not path.exists():
        folder = path.parent
        if download and not all(_find_idx(folder, stem) is not None for stem in IDX_FILES.values()):
            fetch_mnist(folder)
        if all(_find_idx(folder, stem) is not None for stem in IDX_FILES.values()):
            # the shipped folder's fallback is held to the shipped content, as the npz is (other folders: by design not)
            expected = MNIST_ARRAYS_SHA256 if check and path.resolve() == default_path().resolve() else None
            return mnist_from_idx(folder, device=device, expected=expected)
        raise FileNotFoundError(
            f"MNIST file not found: {path}. The course ships it as data/mnist.npz (sha256 {MNIST_SHA256}); restore it "
            "with `git checkout -- data/mnist.npz`, or put the four IDX files "
            f"({', '.join(IDX_FILES.values())}, optionally .gz) in {folder}, or fetch them with "
            "load_mnist(download=True) on a machine with internet.")
    if check:
        digest = sha256_of(path)
        if path.resolve() == default_path().resolve() and digest != MNIST_SHA256:
            raise ValueError(f"MNIST file {path} is damaged: sha256 {digest} ≠ expected {MNIST_SHA256}. Restore it "
                             "with `git checkout -- data/mnist.npz` (or `git lfs pull`).")
    try:
        with np.load(path, allow_pickle=False) as f:
            arrays = {k: f[k] for k in IDX_FILES}
    except (KeyError, ValueError, OSError, EOFError, zipfile.BadZipFile, zlib.error) as e:
        raise ValueError(f"MNIST file {path} is damaged or not an MNIST npz (needs x_train, y_train, x_test, y_test): "
                         f"{e}") from e
    _check_arrays(arrays, str(path))
    return _from_arrays(arrays, device)


def _check_arrays(arrays: dict, where: str) -> None:
    """MNIST's shapes and types: x uint8 (N, 28, 28) with N ≥ 1, y one integer label in 0–9 per image."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.ndim != 3 or x.shape[1:] != (28, 28) or x.dtype != np.uint8 or x.shape[0] < 1:
            raise ValueError(f"{where}: x_{split} must be uint8 of shape (N, 28, 28), N ≥ 1; got {x.dtype} {x.shape}")
        if y.shape != (x.shape[0],) or not np.issubdtype(y.dtype, np.integer):
            raise ValueError(f"{where}: y_{split} must hold one integer label per image ({x.shape[0]}); got "
                             f"{y.dtype} {y.shape}")
        if int(y.min()) < 0 or int(y.max()) > 9:
            raise ValueError(f"{where}: y_{split} must hold labels in 0–9; got {int(y.min())} to {int(y.max())}")


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write an array in the IDX format (big-endian magic 0x0000 dtype ndim, then each dim as uint32); .gz if asked."""
    codes = {np.dtype(np.uint8): 0x08, np.dtype(np.int8): 0x09}
    if array.dtype not in codes:
        raise TypeError(f"array must be uint8 or int8; got {array.dtype}")
    header = struct.pack(">HBB", 0, codes[array.dtype], array.ndim) + struct.pack(f">{array.ndim}I", *array.shape)
    raw = header + np.ascontiguousarray(array).tobytes()
    path = Path(path)
    with (gzip.open(path, "wb") if path.suffix == ".gz" else open(path, "wb")) as f:
        f.write(raw)


def read_idx(path: str | Path) -> np.ndarray:
    """Read one IDX file (LeCun's format: 2 zero bytes, a dtype code, the number of dims, dims as big-endian uint32)."""
    path = Path(path)
    try:
        with (gzip.open(path, "rb") if path.suffix == ".gz" else open(path, "rb")) as f:
            raw = f.read()
    except (EOFError, zlib.error, gzip.BadGzipFile) as e:
        raise ValueError(f"{path} is damaged (not a readable gzip file): {e}") from None
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_DTYPES:
        raise ValueError(f"{path} is not an IDX file (bad magic number)")
    ndim = raw[3]
    if len(raw) < 4 + 4 * ndim:
        raise ValueError(f"{path} is truncated (header)")
    shape = struct.unpack(f">{ndim}I", raw[4:4 + 4 * ndim])
    dtype = np.dtype(_IDX_DTYPES[raw[2]])
    n = int(np.prod(shape)) if ndim else 1
    body = raw[4 + 4 * ndim:]
    if len(body) != n * dtype.itemsize:
        raise ValueError(f"{path} is damaged: {len(body)} data bytes for shape {shape} ({n * dtype.itemsize} expected)")
    return np.frombuffer(body, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="))


def _find_idx(folder: Path, stem: str) -> Path | None:
    for name in (stem, stem + ".gz", stem.replace("-idx", ".idx")):
        if (folder / name).exists():
            return folder / name
    return None


def mnist_from_idx(folder: str | Path, device=None, expected: str | None = None) -> MnistData:
    """MNIST from the four canonical IDX files (plain or .gz) in ``folder``; with ``expected``, their content hash
    (``arrays_sha256``) must equal it."""
    folder = Path(folder)
    arrays = {}
    for key, stem in IDX_FILES.items():
        p = _find_idx(folder, stem)
        if p is None:
            raise FileNotFoundError(f"IDX file {stem}[.gz] not found in {folder}")
        arrays[key] = read_idx(p)
    _check_arrays(arrays, str(folder))
    if expected is not None and arrays_sha256(arrays) != expected:
        raise ValueError(f"the MNIST IDX files in {folder} are damaged or not MNIST: content sha256 "
                         f"{arrays_sha256(arrays)} ≠ expected {expected}")
    return _from_arrays(arrays, device)


def arrays_sha256(arrays: dict) -> str:
    """sha256 over the uint8 bytes of x_train, y_train, x_test, y_test (in that order): MNIST's content hash."""
    h = hashlib.sha256()
    for key in IDX_FILES:
        h.update(np.ascontiguousarray(arrays[key], dtype=np.uint8).tobytes())
    return h.hexdigest()


def _download(url: str, dest: Path, timeout: float) -> None:
    part = dest.with_name(dest.name + ".part")
    with urllib.request.urlopen(url, timeout=timeout) as r, open(part, "wb") as f:
        for chunk in iter(lambda: r.read(1 << 20), b""):
            f.write(chunk)
    part.replace(dest)


def fetch_mnist(folder: str | Path | None = None, mirrors=MNIST_MIRRORS, expected: str | None = MNIST_ARRAYS_SHA256,
                timeout: float = 60.0) -> Path:
    """Download the four canonical IDX .gz files into ``folder`` (default ``data/``), trying each mirror in turn.

    The files are kept only if their contents hash to ``expected`` (``arrays_sha256``; the shipped file's arrays by
    default); otherwise they are deleted and a ValueError says so. No mirror reachable → ConnectionError.
    """
    folder = Path(folder) if folder is not None else DATA_DIR
    folder.mkdir(parents=True, exist_ok=True)
    paths = [folder / f"{stem}.gz" for stem in IDX_FILES.values()]
    errors = []
    for base in mirrors:
        try:
            for p in paths:
                _download(base + p.name, p, timeout)
            break
        except (urllib.error.URLError, OSError) as e:
            errors.append(f"{base}: {e}")
    else:
        raise ConnectionError("could not fetch MNIST from any mirror (" + "; ".join(errors) + "); the course ships "
                              "data/mnist.npz — restore it with `git checkout -- data/mnist.npz`")
    arrays = {key: read_idx(p) for key, p in zip(IDX_FILES, paths)}
    digest = arrays_sha256(arrays)
    if expected is not None and digest != expected:
        for p in paths:
            p.unlink()
        raise ValueError(f"the MNIST files fetched from {base} are damaged: content sha256 {digest} ≠ expected "
                         f"{expected}; they were deleted")
    return folder
