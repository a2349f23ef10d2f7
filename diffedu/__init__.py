"""diffedu — the package behind the interactive diffusion-models course.

The flat public API: ``from diffedu import VP, GaussianMixture, convert, ...``.
"""
from .runtime import banner, device, quick, seed
from .processes import (PROCESSES, EDM, VE, VP, CosineVP, DiscreteDDPM, Process, RectifiedFlow, expand_like,
                        make_process)
from .parametrization import (KINDS, Predictor, coefficients, convert, eps_to_score, eps_to_x0, score_to_eps,
                              score_to_x0, velocity_to_x0, x0_to_eps, x0_to_score, x0_to_velocity)
from .toys import DATASETS_2D, GaussianMixture, gmm_1d, gmm_2d, gmm_nd, sample_2d
from .timers import TIMERS, make_grid
from .integrators import INTEGRATORS, get_integrator
from .denoiser import Denoiser
from .sdes import SubVP, forward_moments, simulate_forward
from .fokker_planck import fokker_planck_1d, heat_equation_sides, reverse_family
from .langevin import annealed_langevin, sigma_ladder
from . import data, pretrained  # chapter 12: MNIST loader and shipped checkpoints (train/evaluate load on demand)
from .elbo import ddim_invert, elbo_terms, elbo_trajectory, posterior, posterior_coefficients
from .noising import ddpm_vs_vp, em_moments, euler_maruyama_forward, schedule_curves
from .tweedie import posterior_mean_mc, roundtrip_errors, tweedie_gap
from .flows import conditional_velocity, marginal_velocity_mc, straightness  # chapter 08
from .edm_design import precond_variances  # chapter 09
from .guidance import (ClassifierFreeGuidance, ClassifierGuidance, CondDenoiser, Mask, Matrix,  # chapter 11
                       MixturePredictor, Projection, dps, linear_gaussian_posterior)

__version__ = "0.1.0"
