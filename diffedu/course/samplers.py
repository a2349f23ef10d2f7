r"""``python -m diffedu bench samplers [--json PATH] [--quick | --full]``: every sampler measured against exact answers
(chapter 10).

ODE samplers: the median endpoint error against a Richardson-extrapolated Heun solution of the same probability-flow
ODE from the same starts, at a range of NFE, and the order fitted over the asymptotic range. SDE samplers: the sliced
Wasserstein distance to exact samples and the weak error of $\log q(x_0)$, each next to its Monte Carlo floor.
"""
from __future__ import annotations

import argparse
import json
import math
import sys
import time

import torch
from torch import Tensor

from ..checks import json_with_keys, require_device, require_integer, require_output_path
from ..integrators import SAMPLERS, get_integrator, steps_for_nfe
from ..metrics import sliced_wasserstein
from ..parametrization import Counting
from ..processes import Process, make_process
from ..runtime import quick as quick_mode
from ..timers import make_grid
from ..toys import GaussianMixture, gmm_2d, gmm_nd
from .animation import paths_animation
from .noise_floor import floor_band

__all__ = ["race_frames", "race_opening", "run_sampler", "play_samplers", "fit_order", "fixed_map", "log_factor", "endpoint_errors", "sde_distances", "run", "main",
           "ODE_METHODS", "THEORY_ORDER", "SDE_METHODS", "NFES", "ASYMPTOTIC_NFE"]

THEORY_ORDER = {name: s.order for name, s in SAMPLERS.items() if s.order is not None}  # the ODE samplers' orders
ODE_METHODS = tuple(name for name in THEORY_ORDER if name != "dpmpp_1")  # dpmpp_1 is DDIM (η = 0), computed again
SDE_METHODS = tuple(name for name, s in SAMPLERS.items() if s.order is None)
NFES = (5, 10, 20, 50, 100, 200, 500)
ASYMPTOTIC_NFE = 100  # orders are fitted over NFE ≥ this (the asymptotic range)
# (process, timer) of the ODE study: the grid each process is sampled with, then the flow grids that are not fixed maps
CONFIGS = (("edm", "karras"), ("vp", "log_snr"), ("flow", "uniform"), ("flow", "karras"), ("flow", "log_snr"))


def run_sampler(name: str, gmm: GaussianMixture, process: Process, x_T: Tensor, ts: Tensor,
                generator: torch.Generator | None = None) -> tuple[Tensor, int]:
    """The sampler ``name`` (a key of ``integrators.SAMPLERS``) on the exact denoiser of ``gmm`` from ``x_T`` down the
    grid ``ts``: (the samples, the number of network evaluations). Chapter 10 runs its figures through it, so that no
    sampler loop is imported above its lab."""
    pred = Counting(gmm.predictor(process))
    return get_integrator(name)(x_T, ts, pred, process, generator=generator), pred.nfe


def fit_order(nfes, errors) -> float:
    r"""Least-squares slope p of $\log e = c - p\log \mathrm{NFE}$: the measured order of convergence."""
    lx = torch.tensor([math.log(n) for n in nfes], dtype=torch.float64)
    ly = torch.tensor([math.log(e) for e in errors], dtype=torch.float64)
    lx, ly = lx - lx.mean(), ly - ly.mean()
    return float(-(lx * ly).sum() / (lx * lx).sum())


def fixed_map(process: Process, timer: str) -> bool:
    """Whether the timer's N-step grids are one fixed map t = φ(i/N), as convergence-order theory assumes: not so for
    a noise-level grid ('karras', 'log_snr') on a process with α = 0 at t_max, whose top level grows with N."""
    return not (timer in ("karras", "log_snr") and process.alpha(process.t_max).item() == 0)


def log_factor(process: Process, timer: str, integrator: str) -> bool:
    r"""Whether theory predicts the rate $\ln N / N^2$ rather than $N^{-2}$: DPM-Solver++ (second order in λ) on the
    uniform grid in t into a data end where σ_t is linear in t (rectified flow, EDM; derivation in chapter 10)."""
    if integrator not in ("dpmpp_2s", "dpmpp_2m") or timer != "uniform":
        return False
    _, sigma_end, _, d_sigma_end = process.at(process.t_min)
    return sigma_end == 0 and math.isfinite(d_sigma_end) and d_sigma_end > 0


def _richardson_heun(x_T: Tensor, process: Process, timer: str, steps: int, pred, **timer_kw) -> Tensor:
    r"""Heun at ``steps`` and 2·``steps`` on the timer's grids, extrapolated: $x_{2M} + (x_{2M} - x_M)/3$."""
    heun = get_integrator("heun")
    coarse = heun(x_T, make_grid(timer, process, steps, **timer_kw), pred, process)
    fine = heun(x_T, make_grid(timer, process, 2 * steps, **timer_kw), pred, process)
    return fine + (fine - coarse) / 3


def _error_rows(integrator: str, x_T: Tensor, ref: Tensor, pred: Counting, process: Process, timer: str, nfes,
                final_jump: bool) -> list[dict]:
    """One row per NFE: the integrator's endpoint errors against ``ref`` (median, mean, largest) and the NFE spent."""
    rows = []
    for nfe in nfes:
        pred.nfe = 0
        n_steps = steps_for_nfe(integrator, nfe, final_jump=final_jump)
        x0 = get_integrator(integrator)(x_T, make_grid(timer, process, n_steps), pred, process)
        dist = (x0 - ref).norm(dim=1)  # (n,) per-start endpoint errors
        if not bool(torch.isfinite(dist).all()):
            raise RuntimeError(f"{integrator} produced a non-finite error at NFE {nfe}")
        rows.append({"nfe_target": nfe, "nfe": pred.nfe, "n_steps": n_steps, "error": dist.median().item(),
                     "mean_error": dist.mean().item(), "max_error": dist.max().item()})
    return rows


def _fit(rows: list[dict], asymptotic_nfe: int, with_log: bool) -> tuple[float, float, list[int]]:
    """The order fitted over NFE ≥ ``asymptotic_nfe`` (the last two rows if fewer reach it): the slope of the error,
    or of error / ln N where ``with_log`` (see :func:`log_factor`). Returns (order, plain slope, the NFEs fitted)."""
    asym = [r for r in rows if r["nfe_target"] >= asymptotic_nfe]
    asym = asym if len(asym) >= 2 else rows[-2:]
    nfes_fit, errors_fit = [r["nfe"] for r in asym], [r["error"] for r in asym]
    if len(asym) < 2:
        return float("nan"), float("nan"), nfes_fit
    plain = fit_order(nfes_fit, errors_fit)
    if not with_log:
        return plain, plain, nfes_fit
    return fit_order(nfes_fit, [e / math.log(max(r["n_steps"], 2)) for e, r in zip(errors_fit, asym)]), plain, nfes_fit


def _beats_euler(methods: dict) -> tuple[dict, dict]:
    """Each second-order integrator against Euler at equal NFE: better at every NFE ≥ 20 (name → bool), and the
    smallest NFE from which on it is better (name → NFE or None)."""
    euler = {r["nfe_target"]: r["error"] for r in methods.get("euler", {"rows": []})["rows"]}
    at_every, from_nfe = {}, {}
    for name, m in methods.items():
        if THEORY_ORDER.get(name) != 2 or not euler:
            continue
        wins = [(r["nfe_target"], r["error"] < euler[r["nfe_target"]]) for r in m["rows"] if r["nfe_target"] in euler]
        at_every[name] = all(win for nfe, win in wins if nfe >= 20)
        losing = [nfe for nfe, win in wins if not win]
        later = [nfe for nfe, _ in wins if not losing or nfe > max(losing)]
        from_nfe[name] = min(later) if later else None
    return at_every, from_nfe


def endpoint_errors(gmm: GaussianMixture, process: Process, timer: str, *, n_points: int = 256,
                    nfes=NFES, methods=ODE_METHODS, ref_steps: int = 1000, generator: torch.Generator | None = None,
                    device=None, x_T: Tensor | None = None, check_ref: bool = True,
                    asymptotic_nfe: int = ASYMPTOTIC_NFE) -> dict:
    """Endpoint error (median over the starts; mean and largest kept too) of each integrator in ``methods`` at each
    NFE, against Richardson-extrapolated Heun from ``ref_steps`` and 2·``ref_steps`` steps; ``check_ref`` also
    extrapolates from half as many and reports the largest difference as ``ref_error`` (else NaN)."""
    g = generator if generator is not None else torch.Generator().manual_seed(0)
    if x_T is None:
        x_T = gmm.marginal(process.t_max, process).sample(n_points, generator=g)  # exact x_T ~ p_{t_max}
    x_T = x_T.to(device) if device is not None else x_T
    pred = Counting(gmm.to(device=x_T.device).predictor(process))
    ref = _richardson_heun(x_T, process, timer, ref_steps, pred)
    ref_error = float("nan")
    if check_ref:
        ref_error = (ref - _richardson_heun(x_T, process, timer, ref_steps // 2, pred)).norm(dim=1).max().item()
    final_jump = process.sigma(process.t_min).item() == 0  # the last step into σ = 0 costs 1 NFE
    out = {"process": process.name, "timer": timer, "dim": gmm.dim, "n_points": int(x_T.shape[0]),
           "ref_steps": ref_steps, "ref_error": ref_error, "fixed_map": fixed_map(process, timer),
           "final_jump": final_jump, "asymptotic_nfe": asymptotic_nfe, "methods": {}}
    for name in methods:
        rows = _error_rows(name, x_T, ref, pred, process, timer, nfes, final_jump)
        with_log = log_factor(process, timer, name)  # theory's rate is ln N / N^p: fit the slope of error / ln N
        order, plain, nfes_fit = _fit(rows, asymptotic_nfe, with_log)
        theory = THEORY_ORDER.get(name)
        out["methods"][name] = {"rows": rows, "order": order, "order_plain": plain, "log_factor": with_log,
                                "theory": theory, "fit_nfes": nfes_fit,
                                "order_ok": theory is not None and abs(order - theory) <= 0.25}
    out["second_order_beats_euler"], out["beats_euler_from_nfe"] = _beats_euler(out["methods"])
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
        x_T = x_T.to(device)
    pred = Counting(gmm.to(device=x_T.device).predictor(process))
    out = {"process": process.name, "timer": timer, "dim": gmm.dim, "n_samples": n_samples, "floor": floor,
           "floor_sd": floor_sd, "log_q_exact": log_q_exact, "sigma_T": process.sigma(process.t_max).item(),
           "methods": {}}
    for name in methods:
        rows = []
        for nfe in nfes:
            pred.nfe = 0
            n_steps = steps_for_nfe(name, nfe)
            noise = torch.Generator(device=x_T.device).manual_seed(3)
            x0 = get_integrator(name)(x_T, make_grid(timer, process, n_steps), pred, process, generator=noise).cpu()
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


def _play_sw(a: Tensor, b: Tensor) -> float:
    return sliced_wasserstein(a, b, 64, generator=torch.Generator().manual_seed(1)).item()


def play_samplers(nfe: int = 20, rho: float = 7.0, eta: float = 0.0, churn: float = 0.0, n_points: int = 256) -> dict:
    r"""Chapter 10's Play: EDM process, gmm_2d, one fixed start of ``n_points``; Heun (with churn ``S_churn``) and DDIM
    (with ``eta``) on a Karras grid of ρ = ``rho`` at about ``nfe`` evaluations each.

    Returns the samples, each sampler's endpoint error against the exact PF-ODE answer from the same start
    (Richardson-extrapolated Heun from 100 and 200 steps: meaningful when η = 0 and churn = 0) and its sliced W2 to
    exact data samples next to the exact-vs-exact floor (meaningful for every setting): ``floor``, its mean, and
    ``band``, mean ± 2 sd over fresh exact sets of the same size (``noise_floor.floor_band``).
    """
    nfe = require_integer("nfe", nfe)
    key = int(n_points)
    if key not in _PLAY_CACHE:  # the fixed start, its exact answer, and exact data samples
        gmm, process = gmm_2d(), make_process("edm")
        g = torch.Generator().manual_seed(0)
        x_T = gmm.marginal(process.t_max, process).sample(key, generator=g)  # exact x_T ~ p_T
        pred = Counting(gmm.predictor(process))
        ref = _richardson_heun(x_T, process, "karras", 100, pred)  # every ρ ends at σ_min = 0.002: the same ODE
        exact = gmm.sample(key, generator=g)
        band = floor_band(lambda n, gen: gmm.sample(n, generator=gen), exact, _play_sw)
        _PLAY_CACHE[key] = (gmm, process, x_T, ref, exact, band)
    gmm, process, x_T, ref, exact, band = _PLAY_CACHE[key]
    pred = Counting(gmm.predictor(process))
    out = {"x_T": x_T, "ref": ref, "exact": exact, "floor": band["mean"], "band": band}
    for name in ("heun", "ddim"):
        pred.nfe = 0
        n_steps = steps_for_nfe(name, nfe, final_jump=True)
        ts = make_grid("karras", process, n_steps, rho=rho)
        kw = dict(s_churn=churn) if name == "heun" else dict(eta=eta)
        x0 = get_integrator(name)(x_T, ts, pred, process, generator=torch.Generator().manual_seed(2), **kw)
        out[name] = {"x0": x0, "nfe": pred.nfe, "n_steps": n_steps, "ode_error": (x0 - ref).norm(dim=1).mean().item(),
                     "sw": _play_sw(x0, exact)}
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
    parser.add_argument("--force", action="store_true", help="let --json replace an earlier results file")
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="small sizes (default in quick mode, DIFFEDU_QUICK=1)")
    size.add_argument("--full", action="store_true", help="full sizes (default in full mode)")
    parser.add_argument("--device", default=None, help="cpu or cuda (default: cuda when available, else cpu)")
    args = parser.parse_args(argv)
    try:
        device = require_device(args.device or ("cuda" if torch.cuda.is_available() else "cpu"), "--device")
        if args.json:
            require_output_path(args.json, "--json", force=args.force, owned=json_with_keys("ode", "sde", "summary"))
    except ValueError as e:
        parser.error(str(e))
    quick = args.quick or (quick_mode() and not args.full)
    if device.type == "cpu":
        torch.set_num_threads(1)  # tiny arrays: a second thread only spin-waits
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


def race_frames(names=("euler", "heun", "dpmpp_2m"), nfe: int = 10, n: int = 300, seed: int = 0) -> dict:
    r"""Chapter 10's opening: samplers of the probability-flow ODE (rectified flow, uniform grid, exact ``gmm_2d``
    predictor) racing on the same budget of ``nfe`` evaluations from the same $x_1$. Returns ``paths``: name →
    (nfe + 1, n, 2), the state each sampler holds after k evaluations (a 2-NFE step shows up when both are done),
    and ``steps``: name → its number of steps."""
    nfe = require_integer("nfe", nfe, lo=2)
    process, gmm = make_process("flow"), gmm_2d()
    x_T = torch.randn(n, 2, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)
    paths, steps = {}, {}
    for name in names:
        pred = Counting(gmm.predictor(process))
        done = [(0, x_T)]  # (evaluations so far, state)
        steps[name] = steps_for_nfe(name, nfe, final_jump=True)
        get_integrator(name)(x_T, make_grid("uniform", process, steps[name]), pred, process,
                             callback=lambda info: done.append((pred.nfe, info["x"])))
        paths[name] = torch.stack([max((d for d in done if d[0] <= k), key=lambda d: d[0])[1]
                                   for k in range(nfe + 1)])  # (nfe + 1, n, 2)
    return {"paths": paths, "steps": steps, "gmm": gmm}


def race_opening(nfe: int = 10, n: int = 300, seed: int = 0):
    """Chapter 10's opening animation as (fig, update, n_frames): ``race_frames`` drawn frame by frame, one frame per
    network evaluation."""
    fr = race_frames(nfe=nfe, n=n, seed=seed)
    label = {"euler": "Euler", "heun": "Heun", "dpmpp_2m": "DPM-Solver++(2M)"}
    panels = [(f"{label.get(k, k)}: {fr['steps'][k]} steps", p) for k, p in fr["paths"].items()]
    titles = [f"the same {nfe} evaluations each: after {k}" for k in range(nfe + 1)]
    background = fr["gmm"].sample(600, generator=torch.Generator().manual_seed(1)).numpy()
    return paths_animation(panels, titles, background=background)
