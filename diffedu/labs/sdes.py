r"""Lab of chapter 07: the predictor–corrector sampler (Song et al. 2021, Algorithm 1) with the exact mixture score.

The student writes ``pc_sample(x, ts, score, process, snr, z)`` returning ``(x, nfe)``: for each interval
$[t_{k+1}, t_k]$ of the decreasing grid ``ts``, one Langevin corrector step at $t_k$,
$x \leftarrow x + \tau\,s(x, t_k) + \sqrt{2\tau}\,z_{k,0}$ with
$\tau = 2\,(r\,\overline{\lVert z\rVert}/\overline{\lVert s\rVert})^2$
(norms per sample, averaged over the batch), then one Euler–Maruyama predictor step of the reverse SDE,
$x \leftarrow x + [f(t_k)\,x - g(t_k)^2 s(x, t_k)]\,\Delta t + g(t_k)\sqrt{-\Delta t}\,z_{k,1}$ with
$\Delta t = t_{k+1} - t_k < 0$; ``nfe`` counts the calls of ``score``.

Graded against the package's ``integrators.predictor_corrector`` (corrector first, one corrector step) with the same
draws on VP and VE (exact), and by the number of score evaluations, counted here.

``ANSWERS`` names the package functions that would earn a part if a student called them: none. The package's
``predictor_corrector``, ``langevin_corrector`` and ``euler_maruyama_step`` draw their own noise, so they cannot
reproduce the grader's draws, and they do not return the count of evaluations.
"""
from __future__ import annotations

import torch

from ..integrators import predictor_corrector
from ..processes import VE, VP, Process
from ..timers import uniform
from ..toys import gmm_2d
from .grading import Lab, Part, Verdict, call, close, diagnose
from .think import Question

__all__ = ["check_pc_sample", "hint", "LAB", "ANSWERS", "THINK"]

ANSWERS: tuple[str, ...] = ()

_GMM = gmm_2d()
_CASES = {"vp": (VP(), 10), "ve": (VE(0.01, 10.0), 10)}


class _Counted:
    """The exact score ``score(x, t)`` of the mixture under ``process``, counting its calls (the NFE)."""

    def __init__(self, process: Process):
        self.process, self.calls = process, 0

    def __call__(self, x, t):
        self.calls += 1
        return _GMM.score(x, t, self.process)


def _case(name: str, n: int = 64, seed: int = 1):
    """A start x ~ N(0, σ_max² I) at t = t_max, the uniform grid to t = 0, and the package's draws in order."""
    process, n_steps = _CASES[name]
    g = torch.Generator().manual_seed(seed)
    x = process.sigma(process.t_max).item() * torch.randn(n, 2, generator=g, dtype=torch.float64)
    generator = torch.Generator().manual_seed(seed + 1)
    z = torch.stack([torch.randn(n, 2, generator=generator, dtype=torch.float64) for _ in range(2 * n_steps)])
    return process, x, uniform(process, n_steps), z.reshape(n_steps, 2, n, 2)


def _package(process, x, ts, seed):
    """The package's predictor–corrector (snr 0.16, one corrector step) with ``Generator(seed)``: the draws ``z``."""
    return predictor_corrector(x, ts, _GMM.predictor(process), process, snr=0.16, corrector_steps=1,
                               generator=torch.Generator().manual_seed(seed))


def _mistake(process, x, ts, z, *, step=2.0, noise=2.0, norms="batch", sign=1.0, g_power=2, em_noise="sqrt",
             dt_sign=1.0, order="cp"):
    """Predictor–corrector with one typical mistake made on purpose (the keyword that is not at its default)."""
    for k in range(len(ts) - 1):
        t, dt = ts[k], ts[k + 1] - ts[k]
        for part in order:
            if part == "c":  # Langevin corrector at t
                s = _GMM.score(x, t, process)
                zn, sn = z[k, 0].norm(dim=1), s.norm(dim=1)
                ratio = (zn.mean() / sn.mean()) if norms == "batch" else (zn / sn)[:, None]
                tau = step * (0.16 * ratio) ** 2
                x = x + tau * s + (noise * tau).sqrt() * z[k, 0]
            else:  # Euler–Maruyama predictor from t to t + dt
                s, g2 = _GMM.score(x, t, process), process.g2(t)
                g_term = g2 if g_power == 2 else g2.sqrt()
                scale = (g2 * -dt).sqrt() if em_noise == "sqrt" else g2.sqrt() * -dt
                x = x + (process.f(t) * x - sign * g_term * s) * (dt_sign * dt) + scale * z[k, 1]
    return x


def _path(fn, name: str) -> Verdict:
    """Exact: 64 samples, 10 steps from t_max to 0, snr 0.16, against ``predictor_corrector`` with the same draws."""
    process, x, ts, z = _case(name)
    out = call(fn, x.clone(), ts.clone(), _Counted(process), process, 0.16, z.clone())
    if not (isinstance(out, tuple) and len(out) == 2):
        return Verdict(False, "not a pair", "return two things: the final x and the number of score evaluations, "
                                            "`return x, nfe`")
    got, want = out[0], _package(process, x, ts, seed=2)
    if close(got, want, rtol=1e-8, atol=1e-8):
        return Verdict(True, f"equals predictor_corrector on {name.upper()} to 1e-8")
    wrong = lambda **kw: _mistake(process, x, ts, z, **kw)  # noqa: E731
    mistakes = [(wrong(sign=-1.0), "the reverse drift is f·x − g²·∇log p: the score term enters with a minus "
                                   "(times a negative Δt it pushes x up the score)"),
                (wrong(dt_sign=-1.0), "Δt = t_{k+1} − t_k is negative: multiply the drift by it as it is (do not "
                                      "flip its sign) and use √(−Δt) in the noise"),
                (wrong(g_power=1), "the score is multiplied by g², the variance rate, not by g"),
                (wrong(em_noise="linear"), "the predictor's noise has standard deviation g·√|Δt|, not g·|Δt|"),
                (wrong(step=1.0), "the corrector's step is τ = 2·(r·‖z‖/‖s‖)²: with it, the ratio of the signal "
                                  "τ‖s‖ to the noise √(2τ)‖z‖ is r"),
                (wrong(noise=1.0), "the corrector's noise is √(2τ)·z, not √τ·z (a Langevin step, chapter 06)"),
                (wrong(norms="sample"), "average the norms over the batch, one τ for all samples: "
                                        "τ = 2·(r·mean‖z_i‖/mean‖s_i‖)², with ‖·‖ the norm of one sample (row)"),
                (wrong(order="pc"), "correct first, then predict: at each t_k the Langevin step at t_k, then the "
                                    "Euler–Maruyama step to t_{k+1}"),
                (x + 0 * want, "your loop never changed x: update x inside the loop and return it")]
    return Verdict(False, f"differs from predictor_corrector on {name.upper()}",
                   diagnose(got, mistakes, "corrector: τ = 2(r‖z‖/‖s‖)², x ← x + τs + √(2τ)z[k,0]; predictor: "
                                           "x ← x + (f·x − g²·s)Δt + g√(−Δt)·z[k,1]"))


def _nfe(fn) -> Verdict:
    """Counted: the calls of ``score`` on the VP case must be 2 per step (1 corrector + 1 predictor), and the
    returned ``nfe`` must say so."""
    process, x, ts, z = _case("vp")
    score = _Counted(process)
    out = call(fn, x.clone(), ts.clone(), score, process, 0.16, z.clone())
    if not (isinstance(out, tuple) and len(out) == 2):
        return Verdict(False, "not a pair", "return `x, nfe`: the state and the number of score evaluations")
    n_steps, nfe = len(ts) - 1, out[1]
    measured = f"{score.calls} calls counted, {nfe} reported, for {n_steps} steps"
    if score.calls != 2 * n_steps:
        why = ("the predictor reuses the corrector's score, but the corrector has moved x: evaluate the score again"
               if score.calls == n_steps else
               "one corrector step and one predictor step per interval need exactly one score each: reuse s for its "
               "norm and for the step")
        return Verdict(False, measured, why)
    ok = isinstance(nfe, (int, torch.Tensor)) and int(nfe) == score.calls
    return Verdict(ok, measured, "count one evaluation for every call of score(…): nfe should be 2 per step")


LAB = Lab("07 · the predictor–corrector sampler", [
    Part("VP: one run with the given draws", 4, "equal to predictor_corrector to 1e-8", lambda fn: _path(fn, "vp")),
    Part("VE: one run with the given draws", 4, "equal to predictor_corrector to 1e-8", lambda fn: _path(fn, "ve")),
    Part("cost: score evaluations", 2, "2 per step, counted = reported", _nfe),
], hints=[
    "At each time of the grid, first correct (one Langevin step at that fixed time, chapter 06), then predict (one "
    "Euler–Maruyama step of the reverse SDE to the next time). Each part asks the score once.",
    "Corrector: s = score(x, t); τ = 2·(snr·‖z‖/‖s‖)² with the per-sample norms averaged over the batch; "
    "x ← x + τ·s + √(2τ)·z[k, 0]. Predictor: with Δt = t_next − t < 0, x ← x + (f(t)·x − g(t)²·s)·Δt + "
    "g(t)·√(−Δt)·z[k, 1], s evaluated again at the corrected x.",
    "tau = 2 * (snr * z[k, 0].norm(dim=1).mean() / s.norm(dim=1).mean())**2; x = x + tau * s + (2 * tau).sqrt() * "
    "z[k, 0]; then s = score(x, t); dt = ts[k+1] − ts[k]; x = x + (process.f(t) * x − process.g2(t) * s) * dt + "
    "(process.g2(t) * −dt).sqrt() * z[k, 1]; nfe += 2.",
])


def check_pc_sample(fn) -> None:
    """Grade ``pc_sample(x, ts, score, process, snr, z)`` (chapter 07's lab) and print the score."""
    LAB.grade(fn)


def hint(level: int = 1) -> None:
    """Print hint ``level`` of chapter 07's lab (1 = the gentlest)."""
    LAB.hint(level)


THINK = (  # chapter 07's Think questions
    Question("You double the corrector's signal-to-noise ratio r. By what factor does its step size τ grow?",
             answer=4.0, tolerance=0.01,
             explanation="τ = 2(r‖z‖/‖s‖)² is quadratic in r. The drift τ‖s‖ grows 4×, the noise √(2τ)‖z‖ only 2×: "
                         "their ratio, r, doubles — which is what r sets."),
    Question("A budget of 200 score evaluations. Predictor–corrector with one corrector step gets how many "
             "predictor steps, and Euler–Maruyama alone how many?",
             choices=("200 and 200", "100 and 200", "200 and 100"), answer=1,
             explanation="PC spends 1 + 1 evaluations per step. At equal cost EM takes twice as many, smaller steps; "
                         "comparing samplers at equal NFE, not equal steps, is the fair test (chapter 10)."),
    Question("In the predictor step Δt < 0. For VE (f = 0) the drift term is −g²·s·Δt. Which way does it move x?",
             choices=("Up the score, towards higher density", "Down the score, away from the data",
                      "Neither: it averages out against the noise"), answer=0,
             explanation="−g²·s·Δt = g²|Δt|·s: a step along the score. Running time backwards turns the forward "
                         "SDE's spreading into a pull towards the data; the noise g√|Δt|·z keeps it a sampler."),
)
