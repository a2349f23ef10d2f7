"""The JavaScript that nbconvert's HTML pages load from CDNs, brought next to the pages so they work offline.

nbconvert's slides and HTML pages load reveal.js (unpkg), require.js, jQuery and MathJax 2 (cdnjs) and the Jupyter
widgets HTML manager (unpkg) at view time (and try mermaid from cdnjs, used only by mermaid diagrams: we have none). ``make slides`` and ``make book`` call ``assets(dest)``, which fetches pinned
releases of these packages once from the npm registry with ``npm pack`` (at build time, into ``build/vendor/``), and
copies the files the pages use into ``dest/_static/``. Without npm (or without the registry) it says so and returns
``None``: the pages then keep nbconvert's CDN addresses and need the internet to show math, slides and widgets.
"""
from __future__ import annotations

import shutil
import subprocess
import tarfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CACHE = ROOT / "build" / "vendor"

# npm package → (pinned version, paths under package/ to keep, to drop); versions as nbconvert's templates expect.
PACKAGES: dict[str, tuple[str, tuple[str, ...], tuple[str, ...]]] = {
    "reveal.js": ("4.0.2", ("dist/", "plugin/notes/"), ()),
    "requirejs": ("2.3.7", ("require.js",), ()),
    "jquery": ("2.2.4", ("dist/jquery.min.js",), ()),
    "mathjax": ("2.7.7", ("MathJax.js", "config/TeX-AMS_CHTML-full.js", "config/Safe.js", "extensions/",
                          "jax/input/TeX/", "jax/output/CommonHTML/", "jax/element/", "localization/en/",
                          "fonts/HTML-CSS/TeX/woff/"), ("extensions/a11y/",)),
    "@jupyter-widgets/html-manager": ("1.0.15", ("dist/",), ("dist/embed.js", "dist/libembed-amd.js", ".eot", ".ttf")),
}


def _keep(name: str, keep: tuple[str, ...], drop: tuple[str, ...]) -> bool:
    kept = any(name == p or (p.endswith("/") and name.startswith(p)) for p in keep)
    dropped = any(name.startswith(p) or name.endswith(p) for p in drop) or name.endswith(".map")
    return kept and not dropped


def fetch(package: str) -> Path:
    """``build/vendor/<package>-<version>/``: the kept files of the pinned release (fetched once with ``npm pack``)."""
    version, keep, drop = PACKAGES[package]
    target = CACHE / f"{package.replace('/', '__')}-{version}"
    if (target / ".complete").exists():
        return target
    if shutil.which("npm") is None:
        raise RuntimeError("npm is not installed")
    CACHE.mkdir(parents=True, exist_ok=True)
    packed = subprocess.run(["npm", "pack", "--silent", f"{package}@{version}", "--pack-destination", str(CACHE)],
                            cwd=ROOT, capture_output=True, text=True, timeout=300)
    if packed.returncode != 0:
        raise RuntimeError(f"npm pack {package}@{version} failed: {packed.stderr.strip()[-300:]}")
    tarball = CACHE / packed.stdout.strip().splitlines()[-1]
    shutil.rmtree(target, ignore_errors=True)
    with tarfile.open(tarball) as archive:
        for member in archive.getmembers():
            name = member.name.removeprefix("package/")
            if member.isfile() and _keep(name, keep, drop) and ".." not in Path(name).parts:
                path = target / name
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(archive.extractfile(member).read())
    tarball.unlink()
    (target / ".complete").touch()
    return target


def assets(dest: Path, packages: tuple[str, ...] = tuple(PACKAGES)) -> dict[str, str] | None:
    """Copy the vendored packages into ``dest/_static/``; returns nbconvert settings pointing at them (paths relative
    to ``dest``), or ``None`` (with a printed reason) when they cannot be had, so that the caller keeps the CDNs."""
    static = dest / "_static"
    try:
        folders = {name: fetch(name) for name in packages}
    except (RuntimeError, OSError, subprocess.SubprocessError) as error:
        print(f"    offline assets unavailable ({error}); the pages will load them from CDNs")
        return None
    for name, folder in folders.items():
        shutil.copytree(folder, static / name, dirs_exist_ok=True, ignore=shutil.ignore_patterns(".complete"))
    settings = {}
    if "reveal.js" in folders:
        settings["reveal_url_prefix"] = "_static/reveal.js"
    if "requirejs" in folders:
        settings["require_js_url"] = "_static/requirejs/require.js"
    if "jquery" in folders:
        settings["jquery_url"] = "_static/jquery/dist/jquery.min.js"
    if "mathjax" in folders:
        settings["mathjax_url"] = "_static/mathjax/MathJax.js?config=TeX-AMS_CHTML-full,Safe"
    if "@jupyter-widgets/html-manager" in folders:
        settings["widget_renderer_url"] = "_static/@jupyter-widgets/html-manager/dist/embed-amd.js"
    return settings


def size(folder: Path) -> int:
    """Bytes under ``folder``."""
    return sum(p.stat().st_size for p in folder.rglob("*") if p.is_file())


if __name__ == "__main__":
    import sys
    out = Path(sys.argv[1] if len(sys.argv) > 1 else ROOT / "build" / "vendor-check")
    print(assets(out), f"{size(out / '_static') / 1e6:.1f} MB" if (out / "_static").exists() else "")
