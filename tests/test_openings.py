"""The opening animations of chapters 07–12 (diffedu.course.animation and the chapters' frame functions)."""
import numpy as np
import pytest
import torch

from diffedu.course.animation import animation_html, paths_animation
from diffedu.course.samplers import race_frames


def _pixels(fig):
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba()).copy()


def test_paths_animation_moves_and_stays_small():
    """Oracle: enumeration of the frames. Points on straight paths from (−1, −1) to (1, 1): the last frame's pixels
    differ from the first's; the HTML player holds every frame (one <img> data URI each, here 5) and a 31-frame
    animation is refused (the ≤ 30-frame budget); nothing is fetched from the network (no https:// link, no Font
    Awesome icon left). About 1 s."""
    s = torch.linspace(0, 1, 5)[:, None, None]
    path = (-1 + 2 * s) * torch.ones(5, 3, 2)  # (5 frames, 3 points, 2)
    fig, update, n = paths_animation([("a", path)], [f"frame {k}" for k in range(5)], lim=1.5)
    update(0)
    first = _pixels(fig)
    update(n - 1)
    assert n == 5 and not np.array_equal(first, _pixels(fig))
    html = animation_html(fig, update, n)
    assert html.count("data:image/jpeg;base64") == 5
    assert "https://" not in html and 'class="fa' not in html and "▶" in html  # plays and is labelled offline
    with pytest.raises(ValueError, match="n_frames"):
        animation_html(*paths_animation([("a", torch.zeros(31, 1, 2))], ["t"] * 31))
    with pytest.raises(ValueError, match="every path"):
        paths_animation([("a", path)], ["t"] * 4)


def test_race_frames_spend_equal_evaluations():
    """Oracle: the samplers' NFE accounting. On a budget of 10 evaluations Euler and DPM-Solver++(2M) take 10 steps
    and Heun 5 (9 evaluations: 2 per step, 1 into σ = 0); each sampler's last frame is its final sample, equal to a
    plain run of the same integrator on the same grid (float64 round trip); Heun's state stays unchanged between the
    two evaluations of a step. About 0.5 s."""
    from diffedu import gmm_2d, make_process
    from diffedu.integrators import heun
    from diffedu.timers import make_grid
    fr = race_frames(nfe=10, n=20)
    assert fr["steps"] == {"euler": 10, "heun": 5, "dpmpp_2m": 10}
    process, gmm = make_process("flow"), gmm_2d()
    x_T = fr["paths"]["heun"][0]
    ref = heun(x_T, make_grid("uniform", process, 5), gmm.predictor(process), process)
    assert torch.allclose(fr["paths"]["heun"][-1], ref, atol=1e-12)
    assert torch.equal(fr["paths"]["heun"][1], x_T) and not torch.equal(fr["paths"]["heun"][2], x_T)
