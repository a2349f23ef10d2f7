r"""``python -m diffedu bench samplers [--json PATH] [--quick | --full]``: every sampler measured against exact answers.

ODE methods: on exact Gaussian mixtures (``gmm_2d()`` and ``gmm_nd(16)``) with exact denoisers, the endpoint error
$\mathrm{median}_i\|x^{(i)}_{method} - x^{(i)}_{ref}\|$ against a tight solution of the same probability-flow ODE on
the same grid family from the same start, at NFE 5, 10, 20, 50, 100, 200, 500, counting every network evaluation. The
median, not the mean: a few starts lie so close to a separatrix between components that a method sends them to
another component until its steps are tiny — O(1) errors that vanish abruptly, not as a power of the step (measured
on the 16-D mixture with 256 starts: Euler's largest error is still 1.4 at NFE 500, and the mean's slope is 0.74
where the median's is 1.0). The mean and the largest error are kept in the JSON. The reference is
Richardson-extrapolated Heun, $x_{ref} = x_{2M} + (x_{2M} - x_M)/3$ (M = ``ref_steps``); its own error (largest over
the starts) is bounded by its distance to the same extrapolation from M/2 and M steps (that coarser reference's own
error, about 8× larger). The order is the least-squares slope of
−log error against log NFE over the asymptotic range NFE ≥ 100 (``ASYMPTOTIC_NFE``) — of error / ln N where the
theory's rate is ln N / N² (DPM-Solver++ on flow's or EDM's uniform grid in t: ``log_factor``, marked †).

SDE methods: the sliced Wasserstein distance of their samples to exact samples of the data, next to the distance
between two exact sample sets of the same size (the noise floor); and, sharper, the weak error of the statistic
$\log q(x_0)$: $\Delta = \overline{\log q(x_0)} - E_q[\log q]$ with its Monte Carlo standard error. "NFE to reach the
floor" is the smallest NFE from which on $|\Delta| \le 2$ standard errors.

On a CPU the bench runs single-threaded: its arrays are tiny, and on a busy 2-core machine two threads spin-wait for
each other (measured: the mixture's denoiser took 23 ms of CPU per call with 2 threads, 0.1 ms with one).
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch
from torch import Tensor

from ..checks import require_device, require_output_path
from ..integrators import INTEGRATORS
from ..metrics import sliced_wasserstein
from ..parametrization import convert
from ..processes import Process, make_process
from ..runtime import quick as quick_mode
from ..timers import make_grid
from ..toys import GaussianMixture, gmm_2d, gmm_nd

__all__ = ["CountingPredictor", "play_samplers", "steps_for_nfe", "fit_order", "fixed_map", "log_factor",
           "endpoint_errors", "sde_distances", "run", "main", "ODE_METHODS", "THEORY_ORDER", "SDE_METHODS", "NFES",
           "ASYMPTOTIC_NFE"]

ODE_METHODS = ("euler", "ddim", "heun", "dpmpp_2s", "dpmpp_2m")
THEORY_ORDER = {"euler": 1, "ddim": 1, "heun": 2, "dpmpp_2s": 2, "dpmpp_2m": 2}
SDE_METHODS = ("euler_maruyama", "ddpm", "pc")
NFES = (5, 10, 20, 50, 100, 200, 500)
ASYMPTOTIC_NFE = 100  # orders are fitted over NFE ≥ this (the asymptotic range)
# (process, timer) of the ODE study: the grid each process is sampled with, then the flow grids that are not fixed maps
CONFIGS = (("edm", "karras"), ("vp", "log_snr"), ("flow", "uniform"), ("flow", "karras"), ("flow", "log_snr"))


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


def fixed_map(process: Process, timer: str) -> bool:
    """Whether the timer's N-step grids are one fixed map t = φ(i/N) (what convergence-order theory assumes).

    Noise-level grids ('karras', 'log_snr') on a process with α = 0 at t_max (rectified flow, cosine VP) are not: the
    noise level is infinite there, so their top level is that of one uniform step below t_max, s_max ≈ N for flow.
    The log-SNR grid's λ-range then grows like log N and its steps shrink like log N / N (a log factor); the Karras
    grid's steps in $s^{1/\rho}$ shrink like $N^{1/\rho - 1}$, so order p becomes $p(1 - 1/\rho)$ (0.86 and 1.71 for
    ρ = 7). Either way the measured slope stays below p (by 0.1–0.4 at NFE 100–500)."""
    return not (timer in ("karras", "log_snr") and process.alpha(process.t_max).item() == 0)


def log_factor(process: Process, timer: str, method: str) -> bool:
    r"""Whether theory predicts the rate $\ln N / N^2$ rather than $N^{-2}$: DPM-Solver++ (second order in λ) on the
    uniform grid in t into a data end where σ_t is linear in t (rectified flow, EDM).

    Near data such a grid takes steps of fixed size in λ = log(α/σ): the step from t = (i+1)/N to i/N has
    h = ln((i+1)/i) ≈ 1/i for every N, so the classical theorem (largest step → 0) does not apply. Its local error
    is about $\alpha_s h^3\,\partial_\lambda^2\hat x_0 \approx h^3\sigma^2 \approx 1/(i N^2)$ ($\hat x_0$ moves by
    O(σ²) there), and the sum over i ≤ N is $\ln N / N^2$: measured slopes sit near 2 − 1/ln N. A first-order
    λ-method (DDIM) keeps its rate 1/N: its local errors $h^2\sigma^2 \approx 1/N^2$ sum to 1/N. Where this holds,
    the bench fits the order to error / ln N (chapter 10)."""
    if method not in ("dpmpp_2s", "dpmpp_2m") or timer != "uniform":
        return False
    _, sigma_end, _, d_sigma_end = process.at(process.t_min)
    return sigma_end == 0 and math.isfinite(d_sigma_end) and d_sigma_end > 0


def _richardson_heun(x_T: Tensor, process: Process, timer: str, steps: int, pred, **timer_kw) -> Tensor:
    r"""Heun at ``steps`` and 2·``steps`` on the timer's grids, extrapolated: $x_{2M} + (x_{2M} - x_M)/3$."""
    coarse = INTEGRATORS["heun"](x_T, make_grid(timer, process, steps, **timer_kw), pred, process)
    fine = INTEGRATORS["heun"](x_T, make_grid(timer, process, 2 * steps, **timer_kw), pred, process)
    return fine + (fine - coarse) / 3


def endpoint_errors(gmm: GaussianMixture, process: Process, timer: str, *, n_points: int = 256,
                    nfes=NFES, methods=ODE_METHODS, ref_steps: int = 1000, generator: torch.Generator | None = None,
                    device=None, x_T: Tensor | None = None, check_ref: bool = True,
                    asymptotic_nfe: int = ASYMPTOTIC_NFE) -> dict:
    """Endpoint error (median over the starts; mean and largest kept too) against a tight reference solution of the
    same PF-ODE, for each method and NFE.

    The reference is Richardson-extrapolated Heun from ``ref_steps`` and 2·``ref_steps`` steps; ``check_ref`` also
    extrapolates from half as many steps and reports the largest difference as ``ref_error`` (else NaN). The order is
    fitted over NFE ≥ ``asymptotic_nfe`` (over the last two NFEs if fewer than two reach it)."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    if x_T is None:
        x_T = gmm.marginal(process.t_max, process).sample(n_points, generator=g)  # exact x_T ~ p_{t_max}
    x_T = x_T.to(device) if device is not None else x_T
    gmm = gmm.to(device=x_T.device)
    pred = CountingPredictor(gmm, process)
    ref = _richardson_heun(x_T, process, timer, ref_steps, pred)
    ref_error = float("nan")
    if check_ref:
        ref_error = (ref - _richardson_heun(x_T, process, timer, ref_steps // 2, pred)).norm(dim=1).max().item()
    final_jump = process.sigma(process.t_min).item() == 0  # the last step into σ = 0 costs 1 NFE
    out = {"process": process.name, "timer": timer, "dim": gmm.dim, "n_points": int(x_T.shape[0]),
           "ref_steps": ref_steps, "ref_error": ref_error, "fixed_map": fixed_map(process, timer),
           "final_jump": final_jump, "asymptotic_nfe": asymptotic_nfe, "methods": {}}
    for name in methods:
        rows = []
        for nfe in nfes:
            pred.nfe = 0
            n_steps = steps_for_nfe(name, nfe, final_jump)
            x0 = INTEGRATORS[name](x_T, make_grid(timer, process, n_steps), pred, process)
            dist = (x0 - ref).norm(dim=1)  # (n,) per-start endpoint errors
            if not bool(torch.isfinite(dist).all()):
                raise RuntimeError(f"{name} produced a non-finite error at NFE {nfe}")
            rows.append({"nfe_target": nfe, "nfe": pred.nfe, "n_steps": n_steps, "error": dist.median().item(),
                         "mean_error": dist.mean().item(), "max_error": dist.max().item()})
        asym = [r for r in rows if r["nfe_target"] >= asymptotic_nfe]
        asym = asym if len(asym) >= 2 else rows[-2:]
        nfes_fit, errors_fit = [r["nfe"] for r in asym], [r["error"] for r in asym]
        plain = fit_order(nfes_fit, errors_fit) if len(asym) >= 2 else float("nan")
        with_log = log_factor(process, timer, name)  # theory's rate is ln N / N^p: fit the slope of error / ln N
        order = fit_order(nfes_fit, [e / math.log(max(r["n_steps"], 2)) for e, r in zip(errors_fit, asym)]) \
            if with_log and len(asym) >= 2 else plain
        theory = THEORY_ORDER.get(name)
        out["methods"][name] = {"rows": rows, "order": order, "order_plain": plain, "log_factor": with_log,
                                "theory": theory, "fit_nfes": nfes_fit,
                                "order_ok": theory is not None and abs(order - theory) <= 0.25}
    # second order against Euler at equal NFE: at every NFE ≥ 20, and the smallest NFE from which on it is better
    euler = {r["nfe_target"]: r["error"] for r in out["methods"].get("euler", {"rows": []})["rows"]}
    out["second_order_beats_euler"], out["beats_euler_from_nfe"] = {}, {}
    for name in methods:
        if THEORY_ORDER.get(name) != 2 or not euler:
            continue
        wins = [(r["nfe_target"], r["error"] < euler[r["nfe_target"]]) for r in out["methods"][name]["rows"]
                if r["nfe_target"] in euler]
        out["second_order_beats_euler"][name] = all(win for nfe, win in wins if nfe >= 20)
        losing = [nfe for nfe, win in wins if not win]
        later = [nfe for nfe, _ in wins if not losing or nfe > max(losing)]
        out["beats_euler_from_nfe"][name] = min(later) if later else None
    return out


def sde_distances(gmm: GaussianMixture, process: Process, timer: str, *, n_samples: int = 2000,
                  nfes=(20, 50, 100, 200, 500), methods=SDE_METHODS, n_projections: int = 128,
                  generator: torch.Generator | None = None, device=None) -> dict:
    r"""Each SDE sampler's samples against the exact mixture: sliced W2 to exact samples (with the exact-vs-exact
    floor: mean and standard deviation over 5 independent exact sets, since one SW draw scatters widely) and the weak
    error $\Delta$ of $\log q(x_0)$ against its exact mean (from 100 000 exact samples), with the Monte Carlo
    standard error of the sampler's mean; ``nfe_to_floor``: the smallest NFE from which on |Δ| ≤ 2 SE."""
    g = generator if generator is not None else torch.Generator().manual_seed(1)
    exact = gmm.sample(n_samples, generator=g)
    floors = torch.tensor([sliced_wasserstein(gmm.sample(n_samples, generator=g), exact, n_projections,
                                              generator=torch.Generator().manual_seed(2)).item() for _ in range(5)])
    floor, floor_sd = floors.mean().item(), floors.std().item()  # SW of n exact samples scatters by ± floor_sd
    log_q_exact = gmm.log_prob(gmm.sample(100_000, generator=g)).mean().item()  # E_q[log q], SE ≈ 0.003
    x_T = gmm.marginal(process.t_max, process).sample(n_samples, generator=g)  # exact x_T ~ p_{t_max}
    if device is not None:
        x_T, gmm_dev = x_T.to(device), gmm.to(device=device)
    else:
        gmm_dev = gmm
    pred = CountingPredictor(gmm_dev, process)
    out = {"process": process.name, "timer": timer, "dim": gmm.dim, "n_samples": n_samples, "floor": floor,
           "floor_sd": floor_sd, "log_q_exact": log_q_exact, "sigma_T": process.sigma(process.t_max).item(),
           "methods": {}}
    for name in methods:
        rows = []
        for nfe in nfes:
            pred.nfe = 0
            n_steps = max(nfe // 2, 1) if name == "pc" else nfe  # PC: 1 predictor + 1 corrector evaluation per step
            noise = torch.Generator(device=x_T.device).manual_seed(3)
            x0 = INTEGRATORS[name](x_T, make_grid(timer, process, n_steps), pred, process, generator=noise).cpu()
            sw = sliced_wasserstein(x0, exact, n_projections, generator=torch.Generator().manual_seed(2)).item()
            log_q = gmm.log_prob(x0)
            rows.append({"nfe_target": nfe, "nfe": pred.nfe, "n_steps": n_steps, "sw": sw,
                         "delta_log_q": log_q.mean().item() - log_q_exact,
                         "se_log_q": log_q.std().item() / math.sqrt(n_samples)})
        at_floor = [abs(r["delta_log_q"]) <= 2 * r["se_log_q"] for r in rows]
        first = next((i for i in range(len(rows)) if all(at_floor[i:])), None)
        out["methods"][name] = {"rows": rows, "nfe_to_floor": None if first is None else rows[first]["nfe"]}
    return out


_PLAY_CACHE: dict = {}


def play_samplers(nfe: int = 20, rho: float = 7.0, eta: float = 0.0, churn: float = 0.0, n_points: int = 256) -> dict:
    r"""Chapter 10's Play: EDM process, gmm_2d, one fixed start of ``n_points``; Heun (with churn ``S_churn``) and DDIM
    (with ``eta``) on a Karras grid of ρ = ``rho`` at about ``nfe`` evaluations each.

    Returns the samples, each sampler's endpoint error against the exact PF-ODE answer from the same start
    (Richardson-extrapolated Heun from 100 and 200 steps: meaningful when η = 0 and churn = 0) and its sliced W2 to
    exact data samples
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
        ref = _richardson_heun(x_T, process, "karras", 100, pred)  # every ρ ends at σ_min = 0.002: the same ODE
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


def _ode_table(r: dict) -> list[str]:
    lines = [f"\nODE  {r['process']} process, {r['timer']} grid, GMM dim {r['dim']}, median endpoint error over "
             f"{r['n_points']} starts; reference: "
             f"Richardson-extrapolated Heun {r['ref_steps']}/{2 * r['ref_steps']} steps (its own error ≤ "
             f"{r['ref_error']:.1e}); order fitted over NFE ≥ {r['asymptotic_nfe']}"]
    nfes = [row["nfe_target"] for row in next(iter(r["methods"].values()))["rows"]]
    lines.append(f"  {'method':<10}" + "".join(f"{'NFE ' + str(n):>10}" for n in nfes) + f"{'order':>8}{'theory':>7}  ok")
    for name, m in r["methods"].items():
        ok = ("yes" if m["order_ok"] else "NO") if r["fixed_map"] else "n/a"
        lines.append(f"  {name:<10}" + "".join(f"{row['error']:>10.2e}" for row in m["rows"])
                     + f"{m['order']:>7.2f}{'†' if m.get('log_factor') else ' '}{m['theory']:>7}  {ok}")
    beats = ", ".join(f"{k}: {'yes' if v else 'NO'} (better from NFE {r['beats_euler_from_nfe'][k]})"
                      for k, v in r["second_order_beats_euler"].items())
    lines.append(f"  beats Euler at every NFE ≥ 20 — {beats}")
    if not r["fixed_map"]:
        lines.append("  n/a: this grid is not a fixed map t = φ(i/N) (α = 0 at t_max: its top noise level grows with N), "
                     "so the slope is below the order")
    logged = [f"{name} {m['order_plain']:.2f}" for name, m in r["methods"].items() if m.get("log_factor")]
    if logged:
        lines.append("  †: steps uniform in t have fixed sizes in λ near data, so DPM-Solver++'s error is ln N / N²; "
                     f"its order is fitted to error / ln N (plain slopes: {', '.join(logged)})")
    return lines


def _sde_table(r: dict) -> list[str]:
    lines = [f"\nSDE  {r['process']} process, {r['timer']} grid, GMM dim {r['dim']}, {r['n_samples']} samples: sliced W2 "
             f"to exact samples (exact-vs-exact floor {r['floor']:.4f} ± {r['floor_sd']:.4f}) / weak error Δ of log q(x0) in standard errors"]
    nfes = [row["nfe_target"] for row in next(iter(r["methods"].values()))["rows"]]
    lines.append(f"  {'method':<15}" + "".join(f"{'NFE ' + str(n):>16}" for n in nfes) + "  NFE to floor")
    for name, m in r["methods"].items():
        cells = "".join(f"{row['sw']:>9.4f} /{row['delta_log_q'] / row['se_log_q']:>+5.1f}" for row in m["rows"])
        lines.append(f"  {name:<15}{cells}  {m['nfe_to_floor'] if m['nfe_to_floor'] is not None else '> ' + str(nfes[-1])}")
    return lines


def _summary(results: dict) -> list[str]:
    """One line per ODE method: its measured order on every (process, grid, dim) configuration."""
    ode = results.get("ode", [])
    if not ode:
        return []
    heads = [f"{r['process']}/{r['timer']}/{r['dim']}D" for r in ode]
    lines = ["\nSUMMARY  measured orders (fitted over NFE ≥ %d); * = grid not a fixed map; † = fitted to error / ln N, "
             "the theory's rate on that grid (see log_factor)" % ode[0]["asymptotic_nfe"],
             f"  {'method':<10}{'theory':>7}" + "".join(f"{h + ('' if r['fixed_map'] else '*'):>18}"
                                                     for h, r in zip(heads, ode))]
    for name in ode[0]["methods"]:
        lines.append(f"  {name:<10}{THEORY_ORDER[name]:>7}" + "".join(
            f"{r['methods'][name]['order']:>17.2f}{'†' if r['methods'][name].get('log_factor') else ' '}" for r in ode))
    return lines


def _table(results: dict) -> str:
    lines = []
    for r in results.get("ode", []):
        lines += _ode_table(r)
    for r in results.get("sde", []):
        lines += _sde_table(r)
    if results.get("summary"):
        lines += _summary(results)
    return "\n".join(lines)


def _progress(what: str, t0: float) -> None:
    print(f"[{time.perf_counter() - t0:6.1f} s] {what}", file=sys.stderr, flush=True)


def run(quick: bool = False, device=None, on_result=None) -> dict:
    """The whole bench; ``quick`` shrinks sizes (128 starts, 2000 SDE samples, one 16-D ODE configuration).
    ``on_result(kind, result)`` is called as each configuration finishes (kind 'ode' or 'sde')."""
    t0 = time.perf_counter()
    n_points, n_samples = (128, 2000) if quick else (256, 8000)
    targets = [(gmm_2d(), CONFIGS), (gmm_nd(16), CONFIGS[:1] if quick else CONFIGS[:3])]
    ode = []
    for gmm, configs in targets:
        for process_name, timer in configs:
            _progress(f"ODE: {process_name}/{timer}, dim {gmm.dim}", t0)
            ode.append(endpoint_errors(gmm, make_process(process_name), timer, n_points=n_points, device=device))
            if on_result is not None:
                on_result("ode", ode[-1])
    sde = []
    for gmm, _ in targets:
        _progress(f"SDE: vp/uniform, dim {gmm.dim}", t0)
        sde.append(sde_distances(gmm, make_process("vp"), "uniform", n_samples=n_samples, device=device))
        if on_result is not None:
            on_result("sde", sde[-1])
    return {"device": str(device or "cpu"), "quick": quick, "seconds": time.perf_counter() - t0, "ode": ode,
            "sde": sde, "summary": True}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffedu bench samplers", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="write every number to this JSON file")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes (default in quick mode, DIFFEDU_QUICK=1)")
    size.add_argument("--full", action="store_true", help="full sizes (default in full mode)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available, else cpu)")
    args = parser.parse_args(argv)
    try:
        device = require_device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"), "--device")
        if args.json:
            require_output_path(args.json, "--json")
    except ValueError as e:
        parser.error(str(e))
    quick = args.quick or (quick_mode() and not args.full)
    if device.type == "cpu":
        torch.set_num_threads(1)  # tiny arrays: threads only spin-wait (see the module docstring)
    print(f"diffedu bench samplers — device {device}, {'quick' if quick else 'full'} mode", flush=True)
    cpu0 = time.process_time()
    results = run(quick=quick, device=device, on_result=lambda kind, r: print(_table({kind: [r]}), flush=True))
    results["cpu_seconds"] = time.process_time() - cpu0
    print("\n".join(_summary(results)))
    print(f"\n{results['seconds']:.1f} s wall, {results['cpu_seconds']:.1f} s CPU")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
