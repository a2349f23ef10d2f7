"""Driving JupyterLab and static pages in headless Chromium for tests/test_browser.py (issues 9, 17 and 18).

Playwright drives Debian's chromium through ``executable_path`` (no browser download). JupyterLab runs on a free
localhost port with a token, its app exposed to page scripts (``window.jupyterapp``), with settings of its own: every
cell rendered (no windowing, so that off-screen outputs are in the page), autosave off (the notebook file stays as it
is), no news toast. Kernels get process groups of their own; ``stop`` ends the server and then the kernels it
started, by their process ids.
"""
from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--no-first-run",
                 "--disable-background-networking", "--disable-component-update"]
LAB_SETTINGS = {
    "notebook-extension/tracker": {"windowingMode": "none"},  # every cell in the page, not only those in view
    "apputils-extension/notification": {"fetchNews": "false", "checkForUpdates": False},
    "docmanager-extension/plugin": {"autosave": False},
}
# how ipywidgets print a widget that no front end draws: VBox(children=(…, interactive(children=…, IntSlider(…
WIDGET_REPR = re.compile(r"(interactive|\w*(Box|Slider|Dropdown|Select|Output|Buttons?|Text|Tab|Accordion|Label|HTML"
                         r"|Checkbox|Progress|Image))\((\w+=|\))")


def browser(chromium: str | None = None):
    """Playwright's sync API, or skip (fail under CI=true, where .ci/run installs both) naming what is missing."""
    missing = []
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        sync_playwright = None
        missing.append("Playwright (.venv/bin/pip install playwright)")
    if not Path(chromium or CHROMIUM).exists():
        missing.append("Chromium (apt-get install -y chromium)")
    if missing:
        reason = "the browser test needs " + " and ".join(missing)
        if os.environ.get("CI") == "true":
            pytest.fail(reason + "; .ci/run installs both, so CI must have them")
        pytest.skip(reason)
    return sync_playwright


def launch(p, chromium: str | None = None):
    return p.chromium.launch(executable_path=chromium or CHROMIUM, args=CHROMIUM_ARGS)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def wait_until(check, timeout: float, what: str, every: float = 0.25):
    """``check()``'s first truthy value; an AssertionError naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        assert time.monotonic() < deadline, f"timed out after {timeout:.0f} s waiting for {what}"
        time.sleep(every)


class Lab:
    """A JupyterLab server on ``root_dir`` (its settings, workspaces, runtime files and log under ``tmp``); use as a
    context manager. ``url(name)`` opens a notebook."""

    def __init__(self, root_dir: Path, tmp: Path):
        self.root_dir, self.tmp = root_dir, tmp
        self.port, self.token = free_port(), hashlib.sha1(os.urandom(16)).hexdigest()
        self.process: subprocess.Popen | None = None

    def url(self, name: str) -> str:
        return f"http://127.0.0.1:{self.port}/lab/tree/{name}?token={self.token}"

    def __enter__(self) -> "Lab":
        for name, values in LAB_SETTINGS.items():
            path = self.tmp / "settings" / "@jupyterlab" / f"{name}.jupyterlab-settings"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(json.dumps(values))
        env = {**os.environ, "DIFFEDU_QUICK": "1", "OMP_NUM_THREADS": os.environ.get("OMP_NUM_THREADS", "1"),
               "JUPYTER_RUNTIME_DIR": str(self.tmp / "runtime"),
               "PYTHONPATH": os.pathsep.join(filter(None, [str(ROOT), os.environ.get("PYTHONPATH")]))}
        cmd = [str(Path(sys.executable).parent / "jupyter"), "lab", "--no-browser", "--ServerApp.ip=127.0.0.1",
               f"--ServerApp.port={self.port}", "--ServerApp.port_retries=0",
               f"--ServerApp.root_dir={self.root_dir}", f"--IdentityProvider.token={self.token}",
               "--LabApp.news_url=", "--LabApp.expose_app_in_browser=True",
               f"--LabApp.user_settings_dir={self.tmp / 'settings'}",
               f"--LabApp.workspaces_dir={self.tmp / 'workspaces'}"]
        if os.geteuid() == 0:
            cmd.append("--allow-root")
        log = self.tmp / "lab.log"
        with open(log, "w") as out:
            self.process = subprocess.Popen(cmd, env=env, stdout=out, stderr=subprocess.STDOUT,
                                            start_new_session=True)

        def listening():
            assert self.process.poll() is None, log.read_text()[-3000:]
            with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", self.port), timeout=1):
                return True
        try:
            wait_until(listening, 180, "JupyterLab to start", every=0.5)
        except BaseException:
            self.__exit__()
            raise
        return self

    def __exit__(self, *exc) -> None:
        if self.process is not None:
            stop(self.process)


def _started(pid: int, parent: int | None = None):
    """A process's start time from /proc (None when it is gone, or when its parent is not ``parent``)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
        return fields[19] if parent is None or int(fields[1]) == parent else None
    except (OSError, IndexError, ValueError):
        return None


def stop(process: subprocess.Popen) -> None:
    """End the server's process group (it shuts its kernels down on SIGTERM), then any kernel it started that is
    still there (each in a process group of its own), by process id."""
    kids = {int(p.name): t for p in Path("/proc").glob("[0-9]*") if (t := _started(int(p.name), process.pid))}
    with contextlib.suppress(ProcessLookupError, subprocess.TimeoutExpired):
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(20)
    for pgid in [process.pid] + [pid for pid, t in kids.items() if _started(pid) == t]:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(pgid, signal.SIGKILL)
    process.wait()
