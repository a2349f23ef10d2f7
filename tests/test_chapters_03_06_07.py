"""Chapters 03, 06 and 07: the exercise checks accept the solutions and reject wrong answers with a hint."""
import pytest
import torch

from diffedu.course.exercises import (check_corrector_step, check_dsm_target, check_langevin_step, check_pf_drift,
                               check_reverse_sde_drift, check_subvp_sigma)


def _B(t, a, b):
    return a * t + 0.5 * (b - a) * t**2


RIGHT_WRONG = [
    (check_pf_drift, lambda x, f, g2, s: f * x - 0.5 * g2 * s, lambda x, f, g2, s: f * x - g2 * s),
    (check_reverse_sde_drift, lambda x, f, g2, s: f * x - g2 * s, lambda x, f, g2, s: f * x - 0.5 * g2 * s),
    (check_langevin_step, lambda x, s, tau, z: x + tau * s + (2 * tau) ** 0.5 * z, lambda x, s, tau, z: x + tau * s + tau**0.5 * z),
    (check_dsm_target, lambda x, x0, s: -(x - x0) / s**2, lambda x, x0, s: -(x - x0) / s),
    (check_subvp_sigma, lambda t, a, b: 1 - torch.exp(-_B(t, a, b)), lambda t, a, b: (1 - torch.exp(-_B(t, a, b))).sqrt()),
    (check_corrector_step, lambda r, z, s: 2 * (r * z / s) ** 2, lambda r, z, s: (r * z / s) ** 2),
]


@pytest.mark.parametrize("check,right,wrong", RIGHT_WRONG, ids=[c[0].__name__ for c in RIGHT_WRONG])
def test_check_accepts_right_rejects_wrong(check, right, wrong):
    """Oracle: each check's own reference formula; the solution passes, a typical mistake raises with a hint."""
    check(right)
    with pytest.raises(AssertionError, match="Hint"):
        check(wrong)
