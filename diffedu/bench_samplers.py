r"""``python -m diffedu bench samplers [--json PATH] [--quick]``: every sampler measured against exact answers.

ODE methods: on exact Gaussian mixtures (``gmm_2d()`` and ``gmm_nd(16)``) with exact denoisers, the endpoint error
$\tfrac1n\sum_i\|x^{(i)}_{method} - x^{(i)}_{ref}\|$ against a tight solution of the same probability-flow ODE from the
same start (Heun with 800 and 400 steps; their difference is reported as the reference's own error), at NFE 5, 10,
20, 50, 100, 200, counting every network evaluation; the order is the least-squares slope of −log error against
log NFE over NFE ≥ 20. SDE methods: the sliced Wasserstein distance of their samples to exact samples of the data,
next to the distance between two exact sample sets of the same size (the noise floor).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch
from torch import Tensor

from .integrators import INTEGRATORS
from .metrics import sliced_wasserstein
from .parametrization import convert
from .processes import Process, make_process
from .timers import make_grid
from .toys import GaussianMixture, gmm_2d, gmm_nd

__all__ = ["CountingPredictor", "play_samplers", "steps_for_nfe", "fit_order", "endpoint_errors", "sde_distances", "main",
           "ODE_METHODS", "THEORY_ORDER", "SDE_METHODS", "NFES"]

ODE_METHODS = ("euler", "ddim", "heun", "dpmpp_2s", "dpmpp_2m")
THEORY_ORDER = {"euler": 1, "ddim": 1, "heun": 2, "dpmpp_2s": 2, "dpmpp_2m": 2}
SDE_METHODS = ("euler_maruyama", "ddpm", "pc")
NFES = (5, 10, 20, 50, 100, 200)
CONFIGS = (("edm", "karras"), ("vp", "log_snr"), ("flow", "karras"))


class CountingPredictor:
    """The exact GMM denoiser as a predictor of any kind, counting its evaluations (NFE) honestly."""

    def __init__(self, gmm: GaussianMixture, process: Process):
        self.gmm, self.process, self.nfe = gmm, process, 0

    def __call__(self, x_t: Tensor, t, kind: str = "x0", **cond) -> Tensor:
        self.nfe += 1
        x0_hat = self.gmm.denoiser(x_t, t, self.process)
        return convert(x0_hat, "x0", kind, x_t, t, self.process)


def steps_for_nfe(method: str, nfe: int, final_jump: bool = True) -> int:
    """The number of steps whose cost is ``nfe`` evaluations: N for 1-NFE methods; for Heun and DPM-Solver++(2S),
    2 per step except 1 on a final step into σ = 0, so N = (nfe + 1) // 2 (or nfe // 2 with no final jump)."""
    if method in ("heun", "dpmpp_2s"):
        return max((nfe + 1) // 2 if final_jump else nfe // 2, 1)
    return nfe


def fit_order(nfes, errors) -> float:
    r"""Least-squares slope p of $\log e = c - p\log \mathrm{NFE}$: the measured order of convergence."""
    lx = torch.tensor([math.log(n) for n in nfes], dtype=torch.float64)
    ly = torch.tensor([math.log(e) for e in errors], dtype=torch.float64)
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float(-(lx * ly).sum() / (lx * lx).sum())


def endpoint_errors(gmm: GaussianMixture, process: Process, timer: str, *, n_points: int = 256,
                    nfes=NFES, methods=ODE_METHODS, ref_steps: int = 2000, generator: torch.Generator | None = None,
                    device=None, x_T: Tensor | None = None, check_ref: bool = True) -> dict:
    """Endpoint error against a tight reference solution of the same PF-ODE, for each method and NFE.

    ``check_ref`` also solves with half the reference steps and reports the difference as ``ref_error`` (else NaN)."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    sigma_T = process.sigma(process.t_max).item()
    if x_T is None:
        x_T = sigma_T * torch.randn(n_points, gmm.dim, generator=g, dtype=torch.float64)
    x_T = x_T.to(device) if device is not None else x_T
    gmm = gmm.to(device=x_T.device)
    pred = CountingPredictor(gmm, process)
    ref = INTEGRATORS["heun"](x_T, make_grid(timer, process, ref_steps), pred, process)
    ref_half = INTEGRATORS["heun"](x_T, make_grid(timer, process, ref_steps // 2), pred, process) if check_ref else None
    final_jump = process.sigma(process.t_min).item() == 0  # the last step into σ = 0 costs 1 NFE
    out = {"process": process.name, "timer": timer, "dim": gmm.dim, "n_points": int(x_T.shape[0]),
           "ref_steps": ref_steps, "methods": {},
           "ref_error": (ref - ref_half).norm(dim=1).mean().item() if check_ref else float("nan")}
    for name in methods:
        rows = []
        for nfe in nfes:
            pred.nfe = 0
            n_steps = steps_for_nfe(name, nfe, final_jump)
            x0 = INTEGRATORS[name](x_T, make_grid(timer, process, n_steps), pred, process)
            err = (x0 - ref).norm(dim=1).mean().item()
            if not math.isfinite(err):
                raise RuntimeError(f"{name} produced a non-finite error at NFE {nfe}")
            rows.append({"nfe_target": nfe, "nfe": pred.nfe, "n_steps": n_steps, "error": err})
        asym = [r for r in rows if r["nfe_target"] >= 20]  # the asymptotic range
        order = fit_order([r["nfe"] for r in asym], [r["error"] for r in asym]) if len(asym) >= 2 else float("nan")
        out["methods"][name] = {"rows": rows, "order": order, "theory": THEORY_ORDER.get(name),
                                "order_ok": abs(order - THEORY_ORDER.get(name, order)) <= 0.25}
    # second order beats Euler at equal NFE ≥ 20
    euler = {r["nfe_target"]: r["error"] for r in out["methods"].get("euler", {"rows": []})["rows"]}
    out["second_order_beats_euler"] = {
        name: all(r["error"] < euler[r["nfe_target"]] for r in out["methods"][name]["rows"]
                  if r["nfe_target"] >= 20 and r["nfe_target"] in euler)
        for name in methods if THEORY_ORDER.get(name) == 2 and euler}
    return out


def sde_distances(gmm: GaussianMixture, process: Process, timer: str, *, n_samples: int = 2000,
                  nfes=(20, 50, 200), methods=SDE_METHODS, n_projections: int = 128,
                  generator: torch.Generator | None = None, device=None) -> dict:
    """Sliced Wasserstein distance of each SDE sampler's samples to exact data samples, with the exact-vs-exact floor."""
    g = generator if generator is not None else torch.Generator().manual_seed(1)
    exact = gmm.sample(n_samples, generator=g)
    exact2 = gmm.sample(n_samples, generator=g)
    proj = torch.Generator().manual_seed(2)
    floor = sliced_wasserstein(exact2, exact, n_projections, generator=proj).item()
    sigma_T = process.sigma(process.t_max).item()
    x_T = gmm.marginal(process.t_max, process).sample(n_samples, generator=g)  # exact x_T ~ p_{t_max}
    if device is not None:
        x_T, gmm_dev = x_T.to(device), gmm.to(device=device)
    else:
        gmm_dev = gmm
    pred = CountingPredictor(gmm_dev, process)
    out = {"process": process.name, "timer": timer, "dim": gmm.dim, "n_samples": n_samples, "floor": floor,
           "sigma_T": sigma_T, "methods": {}}
    for name in methods:
        rows = []
        for nfe in nfes:
            pred.nfe = 0
            n_steps = nfe // 2 if name == "pc" else nfe  # PC: 1 predictor + 1 corrector evaluation per step
            noise = torch.Generator(device=x_T.device).manual_seed(3)
            x0 = INTEGRATORS[name](x_T, make_grid(timer, process, n_steps), pred, process, generator=noise)
            sw = sliced_wasserstein(x0.cpu(), exact, n_projections, generator=torch.Generator().manual_seed(2)).item()
            rows.append({"nfe_target": nfe, "nfe": pred.nfe, "n_steps": n_steps, "sw": sw})
        out["methods"][name] = {"rows": rows}
    return out


_PLAY_CACHE: dict = {}


def play_samplers(nfe: int = 20, rho: float = 7.0, eta: float = 0.0, churn: float = 0.0, n_points: int = 256) -> dict:
    r"""Chapter 10's Play: EDM process, gmm_2d, one fixed start of ``n_points``; Heun (with churn ``S_churn``) and DDIM
    (with ``eta``) on a Karras grid of ρ = ``rho`` at about ``nfe`` evaluations each.

    Returns the samples, each sampler's endpoint error against the exact PF-ODE answer from the same start
    (a Heun solution with 200 steps: meaningful when η = 0 and churn = 0) and its sliced W2 to exact data samples
    next to the exact-vs-exact floor (meaningful for every setting).
    """
    if int(nfe) != nfe or nfe < 1:
        raise ValueError(f"nfe must be an integer ≥ 1; got {nfe!r}")
    key = int(n_points)
    if key not in _PLAY_CACHE:  # the fixed start, its exact answer, and exact data samples
        gmm, process = gmm_2d(), make_process("edm")
        g = torch.Generator().manual_seed(0)
        x_T = gmm.marginal(process.t_max, process).sample(key, generator=g)  # exact x_T ~ p_T
        pred = CountingPredictor(gmm, process)
        ref = INTEGRATORS["heun"](x_T, make_grid("karras", process, 200), pred, process)
        exact, exact2 = gmm.sample(key, generator=g), gmm.sample(key, generator=g)
        floor = sliced_wasserstein(exact2, exact, 64, generator=torch.Generator().manual_seed(1)).item()
        _PLAY_CACHE[key] = (gmm, process, x_T, ref, exact, floor)
    gmm, process, x_T, ref, exact, floor = _PLAY_CACHE[key]
    pred = CountingPredictor(gmm, process)
    out = {"x_T": x_T, "ref": ref, "exact": exact, "floor": floor}
    for name in ("heun", "ddim"):
        pred.nfe = 0
        n_steps = steps_for_nfe(name, int(nfe))
        ts = make_grid("karras", process, n_steps, rho=rho)
        kw = dict(s_churn=churn) if name == "heun" else dict(eta=eta)
        x0 = INTEGRATORS[name](x_T, ts, pred, process, generator=torch.Generator().manual_seed(2), **kw)
        out[name] = {"x0": x0, "nfe": pred.nfe, "n_steps": n_steps, "ode_error": (x0 - ref).norm(dim=1).mean().item(),
                     "sw": sliced_wasserstein(x0, exact, 64, generator=torch.Generator().manual_seed(1)).item()}
    return out


def _table(results: dict) -> str:
    lines = []
    for r in results.get("ode", []):
        lines.append(f"\nODE  {r['process']} process, {r['timer']} grid, GMM dim {r['dim']}, {r['n_points']} starts; "
                     f"reference: Heun {r['ref_steps']} steps (its own error ≈ {r['ref_error']:.1e})")
        nfes = [row["nfe_target"] for row in next(iter(r["methods"].values()))["rows"]]
        lines.append(f"  {'method':<10}" + "".join(f"{'NFE ' + str(n):>10}" for n in nfes) + f"{'order':>8}{'theory':>7}  ok")
        for name, m in r["methods"].items():
            lines.append(f"  {name:<10}" + "".join(f"{row['error']:>10.2e}" for row in m["rows"])
                         + f"{m['order']:>8.2f}{m['theory']:>7}  {'yes' if m['order_ok'] else 'NO'}")
        beats = ", ".join(f"{k}: {'yes' if v else 'NO'}" for k, v in r["second_order_beats_euler"].items())
        lines.append(f"  beats Euler at every NFE ≥ 20 — {beats}")
    for r in results.get("sde", []):
        lines.append(f"\nSDE  {r['process']} process, {r['timer']} grid, GMM dim {r['dim']}: sliced W2 to "
                     f"{r['n_samples']} exact samples; exact-vs-exact floor {r['floor']:.4f}")
        nfes = [row["nfe_target"] for row in next(iter(r["methods"].values()))["rows"]]
        lines.append(f"  {'method':<15}" + "".join(f"{'NFE ' + str(n):>10}" for n in nfes))
        for name, m in r["methods"].items():
            lines.append(f"  {name:<15}" + "".join(f"{row['sw']:>10.4f}" for row in m["rows"]))
    return "\n".join(lines)


def _progress(what: str, t0: float) -> None:
    print(f"[{time.perf_counter() - t0:6.1f} s] {what}", file=sys.stderr, flush=True)


def run(quick: bool = False, device=None, on_result=None) -> dict:
    """The whole bench; ``quick`` shrinks sizes (for tests and the chapter). ``on_result(kind, result)`` is called as
    each configuration finishes (kind 'ode' or 'sde'), so that a long run shows its tables as it goes."""
    t0 = time.perf_counter()
    n_points, ref_steps = (64, 400) if quick else (128, 800)
    # (target, its ODE configurations): every configuration on 2-D, EDM/Karras on 16-D (the CPU budget)
    targets = [(gmm_2d(), CONFIGS[:1] if quick else CONFIGS)] + ([] if quick else [(gmm_nd(16), CONFIGS[:1])])
    ode = []
    for gmm, configs in targets:
        for process_name, timer in configs:
            _progress(f"ODE: {process_name}/{timer}, dim {gmm.dim}", t0)
            ode.append(endpoint_errors(gmm, make_process(process_name), timer, n_points=n_points, ref_steps=ref_steps,
                                       nfes=(5, 10, 20, 50) if quick else NFES, device=device))
            if on_result is not None:
                on_result("ode", ode[-1])
    sde = []
    for gmm, _ in targets:
        _progress(f"SDE: vp/uniform, dim {gmm.dim}", t0)
        sde.append(sde_distances(gmm, make_process("vp"), "uniform", n_samples=400 if quick else 1000,
                                 nfes=(20, 50) if quick else (20, 50, 200), device=device))
        if on_result is not None:
            on_result("sde", sde[-1])
    return {"device": str(device or "cpu"), "quick": quick, "seconds": time.perf_counter() - t0, "ode": ode, "sde": sde}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffedu bench samplers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="write every number to this JSON file")
    parser.add_argument("--quick", action="store_true", help="small sizes (seconds): for tests")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available, else cpu)")
    args = parser.parse_args(argv)
    device = torch.device(args.device) if args.device else torch.device("cuda" if torch.cuda.is_available() else "cpu")
    print(f"diffedu bench samplers — device {device}, {'quick' if args.quick else 'full'} mode", flush=True)
    results = run(quick=args.quick, device=device, on_result=lambda kind, r: print(_table({kind: [r]}), flush=True))
    print(f"\n{results['seconds']:.1f} s")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
