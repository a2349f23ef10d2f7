"""``python -m diffedu bench panels [--json PATH] [--only NAME …]``: the CPU cost of every panel's redraw.

Each panel of ``ui.widgets`` is built (its first draw at the defaults, which also fills its caches), then every
control is moved to its extreme positions and back, one at a time (a slider's min and max, a dropdown's every option),
the others at their defaults; then the panel is closed (as if its chapter were), so that the next one does not
carry its widgets. A redraw is timed whole: the panel's compute function, its figure and the PNG that goes
to the browser (``widgets.figure_png``; a figure left open is saved as the inline backend would, ``print_figure``). Times are kernel CPU seconds
on one thread (``time.process_time`` after ``torch.set_num_threads(1)``, as the chapters run), which a busy machine
inflates far less than wall time. Targets (issue 17): ≤ 0.5 s for a 2-D panel, ≤ 1.5 s for an MNIST panel.
"""
from __future__ import annotations

import argparse
import contextlib
import gc
import io
import json
import sys
import time
import warnings

import ipywidgets as W
import matplotlib.pyplot as plt
import torch
from IPython.core.pylabtools import print_figure

from ..checks import require_output_path
from . import widgets

__all__ = ["PANELS", "TARGET", "NOTES", "positions", "time_panel", "main"]

# name → (chapter, factory, kind); kind picks the target
PANELS = {
    "mix": ("00", widgets.mix_panel, "2-D"),
    "noising": ("01", widgets.noising_panel, "2-D"),
    "tweedie": ("02", widgets.tweedie_panel, "2-D"),
    "fokker_planck": ("03", widgets.fokker_planck_panel, "2-D"),
    "ode_sde_paths": ("03", widgets.ode_sde_paths_panel, "2-D"),
    "ddpm_schedule": ("04", widgets.ddpm_schedule_panel, "2-D"),
    "ddim_eta": ("05", widgets.ddim_eta_panel, "2-D"),
    "langevin": ("06", widgets.langevin_panel, "2-D"),
    "pc": ("07", widgets.pc_panel, "2-D"),
    "flows": ("08", widgets.flows_panel, "2-D"),
    "edm": ("09", widgets.edm_panel, "2-D"),
    "samplers": ("10", widgets.samplers_panel, "2-D"),
    "cfg_mixture": ("11", widgets.cfg_mixture_panel, "2-D"),
    "mnist_guidance": ("11", widgets.mnist_guidance_panel, "MNIST"),
    "mnist_sampler": ("12", widgets.mnist_sampler_panel, "MNIST"),
    "few_step": ("13", widgets.few_step_panel, "2-D"),  # a setting's first visit trains; revisits are cached
    "discrete": ("14", widgets.discrete_panel, "2-D"),
}
TARGET = {"2-D": 0.5, "MNIST": 1.5}  # CPU seconds per redraw
NOTES = {"few_step": "a setting's first visit trains (seconds); its model is kept: the 'back to default' rows "
                     "are revisits"}


def controls(box: W.Box) -> dict[str, W.ValueWidget]:
    """The panel's controls by label, found in its widget tree (sliders and dropdowns)."""
    found = {}
    for child in box.children:
        if isinstance(child, (W.FloatSlider, W.IntSlider, W.FloatLogSlider, W.Dropdown)):
            found[child.description] = child
        elif isinstance(child, W.Box):
            found.update(controls(child))
    return found


def positions(control: W.ValueWidget) -> list:
    """A control's extreme positions other than its default: a slider's min and max (a log slider's in value space),
    a dropdown's other options."""
    if isinstance(control, W.Dropdown):
        values = list(control.options)
    elif isinstance(control, W.FloatLogSlider):
        values = [control.base ** control.min, control.base ** control.max]
    else:
        values = [control.min, control.max]
    return [v for v in values if v != control.value
            and not (isinstance(v, float) and abs(v - control.value) <= 1e-9 * max(1.0, abs(v)))]


def _render() -> None:
    """What the inline backend does after a draw: every open figure to a PNG, then closed."""
    for num in plt.get_fignums():
        print_figure(plt.figure(num), "png")
    plt.close("all")


def _timed(action) -> float:
    """CPU seconds of ``action()`` plus the PNG of what it drew; the panel's own printing is swallowed."""
    plt.close("all")
    t0 = time.process_time()
    with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        action()
        _render()
    return time.process_time() - t0


def close(box: W.Widget) -> None:
    """Close a panel's widget tree: ipywidgets keeps every open widget (and so each panel's figures and caches) in
    its registry, and a chapter has one or two panels alive, not the whole course's."""
    for child in getattr(box, "children", ()):
        close(child)
    box.close()


def time_panel(factory) -> list[dict]:
    """Rows {position, cpu_s}: the build (first draw at the defaults, which also fills the panel's caches), then each
    control at each extreme and back to its default, one control at a time."""
    box = []
    rows = [{"position": "build (first draw)", "cpu_s": _timed(lambda: box.append(factory()))}]
    for label, control in controls(box[0]).items():
        default = control.value
        for value in positions(control):
            shown = f"{value:.4g}" if isinstance(value, float) else str(value)
            rows.append({"position": f"{label} = {shown}",
                         "cpu_s": _timed(lambda: setattr(control, "value", value))})
        rows.append({"position": f"{label} back to default",
                     "cpu_s": _timed(lambda: setattr(control, "value", default))})
    close(box[0])
    gc.collect()  # the closed panel's garbage is not charged to the next panel's redraws
    return rows


def _table(results: dict) -> str:
    lines = [f"{'panel':<16}{'ch':>3}  {'position':<34}{'CPU s':>7}"]
    for name, r in results.items():
        if "skipped" in r:
            lines.append(f"{name:<16}{r['chapter']:>3}  skipped: {r['skipped']}")
            continue
        for row in r["rows"]:
            lines.append(f"{name:<16}{r['chapter']:>3}  {row['position'][:33]:<34}{row['cpu_s']:7.3f}")
        verdict = "ok" if r["max_cpu_s"] <= r["target_s"] else "OVER"
        lines.append(f"{'':<21}{'max redraw (target ' + str(r['target_s']) + ' s)':<34}{r['max_cpu_s']:7.3f}  {verdict}")
        if name in NOTES:
            lines.append(f"{'':<21}({NOTES[name]})")
    return "\n".join(lines)


def run(names) -> dict:
    results = {}
    for name in names:
        chapter, factory, kind = PANELS[name]
        try:
            rows = time_panel(factory)
        except (FileNotFoundError, OSError, KeyError, RuntimeError) as e:  # e.g. no shipped MNIST checkpoint
            results[name] = {"chapter": chapter, "kind": kind, "skipped": f"{type(e).__name__}: {e}"}
            continue
        results[name] = {"chapter": chapter, "kind": kind, "target_s": TARGET[kind], "rows": rows,
                         "build_cpu_s": rows[0]["cpu_s"], "max_cpu_s": max(r["cpu_s"] for r in rows[1:])}
        print(_table({name: results[name]}).split("\n", 1)[1], flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m diffedu bench panels", description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", metavar="PATH", help="write every number to this JSON file")
    parser.add_argument("--only", nargs="+", choices=list(PANELS), metavar="NAME",
                        help=f"time only these panels (of: {', '.join(PANELS)})")
    args = parser.parse_args(argv)
    if args.json:
        try:
            require_output_path(args.json, "--json")
        except ValueError as e:
            parser.error(str(e))
    plt.switch_backend("Agg")
    torch.set_num_threads(1)  # as the chapters run
    print(f"diffedu bench panels — CPU seconds per redraw, one thread\n{_table({}).splitlines()[0]}", flush=True)
    results = run(args.only or list(PANELS))
    over = [n for n, r in results.items() if "skipped" not in r and r["max_cpu_s"] > r["target_s"]]
    print(f"\n{len(results) - len(over)} of {len(results)} panels within target" + (f"; over: {', '.join(over)}"
                                                                                         if over else ""))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(results, fh, indent=1)
        print(f"wrote {args.json}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
