"""Training loop: objectives, label dropout, EMA, checkpoint + card, CLI errors."""
import json

import pytest
import torch

from diffedu.mnist import models as M
from diffedu.mnist import train as T
from diffedu.nets import NULL_CLASS
from _mnist_tiny import tiny_checkpoint, tiny_data


def test_drop_labels_rate():
    """Oracle: Bernoulli(p) dropout; with p = 0.3 on 20000 labels the null-class fraction is 0.3 ± 4.5σ (σ ≈ 0.0032)."""
    y = torch.randint(0, 10, (20000,))
    out = T.drop_labels(y, 0.3, torch.Generator().manual_seed(0))
    frac = (out == NULL_CLASS).double().mean().item()
    assert abs(frac - 0.3) < 4.5 * (0.3 * 0.7 / 20000) ** 0.5
    assert torch.equal(out[out != NULL_CLASS], y[out != NULL_CLASS])
    assert torch.equal(T.drop_labels(y, 0.0), y)
    with pytest.raises(ValueError, match="p_uncond"):
        T.drop_labels(y, 1.5)


def test_ema_update_closed_form():
    """Oracle: one EMA step is θ_ema ← d θ_ema + (1−d) θ exactly (float64)."""
    a, b = torch.nn.Linear(3, 2).double(), torch.nn.Linear(3, 2).double()
    w_a, w_b = a.weight.detach().clone(), b.weight.detach().clone()
    T.ema_update(a, b, 0.9)
    torch.testing.assert_close(a.weight.detach(), 0.9 * w_a + 0.1 * w_b)
    with pytest.raises(ValueError, match="decay"):
        T.ema_update(a, b, 1.0)


@pytest.mark.parametrize("objective", ["ddpm", "flow", "edm"])
def test_each_objective_trains_and_saves(tmp_path, objective):
    """Oracle: a few steps give finite losses; the card holds the sha256 of the weights file it names."""
    path, res = tiny_checkpoint(tmp_path, objective, steps=3)
    assert len(res["losses"]) == 3 and all(torch.isfinite(torch.tensor(res["losses"])))
    card = json.loads(path.read_text())
    from diffedu.mnist.data import sha256_of
    assert card["sha256"] == sha256_of(tmp_path / card["file"])
    assert card["kind"] == {"ddpm": "eps", "flow": "velocity", "edm": "x0"}[objective]


def test_loss_falls():
    """Oracle: on a fixed 256-digit subset, 60 Adam steps lower the mean EDM loss of the last 15 steps below the first 15
    (the untrained zero-output net starts at the loss of D_x = c_skip x; training must improve on it)."""
    res = T.train_diffusion("edm", 60, batch=16, lr=1e-3, data=tiny_data(), channels=(8, 8), progress=False)
    first, last = sum(res["losses"][:15]) / 15, sum(res["losses"][-15:]) / 15
    assert last < first


def test_bad_arguments():
    """Oracle: unknown objective, bf16 on CPU, steps < 1 → ValueError naming the argument."""
    with pytest.raises(ValueError, match="objective"):
        M.build_model("gan")
    with pytest.raises(ValueError, match="CUDA"):
        T.train_diffusion("edm", 1, data=tiny_data(), bf16=True, progress=False)
    with pytest.raises(ValueError, match="steps"):
        T.train_diffusion("edm", 0, data=tiny_data(), progress=False)


def test_cli_writes_checkpoint(tmp_path):
    """Oracle: `train mnist` via main() writes <name>.safetensors and a card whose command repeats the arguments."""
    T.main(["mnist", "--objective", "flow", "--steps", "2", "--batch", "4", "--channels", "8,8", "--device", "cpu",
            "--out", str(tmp_path), "--name", "cli", "--no-progress"])
    card = json.loads((tmp_path / "cli.json").read_text())
    assert (tmp_path / "cli.safetensors").exists() and "--objective flow" in card["command"]
    assert card["device"].startswith("cpu") and card["steps"] == 2


def test_continued_runs_keep_every_earlier_command(tmp_path):
    """Oracle: enumeration. Three runs of two steps, each continuing the last with ``--init``: the third card lists the
    first two commands, oldest first, and counts all 6 steps; a fresh run lists none."""
    base = ["mnist", "--objective", "flow", "--steps", "2", "--batch", "4", "--channels", "8,8", "--device", "cpu",
            "--out", str(tmp_path), "--no-progress"]
    for name, init in (("a", None), ("b", "a"), ("c", "b")):
        T.main([*base, "--name", name, *(["--init", init, "--lr", "1e-5"] if init else [])])
    cards = {n: json.loads((tmp_path / f"{n}.json").read_text()) for n in "abc"}
    assert cards["a"]["continued_from"] == []
    assert cards["c"]["continued_from"] == [cards["a"]["command"], cards["b"]["command"]]
    assert "--init a" in cards["b"]["command"] and cards["c"]["steps"] == 6
    assert T.earlier_commands({"command": "x", "continued_from": "w"}) == ["w", "x"]  # a card from before the chain


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
@pytest.mark.gpu
def test_bf16_channels_last_on_cuda():
    """Oracle: a few bf16 + channels_last steps on the GPU give finite losses."""
    res = T.train_diffusion("edm", 3, batch=8, data=tiny_data(), device="cuda", bf16=True, progress=False)
    assert all(torch.isfinite(torch.tensor(res["losses"])))


def test_snapshots_at_wall_times():
    """Oracle: a snapshot taken at wall time 0 holds the EMA weights after the first step, which equal the net's own
    weights then (EMA decay is 0 on the first step); a time past the end of training yields no snapshot."""
    res = T.train_diffusion("flow", 2, batch=4, data=tiny_data(), channels=(8, 8), progress=False,
                          snapshot_at=(0.0, 1e9))
    assert len(res["snapshots"]) == 1
    wall, steps, state = res["snapshots"][0]
    assert steps == 1 and wall >= 0
    assert set(state) == set(res["net"].state_dict())


def test_init_continues_from_weights():
    """Oracle: with learning rate 0 the weights cannot move, so a run started from ``init`` ends with exactly those
    weights (EMA of identical weights is the same weights), bit for bit."""
    first = T.train_diffusion("flow", 1, batch=4, data=tiny_data(), channels=(8, 8), progress=False)
    state = {k: v.clone() for k, v in first["net"].state_dict().items()}
    again = T.train_diffusion("flow", 1, batch=4, lr=0.0, data=tiny_data(), channels=(8, 8), progress=False,
                              init=state, seed=5)
    for k, v in again["net"].state_dict().items():
        assert torch.equal(v, state[k]), k


def test_warmup_ramps_the_learning_rate(monkeypatch):
    """Oracle: linear warm-up over W steps sets Adam's rate to lr·(k+1)/W for step k; read from the optimiser after
    each step (W = 4, three steps: the rates for steps 1, 2, 3 are 2/4, 3/4, 4/4 of lr)."""
    built, adam = [], torch.optim.Adam
    monkeypatch.setattr(torch.optim, "Adam", lambda params, lr: built.append(adam(params, lr=lr)) or built[-1])
    rates = []
    T.train_diffusion("flow", 3, batch=4, lr=1e-3, data=tiny_data(), channels=(8, 8), progress=False, warmup=4,
                      callback=lambda step, loss: rates.append(built[0].param_groups[0]["lr"]))
    assert rates == pytest.approx([2e-3 / 4, 3e-3 / 4, 4e-3 / 4])


def test_a_continued_run_keeps_the_ema_memory():
    """Oracle: the EMA closed form. Continuing from ``init`` for one step with decay d, the EMA is
    d·init + (1 − d)·net₁ (a fresh run would give net₁ itself); checked with d = 0.5 against the raw net."""
    first = T.train_diffusion("flow", 1, batch=4, data=tiny_data(), channels=(8, 8), progress=False)
    init = {k: v.clone() for k, v in first["net"].state_dict().items()}
    res = T.train_diffusion("flow", 1, batch=4, lr=1e-2, ema_decay=0.5, data=tiny_data(), channels=(8, 8),
                            progress=False, init=init, seed=3)
    moved = T.train_diffusion("flow", 1, batch=4, lr=1e-2, ema_decay=0.0, data=tiny_data(), channels=(8, 8),
                              progress=False, init=init, seed=3)  # decay 0: the EMA is the raw net after one step
    raw = moved["net"].state_dict()
    for k, v in res["net"].state_dict().items():
        if v.is_floating_point():
            torch.testing.assert_close(v, 0.5 * init[k] + 0.5 * raw[k], rtol=1e-5, atol=1e-6)


def test_loss_curve_means_consecutive_steps():
    """Oracle: the means written out by hand — 120 losses in 60 points of 2 steps, 7 losses in 7 points of 1 step;
    the tail that does not fill a point is dropped."""
    losses = [float(i) for i in range(121)]
    curve = T.loss_curve(losses, points=60)
    assert len(curve) == 60 and curve[0] == [0, 0.5] and curve[-1] == [118, 118.5]
    assert T.loss_curve([3.0, 1.0, 2.0], points=50) == [[0, 3.0], [1, 1.0], [2, 2.0]]
