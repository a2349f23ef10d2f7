"""The ways to install the course agree with each other: pip (pyproject.toml + Makefile), conda / Binder
(environment.yml + postBuild), CI (.ci/run).

Oracles: the files themselves, parsed (tomllib, PyYAML); git's record of the executable bits; repo2docker's
documented conventions (environment.yml at the top level or in binder/, postBuild an executable script run after the
environment is built).
"""
from __future__ import annotations

import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
CONDA_TO_PIP = {"pytorch-cpu": "torch", "pytorch": "torch"}
CONDA_ONLY = {"python", "pip"}


def split(requirement: str) -> tuple[str, str]:
    """'Name>=1.0' → ('name', '>=1.0'), names normalised the PEP 503 way."""
    match = re.fullmatch(r"\s*([A-Za-z0-9_.\-]+)\s*(.*?)\s*", requirement)
    assert match, f"cannot parse requirement {requirement!r}"
    return re.sub(r"[-_.]+", "-", match[1]).lower(), match[2].replace(" ", "")


def pyproject() -> dict:
    return tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))


def conda_env() -> dict:
    return yaml.safe_load((ROOT / "environment.yml").read_text(encoding="utf-8"))


def conda_packages() -> list[str]:
    """environment.yml's conda packages (its strings)."""
    return [entry for entry in conda_env()["dependencies"] if isinstance(entry, str)]


def pip_section() -> list[str]:
    """environment.yml's nested `pip:` list: the exact pins conda-forge may not carry yet (jupytext)."""
    nested = [entry for entry in conda_env()["dependencies"] if not isinstance(entry, str)]
    assert all(set(entry) == {"pip"} for entry in nested), f"environment.yml: unexpected nested entries {nested}"
    return [req for entry in nested for req in entry["pip"]]


def test_exact_pins_come_from_pypi():
    """Oracle: an exact pin (==) is installed by pip inside the conda environment, from PyPI, where pyproject's
    pin is known to exist (`make` installs it); conda-forge may lag behind PyPI by days, which would break Binder."""
    pinned = [entry for entry in conda_packages() if re.fullmatch(r"[\w\-]+==?[\d.]+", entry)
              and split(entry)[0] not in CONDA_ONLY]
    assert not pinned, f"environment.yml pins {pinned} on conda-forge; move exact pins to its pip: section"
    assert "pip" in conda_packages(), "environment.yml installs a pip: section, so it must list pip itself"


def test_conda_and_pip_name_the_same_dependencies():
    """Oracle: pyproject's dependencies plus its dev extra equal environment.yml's packages (names and lower bounds),
    with conda's pytorch-cpu standing for pip's torch; python and pip are conda's own; exact pins sit in
    environment.yml's pip: section."""
    project = pyproject()["project"]
    pip_deps = dict(split(r) for r in project["dependencies"] + project["optional-dependencies"]["dev"])
    conda_deps = {}
    for entry in conda_packages() + pip_section():
        name, spec = split(entry.replace("=", "==", 1) if re.fullmatch(r"[\w\-]+=[\d.]+", entry) else entry)
        if name not in CONDA_ONLY:
            conda_deps[CONDA_TO_PIP.get(name, name)] = spec
    assert sorted(conda_deps) == sorted(pip_deps), (
        f"only in environment.yml: {sorted(set(conda_deps) - set(pip_deps))}; "
        f"only in pyproject.toml: {sorted(set(pip_deps) - set(conda_deps))}")
    differing = {name: (conda_deps[name], pip_deps[name]) for name in pip_deps if conda_deps[name] != pip_deps[name]}
    assert not differing, f"version bounds differ (conda, pip): {differing}"


def test_lab_extra_is_part_of_dev():
    """Oracle: `pip install -e .[dev]` (what make installs) includes everything `.[lab]` needs."""
    extras = pyproject()["project"]["optional-dependencies"]
    assert set(extras["lab"]) <= set(extras["dev"])


def test_python_versions_agree():
    """Oracle: environment.yml's python satisfies pyproject's requires-python (≥ 3.10)."""
    python = next(e for e in conda_env()["dependencies"] if isinstance(e, str) and e.startswith("python"))
    version = tuple(int(x) for x in re.search(r"(\d+)\.(\d+)", python).groups())
    floor = tuple(int(x) for x in re.search(r">=\s*(\d+)\.(\d+)", pyproject()["project"]["requires-python"]).groups())
    assert version >= floor == (3, 10)


def test_conda_uses_conda_forge_cpu_torch():
    """Oracle: issue 2 — conda-forge's CPU build of PyTorch; the pip route pins torch==2.13.0 in the Makefile."""
    env = conda_env()
    assert env["channels"] == ["conda-forge"]
    assert any(isinstance(e, str) and e.startswith("pytorch-cpu") for e in env["dependencies"])
    assert re.search(r"^TORCH \?= torch==2\.13\.0$", (ROOT / "Makefile").read_text(), re.M)


def git_mode(path: str) -> str:
    out = subprocess.run(["git", "ls-files", "-s", path], cwd=ROOT, capture_output=True, text=True).stdout
    return out.split()[0] if out else ""


def test_binder_conventions():
    """Oracle: repo2docker — environment.yml at the top level (no binder/ folder to shadow it), postBuild an
    executable script (mode 100755 in git) that installs this package into the conda environment without touching
    its dependencies."""
    assert (ROOT / "environment.yml").is_file() and not (ROOT / "binder").exists() and not (ROOT / ".binder").exists()
    post_build = (ROOT / "postBuild").read_text()
    assert post_build.startswith("#!/")
    assert git_mode("postBuild") in ("100755", ""), "postBuild must be committed executable (git update-index --chmod=+x)"
    assert (ROOT / "postBuild").stat().st_mode & 0o111
    install = [line for line in post_build.splitlines() if "pip install" in line]
    assert install and re.search(r"\s-e\s+\.\s*$|\s\.\s*$", install[0]), "postBuild must pip-install the package (.)"
    assert "--no-deps" in install[0], "postBuild must leave conda's packages alone (--no-deps)"


def test_binder_sessions_run_in_quick_mode():
    """Oracle: repo2docker runs each session's command as ``./start <command>``; run that way with DIFFEDU_QUICK
    unset, diffedu's banner (what every chapter's first cell prints) says quick mode, on any machine, GPU or not;
    an explicit DIFFEDU_QUICK=0 still wins. The script is committed executable."""
    start = ROOT / "start"
    assert start.read_text().startswith("#!/") and git_mode("start") in ("100755", "") and start.stat().st_mode & 0o111
    env = {k: v for k, v in os.environ.items() if k != "DIFFEDU_QUICK"}
    banner = [sys.executable, "-c", "import diffedu; print(diffedu.banner())"]
    quick = subprocess.run([str(start), *banner], cwd=ROOT, env=env, capture_output=True, text=True, timeout=120)
    assert quick.returncode == 0, quick.stderr
    assert quick.stdout.startswith("diffedu: quick mode on "), quick.stdout
    full = subprocess.run([str(start), *banner], cwd=ROOT, env={**env, "DIFFEDU_QUICK": "0"}, capture_output=True,
                          text=True, timeout=120)
    assert full.stdout.startswith("diffedu: full mode on "), full.stdout + full.stderr


def test_ci_runs_the_readme_test_command():
    """Oracle: issue 2 — .ci/run calls exactly `make test`, the README's test command, and is executable."""
    ci = (ROOT / ".ci" / "run").read_text()
    commands = [line.strip() for line in ci.splitlines() if line.strip() and not line.lstrip().startswith("#")]
    assert "make test" in commands and "set -euo pipefail" in commands
    assert git_mode(".ci/run") in ("100755", "") and (ROOT / ".ci" / "run").stat().st_mode & 0o111
    assert "make test" in (ROOT / "README.md").read_text()


def test_jupytext_pairs_ipynb_with_py_percent():
    """Oracle: GUIDE §2 — jupytext.toml pairs ipynb with py:percent."""
    config = tomllib.loads((ROOT / "jupytext.toml").read_text())
    assert config["formats"] == "ipynb,py:percent"


def test_makefile_targets():
    """Oracle: issue 2 — make lab, test, sync, execute, help exist; `make help` lists them."""
    out = subprocess.run(["make", "-s", "help"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    for target in ("lab", "test", "sync", "execute", "help"):
        assert re.search(rf"make {target}\b", out.stdout), f"make help does not list {target}"


def test_readme_front_matter():
    """Oracle: issue 2 / GUIDE §1 — the README puts the two commands up front, gives the conda route, a Binder badge
    opening chapters/ in JupyterLab, and a chapter table naming every chapter of the map."""
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    head = readme[: readme.find("\n## ", readme.find("make test"))]
    assert "make lab" in head and "make test" in head
    assert "conda env create -f environment.yml" in readme
    assert re.search(r"mybinder\.org/v2/gh/[\w.-]+/diffedu/\w+\?urlpath=lab(/|%2F)tree(/|%2F)chapters", readme)
    for name in ["00_welcome", "01_noising", "02_tweedie", "03_fokker_planck", "04_ddpm", "05_ddim",
                 "06_score_matching", "07_sdes", "08_flows", "09_edm", "10_samplers", "11_guidance", "12_mnist",
                 "13_few_step",
                 "14_discrete"]:
        assert f"`{name}`" in readme, f"the README's chapter table lacks {name}"
    assert "CC BY-SA 3.0" in readme or "Attribution-Share Alike 3.0" in readme, "MNIST's licence must be credited"
