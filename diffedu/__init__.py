"""diffedu — the package behind the interactive diffusion-models course.

The flat public API: ``from diffedu import VP, GaussianMixture, convert, ...``. The core sits at the package root
(processes → parametrization → timers, toys, losses, integrators → denoiser → guidance); ``course/`` holds the
computations behind the chapters, ``mnist/`` the capstone's pipeline and ``ui/`` the figures and panels.
"""
# the core
from .runtime import banner, device, quick, seed
from .processes import (EDM, PROCESSES, VE, VP, CosineVP, DiscreteDDPM, Process, RectifiedFlow, SubVP, expand_like,
                        make_process)
from .parametrization import (KINDS, Predictor, coefficients, convert, eps_to_score, eps_to_x0, score_to_eps,
                              score_to_x0, velocity_to_x0, x0_to_eps, x0_to_score, x0_to_velocity)
from .toys import DATASETS_2D, GaussianMixture, gmm_1d, gmm_2d, gmm_nd, sample_2d
from .timers import TIMERS, make_grid
from .integrators import INTEGRATORS, get_integrator
from .denoiser import Denoiser
from .guidance import (ClassifierFreeGuidance, ClassifierGuidance, CondDenoiser, Mask, Matrix, Projection, dps,
                       linear_gaussian_posterior)
# the chapters' computations
from .course.noising import em_moments, schedule_curves
from .course.tweedie import posterior_mean_mc, roundtrip_errors, tweedie_gap
from .course.sdes import ddpm_vs_vp, forward_moments, simulate_forward
from .course.fokker_planck import fokker_planck_1d, heat_equation_sides, reverse_family
from .course.elbo import ddim_invert, elbo_terms, elbo_trajectory, posterior, posterior_coefficients
from .course.langevin import annealed_langevin, sigma_ladder
from .course.flows import conditional_velocity, marginal_velocity_mc, straightness
from .course.edm_design import precond_variances
from .course.guidance_demos import MixturePredictor
# the MNIST capstone: loader and shipped checkpoints
from .mnist import data, pretrained

__version__ = "0.1.0"
