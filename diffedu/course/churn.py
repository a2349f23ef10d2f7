r"""EDM's churn (Karras et al. 2022, Algorithm 2): at each of the N steps the noise level is raised by the factor
$1 + \gamma$ with $\gamma = \min(S_{churn}/N, \sqrt2 - 1)$. So S_churn does nothing beyond $S_{churn} = (\sqrt2 - 1)N$,
where γ saturates; the panels of chapters 09 and 10 therefore slide γ itself over $[0, \sqrt2 - 1]$ and show the
S_churn it stands for.
"""
from __future__ import annotations

import math

from ..checks import require_in_range, require_integer
from ..integrators import steps_for_nfe

__all__ = ["GAMMA_MAX", "churn_gamma", "s_churn_for_gamma", "heun_steps"]

GAMMA_MAX = math.sqrt(2) - 1  # the cap on γ: the noise level is at most raised by √2, the variance doubled


def heun_steps(nfe: int) -> int:
    """The number of Heun steps N at a budget of ``nfe`` evaluations (the last step is a plain Euler jump)."""
    return steps_for_nfe("heun", require_integer("nfe", nfe), final_jump=True)


def churn_gamma(s_churn: float, n_steps: int) -> float:
    r"""$\gamma = \min(S_{churn}/N, \sqrt2 - 1)$ (EDM Algorithm 2, with $S_{tmin} = 0$, $S_{tmax} = \infty$)."""
    return min(require_in_range("s_churn", s_churn, 0.0, math.inf) / require_integer("n_steps", n_steps),
               GAMMA_MAX)


def s_churn_for_gamma(gamma: float, n_steps: int) -> float:
    r"""The S_churn that gives γ at N steps: $S_{churn} = \gamma N$, γ in $[0, \sqrt2 - 1]$."""
    return require_in_range("gamma", gamma, 0.0, GAMMA_MAX + 1e-12) * require_integer("n_steps", n_steps)
