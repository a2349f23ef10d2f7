"""Fréchet distance, conditional accuracy and the eval command's input checks."""
import json

import numpy as np
import pytest
import torch

from diffedu.mnist import evaluate
from diffedu.metrics import conditional_accuracy, frechet_distance


def test_frechet_distance_closed_form():
    """Oracle: for Gaussians N(m1, S1), N(m2, S2) the distance is |m1−m2|² + tr(S1 + S2 − 2(S1 S2)^½); with 200k samples
    of diagonal Gaussians (means 0 / 1 in each of 3 dims, variances 1 / 4) the closed form is 3 + 3(1 + 4 − 4) = 6;
    Monte Carlo error of moments at n = 200k is ~0.01·scale, tolerance 0.1."""
    g = torch.Generator().manual_seed(0)
    x = torch.randn(200_000, 3, generator=g, dtype=torch.float64)
    y = 1 + 2 * torch.randn(200_000, 3, generator=g, dtype=torch.float64)
    assert abs(frechet_distance(x, y) - 6.0) < 0.1
    assert abs(frechet_distance(x[:100_000], x[100_000:])) < 0.01


def test_conditional_accuracy():
    """Oracle: a 'classifier' returning one-hot logits of a known labelling scores exactly the agreement fraction."""
    class Fixed(torch.nn.Module):
        def forward(self, x):
            return torch.nn.functional.one_hot(x.flatten(1)[:, 0].long() % 10, 10).float()
    x = torch.arange(10.0).view(10, 1, 1, 1)
    y = torch.tensor([0, 1, 2, 3, 4, 0, 0, 0, 0, 0])
    assert conditional_accuracy(Fixed(), x, y) == 0.5  # labels 0–4 agree


@pytest.mark.parametrize("bad", ["abc", "nan", "-1", None])
def test_guidance_must_be_a_number(bad):
    """Oracle: guidance that is not a number ≥ 0 is refused with a ValueError naming guidance."""
    with pytest.raises(ValueError, match="guidance"):
        evaluate.parse_guidance(bad)
    assert evaluate.parse_guidance("2.5") == 2.5


def test_cli_rejects_bad_guidance(capsys):
    """Oracle: argparse's error exit (status 2) with a message naming guidance."""
    with pytest.raises(SystemExit) as e:
        evaluate.main(["--guidance", "strong"])
    assert e.value.code == 2 and "guidance" in capsys.readouterr().err


def test_guidance_must_be_finite():
    """Oracle: an infinite scale is not a guidance scale (ValueError naming guidance); 0 and 1 are accepted."""
    with pytest.raises(ValueError, match="guidance"):
        evaluate.parse_guidance("inf")
    assert evaluate.parse_guidance(0) == 0.0 and evaluate.parse_guidance("1") == 1.0


@pytest.mark.parametrize("integrator, nfe, steps", [("euler", 20, 20), ("heun", 20, 10), ("heun", 19, 9),
                                                    ("dpmpp_2m", 10, 10), ("dpmpp_2s", 3, 1)])
def test_steps_for_nfe(integrator, nfe, steps):
    """Oracle: the integrators' cost per step (2 NFE for Heun / DPM-Solver++(2S), 1 otherwise), counted by hand."""
    assert evaluate.steps_for_nfe(integrator, nfe) == steps


def test_steps_for_nfe_errors():
    """Oracle: fewer NFE than one step costs, or a non-integer, is a ValueError naming nfe."""
    for integrator, nfe in [("heun", 1), ("euler", 0), ("euler", 2.5), ("euler", True)]:
        with pytest.raises(ValueError, match="nfe"):
            evaluate.steps_for_nfe(integrator, nfe)


def test_evaluate_model_counts_network_calls(tmp_path):
    """Oracle: Euler over n steps calls the network exactly n times (a forward hook counts the calls); the metrics are
    finite, accuracy is a fraction, and the FD floor is the same train-vs-test distance computed independently."""
    from _mnist_tiny import tiny_checkpoint, tiny_data
    from diffedu.mnist.pretrained import load
    tiny_checkpoint(tmp_path, "flow")
    model = load("tiny-flow", folder=tmp_path)
    clf = _tiny_classifier()
    res = evaluate.evaluate_model(model, n=20, n_steps=3, integrator="euler", timer="uniform", data=tiny_data(),
                                  classifier=clf)
    assert res["nfe"] == 3 and res["finite"]
    assert 0.0 <= res["conditional_accuracy"] <= 1.0 and res["fd_mnist"] >= 0 and res["fd_floor"] >= 0


def _tiny_classifier():
    from diffedu.mnist.models import Classifier
    torch.manual_seed(0)
    return Classifier(width=4, feature_dim=8).eval()


def test_cli_errors(capsys):
    """Oracle: argparse's error exit (status 2) naming the bad argument: unknown checkpoint, unknown sampler, both
    --nfe and --steps."""
    for argv, word in [(["--checkpoint", "mnist-nope"], "mnist-nope"), (["--sampler", "rk45"], "rk45"),
                       (["--nfe", "10", "--steps", "5"], "--nfe")]:
        with pytest.raises(SystemExit) as e:
            evaluate.main(argv)
        assert e.value.code == 2 and word in capsys.readouterr().err


def test_frechet_distance_matches_scipy_sqrtm():
    """Oracle: the textbook formula with scipy's general matrix square root, on full-rank correlated features
    (float64, agreement to 1e-8 relative); and a feature that is constant in both sets (singular covariances) changes
    nothing."""
    import numpy as np
    from scipy import linalg
    g = torch.Generator().manual_seed(1)
    a, b = torch.randn(6, 6, generator=g, dtype=torch.float64), torch.randn(6, 6, generator=g, dtype=torch.float64)
    x = torch.randn(400, 6, generator=g, dtype=torch.float64) @ a
    y = 0.5 + torch.randn(300, 6, generator=g, dtype=torch.float64) @ b
    cx, cy = np.cov(x.numpy(), rowvar=False), np.cov(y.numpy(), rowvar=False)
    ref = ((x.mean(0) - y.mean(0)) ** 2).sum().item() + np.trace(cx + cy - 2 * linalg.sqrtm(cx @ cy).real)
    assert abs(frechet_distance(x, y) - ref) < 1e-8 * abs(ref)
    pad = lambda z: torch.cat([z, torch.ones(len(z), 1, dtype=z.dtype)], 1)
    assert abs(frechet_distance(pad(x), pad(y)) - ref) < 1e-8 * abs(ref)


def test_write_to_card_keeps_the_cards_field_name(tmp_path, monkeypatch):
    """Oracle: the shipped cards' own field name — an evaluation's w is stored as ``guidance`` (as in
    data/checkpoints/*.json), and it replaces an older entry of the same sampler, steps, timer, w and n."""
    old = dict(integrator="heun", n_steps=5, timer="karras", guidance=2.0, n=20, nfe=9, fd_mnist=9.0)
    (tmp_path / "m.json").write_text(json.dumps(dict(name="m", evaluations=[old])))
    monkeypatch.setattr(evaluate, "CHECKPOINT_DIR", tmp_path)
    evaluate.write_to_card("m", dict(integrator="heun", n_steps=5, timer="karras", w=2.0, n=20, nfe=9, fd_mnist=7.0),
                           "cmd")
    (entry,) = json.loads((tmp_path / "m.json").read_text())["evaluations"]
    assert entry["guidance"] == 2.0 and "w" not in entry and entry["fd_mnist"] == 7.0 and entry["command"] == "cmd"
