"""`make lab` serves the course: JupyterLab started with the Makefile's own flags answers on localhost, lists the
chapters to a client holding the token, and refuses one without it.

Oracle: the running server's HTTP answers (the Jupyter Server REST API, /api/contents), with the token the server
itself wrote to its runtime file (jpserver-<pid>.json), exactly as a browser would get it from the printed URL.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def get(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


@pytest.mark.slow
def test_make_lab_serves_the_chapters(tmp_path):
    """Start `jupyter lab $(LAB_FLAGS)` (the flags `make lab` uses, read from the Makefile) on a free port; the
    authenticated /api/contents lists every chapter notebook, the anonymous request is refused (401/403)."""
    flags = subprocess.run(["make", "-s", "lab-flags"], cwd=ROOT, capture_output=True, text=True, timeout=60)
    assert flags.returncode == 0, flags.stderr
    flags = flags.stdout.split()
    assert "--ServerApp.ip=127.0.0.1" in flags and not any("token" in f.lower() for f in flags)
    port = free_port()
    jupyter = Path(sys.executable).parent / "jupyter"
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime")}
    env.pop("JUPYTER_TOKEN", None)
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen([str(jupyter), "lab", *flags, "--no-browser", f"--ServerApp.port={port}",
                               "--ServerApp.port_retries=0"], cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
                              start_new_session=True)
    try:
        info, deadline = None, time.monotonic() + 120
        while info is None and time.monotonic() < deadline:
            assert server.poll() is None, (tmp_path / "lab.log").read_text()[-3000:]
            for path in (tmp_path / "runtime").glob("jpserver-*.json"):
                data = json.loads(path.read_text() or "{}")
                if data.get("port") == port:
                    info = data
            time.sleep(0.5)
        assert info is not None, "JupyterLab did not start within 120 s:\n" + (tmp_path / "lab.log").read_text()[-3000:]
        assert info["token"], "token auth must stay on"
        assert Path(info["root_dir"]).resolve() == (ROOT / "chapters").resolve()
        base = f"http://127.0.0.1:{port}"
        deadline = time.monotonic() + 60
        while True:  # the runtime file appears just before the server accepts requests
            try:
                status, body = get(f"{base}/api/contents?token={info['token']}")
                break
            except (urllib.error.URLError, ConnectionError):
                assert time.monotonic() < deadline, "the server never answered"
                time.sleep(0.5)
        assert status == 200
        listed = {item["name"] for item in json.loads(body)["content"]}
        expected = {p.name for p in (ROOT / "chapters").glob("[0-9][0-9]_*.ipynb")}
        assert expected <= listed, f"missing from the listing: {sorted(expected - listed)}"
        status, _ = get(f"{base}/api/contents")
        assert status in (401, 403), f"an anonymous request got {status}"
        status, body = get(f"{base}/lab?token={info['token']}")
        assert status == 200 and b"JupyterLab" in body
    finally:
        if server.poll() is None:  # stop our own process group (start_new_session above)
            os.killpg(server.pid, signal.SIGTERM)
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(server.pid, signal.SIGKILL)
                server.wait()
        log.close()
