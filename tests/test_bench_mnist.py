"""``python -m diffedu bench train-mnist``: what it times, what it skips, and that it prints a row per mode."""
import json

import pytest
import torch

from diffedu.mnist import bench as bench_mnist
from _mnist_tiny import tiny_data


def test_cpu_skips_the_cuda_recipe_with_its_reason():
    """Oracle: the documented contract — bf16 and compile are CUDA-only; on a CPU they are skipped, saying why."""
    for mode in ("bf16", "compile"):
        assert "CUDA" in bench_mnist.skip_reason(mode, torch.device("cpu"))
    assert bench_mnist.skip_reason("fp32", torch.device("cpu")) is None
    with pytest.raises(ValueError, match="mode"):
        bench_mnist.skip_reason("fp8", torch.device("cpu"))


def test_timed_steps_exclude_the_warm_up():
    """Oracle: arithmetic on the returned figures — img/s is steps × batch over the timed part, s/step its inverse
    per step, and the warm-up is reported on its own (positive)."""
    r = bench_mnist.bench_mode("fp32", "flow", steps=3, warmup=1, batch=4, device="cpu", data=tiny_data(),
                               channels=(8, 8))
    assert r["warmup_s"] > 0 and r["steps"] == 3
    assert abs(r["img_per_s"] * r["s_per_step"] - 4) < 0.05 * 4  # (3·4 / T) · (T / 3) = batch, up to rounding
    with pytest.raises(ValueError, match="warmup"):
        bench_mnist.bench_mode("fp32", "flow", steps=1, warmup=0, batch=4, device="cpu", data=tiny_data())


def test_sampling_throughput():
    """Oracle: arithmetic — samples/s is n over the reported wall time (up to rounding); the row names its NFE."""
    r = bench_mnist.bench_sampling(n=4, nfe=5, channels=(8, 8), device="cpu")
    assert r["nfe"] == 5 and abs(r["samples_per_s"] - 4 / r["wall_s"]) <= 0.05 * r["samples_per_s"] + 0.1


def test_cli_prints_every_mode(capsys):
    """Oracle: the JSON has one row per mode asked for, and the sampling row."""
    bench_mnist.main(["--modes", "fp32,bf16", "--objective", "flow", "--steps", "1", "--batch", "2",
                      "--channels", "8,8", "--device", "cpu", "--json"])
    out = json.loads(capsys.readouterr().out)
    assert [r["mode"] for r in out["results"]] == ["fp32", "bf16"] and "skipped" in out["results"][1]
    assert out["sampling"]["nfe"] == 20
