"""The MNIST U-Net and EDM preconditioning."""
import pytest
import torch

from diffedu.nets import NULL_CLASS, EDMPrecond, UNet, edm_preconditioning


def test_unet_shapes_labels_and_size():
    """Oracle: output shaped like the input for labels 0–9, the null class 10 and y=None; ≤ a few M parameters."""
    torch.manual_seed(0)
    net = UNet((16, 32, 32))
    x = torch.randn(4, 1, 28, 28)
    for y in (torch.tensor([0, 3, 9, NULL_CLASS]), None):
        assert net(x, torch.rand(4), y).shape == x.shape
    assert sum(p.numel() for p in UNet().parameters()) < 3_000_000


def test_labels_change_output():
    """Oracle: after perturbing the zero-initialised layers, different labels give different outputs."""
    torch.manual_seed(0)
    net = UNet((16, 32, 32))
    for name, p in net.named_parameters():
        if name.startswith("out.") or ".conv2." in name:
            torch.nn.init.normal_(p, std=0.1)
    x, t = torch.randn(2, 1, 28, 28), torch.rand(2)
    a, b = net(x, t, torch.tensor([1, 1])), net(x, t, torch.tensor([2, 2]))
    assert (a - b).abs().max() > 1e-6


@pytest.mark.parametrize("y, err", [(torch.tensor([11, 0]), ValueError), (torch.tensor([-1, 0]), ValueError),
                                    (torch.tensor([0.5, 1.0]), TypeError), (torch.tensor([1]), ValueError)])
def test_bad_labels(y, err):
    """Oracle: labels outside 0–10, float labels, wrong shape → clear errors naming y."""
    with pytest.raises(err, match="y"):
        UNet((16, 32, 32))(torch.randn(2, 1, 28, 28), torch.rand(2), y)


def test_edm_preconditioning_closed_form():
    """Oracle: Karras et al. 2022 Table 1 at σ = σ_data: c_skip = 1/2, c_out = σ_d/√2, c_in = 1/(σ_d√2), c_noise = ln σ_d / 4;
    and unit-variance training target: c_skip² σ_d² + c_out² ... i.e. c_in² (σ² + σ_d²) = 1 for any σ."""
    sd = 0.5
    c_skip, c_out, c_in, c_noise = edm_preconditioning(torch.tensor([sd], dtype=torch.float64), sd)
    torch.testing.assert_close(c_skip, torch.tensor([0.5], dtype=torch.float64))
    torch.testing.assert_close(c_out, torch.tensor([sd / 2**0.5], dtype=torch.float64))
    torch.testing.assert_close(c_in, torch.tensor([1 / (sd * 2**0.5)], dtype=torch.float64))
    torch.testing.assert_close(c_noise, torch.log(torch.tensor([sd], dtype=torch.float64)) / 4)
    sigma = torch.logspace(-3, 2, 7, dtype=torch.float64)
    _, _, c_in, _ = edm_preconditioning(sigma, sd)
    torch.testing.assert_close(c_in**2 * (sigma**2 + sd**2), torch.ones_like(sigma))
    with pytest.raises(ValueError, match="sigma"):
        edm_preconditioning(torch.tensor([0.0]))


def test_edm_precond_small_sigma_is_identity():
    """Oracle: c_skip → 1 and c_out → 0 as σ → 0, so D_x ≈ x at σ = 1e-4 (error ≤ c_out·|F| ~ 1e-4)."""
    torch.manual_seed(0)
    net = EDMPrecond(UNet((16, 32, 32), t_scale=250))
    torch.nn.init.normal_(net.F.out.weight, std=0.1)
    x = torch.randn(3, 1, 28, 28)
    D_x = net(x, torch.full((3,), 1e-4))
    assert (D_x - x).abs().max() < 1e-2
