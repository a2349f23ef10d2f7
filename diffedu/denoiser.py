r"""``Denoiser``: a process, a predictor, an integrator and a timer — the whole sampler in one object (chapter 10).

    >>> gmm, process = gmm_2d(), make_process("edm")
    >>> predictor = gmm.predictor(process)
    >>> sampler = Denoiser(process, predictor, integrator="heun", timer="karras")
    >>> x0 = sampler.sample(1000, 18, shape=(2,), generator=torch.Generator().manual_seed(0))
"""
from __future__ import annotations

import functools
from typing import Callable

import torch
from torch import Tensor

from .checks import require_integer
from .integrators import SAMPLERS, get_integrator, sampler_options
from .processes import Process, same_process
from .timers import TIMERS, make_grid

__all__ = ["Denoiser"]


@functools.lru_cache(maxsize=1)
def _sampler_options() -> dict[str, list[str]]:
    """Each sampler option of the table (e.g. ``eta``) → the samplers that take it."""
    options: dict[str, list[str]] = {}
    for name, sampler in SAMPLERS.items():
        for key in sampler.options:
            options.setdefault(key, []).append(name)
    return options


def _check_integrator_kwargs(name: str, integrator: Callable, kwargs: dict) -> None:
    """Keywords that another sampler takes but this one does not (e.g. ``eta`` with 'heun') would otherwise travel on
    as conditioning into the network and fail there with a puzzling TypeError; refuse them here, naming both."""
    takes, knobs = sampler_options(integrator), _sampler_options()
    wrong = [key for key in kwargs if key in knobs and key not in takes]
    if wrong:
        raise ValueError(f"{name} does not take {', '.join(wrong)} (" + "; ".join(
            f"{key} belongs to {', '.join(knobs[key])}" for key in wrong) + f"); {name} takes "
            f"{sorted(k for k in takes if k in knobs) or 'no sampler options'}")


class Denoiser:
    """Samples $x_0$ by integrating the reverse process from $x_T$ over a timer's grid.

    Args:
        process: the forward process the predictor was trained for.
        predictor: callable as ``predictor(x_t, t, kind, **cond)`` (a ``diffedu.Predictor`` around a network of any
            output kind, or around an exact denoiser).
        integrator: a name in ``diffedu.integrators.SAMPLERS`` or a function with the same signature.
        timer: a name in ``diffedu.timers.TIMERS`` ('uniform', 'cosine', 'karras', 'log_snr').
        timer_kwargs: passed to the timer (e.g. ``dict(rho=7.0)``).
        shape: the shape of one sample, used when ``sample`` is given a count instead of x_T.
        **integrator_kwargs: passed to the integrator (e.g. ``eta=``, ``s_churn=``).
    """

    def __init__(self, process: Process, predictor: Callable[..., Tensor], integrator: str | Callable = "heun",
                 timer: str = "karras", *, timer_kwargs: dict | None = None, shape: tuple[int, ...] | None = None,
                 **integrator_kwargs):
        if not isinstance(process, Process):
            raise TypeError(f"process must be a diffedu Process; got {type(process).__name__}")
        if not callable(predictor):
            raise TypeError(f"predictor must be callable as predictor(x_t, t, kind); got {type(predictor).__name__}")
        own = getattr(predictor, "process", None)
        if isinstance(own, Process) and not same_process(own, process):
            raise ValueError(f"the predictor was built for {own!r}, but this Denoiser samples {process!r}: its "
                             "conversions and times would be those of another process; pass the same process")
        if isinstance(integrator, str):
            self.integrator_name, integrator = integrator, get_integrator(integrator)
        elif callable(integrator):
            self.integrator_name = getattr(integrator, "__name__", "custom")
        else:
            raise TypeError(f"integrator must be a name in {sorted(SAMPLERS)} or a function")
        if timer not in TIMERS:
            raise ValueError(f"unknown timer name {timer!r}; choose one of {sorted(TIMERS)}")
        self.process, self.predictor, self.integrator, self.timer = process, predictor, integrator, timer
        self.timer_kwargs = dict(timer_kwargs or {})
        _check_integrator_kwargs(self.integrator_name, integrator, integrator_kwargs)
        self.integrator_kwargs = integrator_kwargs
        self.shape = None if shape is None else tuple(shape)

    def grid(self, n_steps: int) -> Tensor:
        """The timer's grid of ``n_steps + 1`` times (float64, strictly decreasing)."""
        return make_grid(self.timer, self.process, n_steps, **self.timer_kwargs)

    def prior(self, n: int, shape: tuple[int, ...], generator: torch.Generator | None = None,
              dtype: torch.dtype = torch.float64, device=None) -> Tensor:
        r"""$x_T \sim N(0, \sigma_{t_{max}}^2 I)$, shape (n, *shape).

        This is $p_{t_{max}}$ only if $\alpha_{t_{max}} x_0$ is negligible against $\sigma_{t_{max}}$: exact for cosine
        and rectified flow (α = 0 there), very close for VP (α ≈ 0.0066) and DDPM (α ≈ 0.006), and for VE / EDM
        when the data's scale is much smaller than σ_max (50, 80). Tests may pass an exact $x_T$ instead.
        """
        n = require_integer("n", n)
        sigma_T = self.process.sigma(self.process.t_max).item()
        z = torch.randn((n, *shape), generator=generator, dtype=dtype,
                        device=device if device is not None else (generator.device if generator is not None else None))
        return sigma_T * z

    def sample(self, x_T_or_n: Tensor | int, n_steps: int, *, generator: torch.Generator | None = None,
               callback: Callable[[dict], None] | None = None, return_trajectory: bool = False,
               shape: tuple[int, ...] | None = None, **cond):
        """Run the integrator over the timer's grid from x_T (a tensor) or from ``n`` prior draws.

        With ``return_trajectory=True`` returns ``(x0, trajectory)`` with trajectory of shape (n_steps + 1, *x_T.shape):
        x_T followed by the state after each step.
        """
        if isinstance(x_T_or_n, Tensor):
            x_T = x_T_or_n
        else:
            shape = shape if shape is not None else self.shape
            if shape is None:
                raise ValueError("give the sample shape (shape=...) to Denoiser or sample() when passing a count")
            x_T = self.prior(x_T_or_n, shape, generator)
        ts = self.grid(n_steps)
        states = [x_T]

        def record(info: dict) -> None:
            if return_trajectory:
                states.append(info["x"])
            if callback is not None:
                callback(info)

        x0 = self.integrator(x_T, ts, self.predictor, self.process, generator=generator, callback=record,
                             **self.integrator_kwargs, **cond)
        if return_trajectory:
            return x0, torch.stack(states)
        return x0

    def __repr__(self) -> str:
        kw = "".join(f", {k}={v!r}" for k, v in self.integrator_kwargs.items())
        return f"Denoiser({self.process!r}, integrator={self.integrator_name!r}, timer={self.timer!r}{kw})"
