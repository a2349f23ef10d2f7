"""`make lab` serves the course and leaves the clone clean.

From a fresh `git clone`, `make work` (what `make lab` runs before starting the server: the jupytext sync, then the
working folder) and JupyterLab started with the Makefile's own flags serve one notebook per chapter from the
git-ignored work/student/, to a client holding the token only; a chapter run through a kernel and saved back through
the server, as JupyterLab's autosave does, leaves `git status` empty.

Oracles: the running server's HTTP answers (the Jupyter Server REST API: /api/contents, /lab/api/settings), with the
token the server itself wrote to its runtime file (jpserver-<pid>.json), exactly as a browser gets it from the printed
URL; `git status --porcelain` of the clone (empty = nothing the student did shows up in git); the bytes of a copy
before and after a second `make work` (a student's work is never overwritten).
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

import nbformat
import pytest

from tools.workdir import fill, working_copy

ROOT = Path(__file__).resolve().parent.parent
VENV = Path(sys.prefix)  # reuse the running venv: the clone installs nothing
MAKE = ["make", f"VENV={VENV}", "-o", f"{VENV}/.diffedu-installed"]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def request(url: str, method: str = "GET", body: dict | None = None) -> tuple[int, bytes]:
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method=method, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=60) as response:
            return response.status, response.read()
    except urllib.error.HTTPError as error:
        return error.code, error.read()


def get(url: str) -> tuple[int, bytes]:
    return request(url)


def run(cmd: list[str], cwd: Path, timeout: float = 300) -> str:
    out = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, timeout=timeout)
    assert out.returncode == 0, f"{' '.join(cmd)} failed:\n{out.stdout[-2000:]}\n{out.stderr[-2000:]}"
    return out.stdout


def start_lab(clone: Path, flags: list[str], tmp_path: Path) -> tuple[subprocess.Popen, dict, str]:
    """`jupyter lab $(LAB_FLAGS)` in ``clone`` on a free port; returns (process, runtime info, base URL)."""
    port = free_port()
    env = {**os.environ, "JUPYTER_RUNTIME_DIR": str(tmp_path / "runtime"), "DIFFEDU_QUICK": "1"}
    env.pop("JUPYTER_TOKEN", None)
    log = open(tmp_path / "lab.log", "w")
    server = subprocess.Popen([str(VENV / "bin" / "jupyter"), "lab", *flags, "--no-browser",
                               f"--ServerApp.port={port}", "--ServerApp.port_retries=0"], cwd=clone, env=env,
                              stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    info, deadline = None, time.monotonic() + 120
    while info is None and time.monotonic() < deadline:
        assert server.poll() is None, (tmp_path / "lab.log").read_text()[-3000:]
        for path in (tmp_path / "runtime").glob("jpserver-*.json"):
            data = json.loads(path.read_text() or "{}")
            info = data if data.get("port") == port else None
        time.sleep(0.5)
    assert info is not None, "JupyterLab did not start within 120 s:\n" + (tmp_path / "lab.log").read_text()[-3000:]
    base, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 60
    while True:  # the runtime file appears just before the server accepts requests
        try:
            get(f"{base}/api/status?token={info['token']}")
            return server, info, base
        except (urllib.error.URLError, ConnectionError):
            assert time.monotonic() < deadline, "the server never answered"
            time.sleep(0.5)


def stop(server: subprocess.Popen) -> None:
    if server.poll() is None:  # stop our own process group (start_new_session above)
        os.killpg(server.pid, signal.SIGTERM)
        try:
            server.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(server.pid, signal.SIGKILL)
            server.wait()


def run_like_jupyterlab(base: str, token: str, name: str, clone: Path) -> None:
    """Read ``name`` from the server, run every cell in a kernel started in the working folder (quick mode, the
    clone's diffedu), and save it back through /api/contents as JupyterLab's autosave does. The student version's
    exercise cells raise NotImplementedError until the student writes the answer; like a student running cell after
    cell, the run goes on past them."""
    from nbclient import NotebookClient

    status, body = get(f"{base}/api/contents/{name}?token={token}")
    assert status == 200, body[:300]
    nb = nbformat.from_dict(json.loads(body)["content"])
    env = {**os.environ, "DIFFEDU_QUICK": "1", "PYTHONPATH": str(clone)}
    NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                   resources={"metadata": {"path": str(clone / "work" / "student")}}).execute(env=env)
    ran = [c for c in nb.cells if c.cell_type == "code" and c.execution_count is not None]
    assert len(ran) == sum(c.cell_type == "code" for c in nb.cells), "not every cell ran"
    status, body = request(f"{base}/api/contents/{name}?token={token}", "PUT",
                           {"type": "notebook", "format": "json", "content": nb})
    assert status == 200, body[:300]


@pytest.mark.slow
def test_make_lab_from_a_clean_clone_serves_copies_and_leaves_git_clean(tmp_path):
    """A fresh clone, `make work` (sync + working folder), JupyterLab with `make -s lab-flags`: the authenticated
    listing is exactly one notebook per chapter, the anonymous one is refused, the news toast is off, and after
    chapter 00 is run and saved through the server `git status --porcelain` is empty; a second `make work` keeps the
    saved copy byte for byte."""
    clone = tmp_path / "clone"
    run(["git", "clone", "--quiet", str(ROOT), str(clone)], tmp_path)
    print(run([*MAKE, "work"], clone))
    assert run(["git", "status", "--porcelain"], clone) == "", "make work (the sync) changed committed files"
    flags = run([*MAKE, "-s", "lab-flags"], clone).split()
    assert "--ServerApp.ip=127.0.0.1" in flags and not any("token" in f.lower() for f in flags)
    server, info, base = start_lab(clone, flags, tmp_path)
    token = info["token"]
    try:
        assert token, "token auth must stay on"
        assert Path(info["root_dir"]).resolve() == (clone / "work" / "student").resolve()
        status, body = get(f"{base}/api/contents?token={token}")
        assert status == 200
        listed = sorted(item["name"] for item in json.loads(body)["content"])
        chapters = sorted(p.name for p in (clone / "chapters").glob("[0-9][0-9]_*.ipynb"))
        assert listed == chapters, f"the file browser should show one notebook per chapter, shows {listed}"
        assert get(f"{base}/api/contents")[0] in (401, 403), "an anonymous request was answered"
        status, body = get(f"{base}/lab?token={token}")
        assert status == 200 and b"JupyterLab" in body
        status, body = get(f"{base}/lab/api/settings/@jupyterlab/apputils-extension:notification?token={token}")
        assert status == 200 and json.loads(body)["schema"]["properties"]["fetchNews"]["default"] == "false", (
            "jupyterlab-settings/overrides.json did not reach JupyterLab: the news toast would show")
        run_like_jupyterlab(base, token, chapters[0], clone)
        saved = (clone / "work" / "student" / chapters[0]).read_bytes()
        status, body = get(f"{base}/api/contents?token={token}")
        assert sorted(item["name"] for item in json.loads(body)["content"]) == chapters, "saving wrote a pair"
    finally:
        stop(server)
    assert run(["git", "status", "--porcelain", "--untracked-files=all"], clone) == ""
    run([*MAKE, "work"], clone)
    assert (clone / "work" / "student" / chapters[0]).read_bytes() == saved, "make work overwrote a student's copy"


def tiny_chapter():
    """A two-cell chapter with one exercise (a solution block and its check), paired by jupytext."""
    nb = nbformat.v4.new_notebook(metadata={"jupytext": {"formats": "ipynb,py:percent"}})
    nb.cells = [nbformat.v4.new_markdown_cell("# 99 · Tiny\n### Exercise 1 · double"),
                nbformat.v4.new_code_cell("def double(x):\n    # BEGIN SOLUTION\n    return 2 * x\n    # END SOLUTION"),
                nbformat.v4.new_code_cell("check_double(double)")]
    return nb


def test_working_copies_are_unpaired_and_never_overwritten(tmp_path):
    """Oracle: the copies' metadata and sources — the student copy holds the stub, not the answer, the instructor copy
    the answer; neither is a jupytext pair (formats = ipynb alone); `fill` writes only missing copies (bytes of an
    edited copy unchanged)."""
    nb = tiny_chapter()
    student, instructor = working_copy(nb, "student"), working_copy(nb, "instructor")
    assert "return 2 * x" not in student.cells[1].source and "NotImplementedError" in student.cells[1].source
    assert "return 2 * x" in instructor.cells[1].source
    assert student.metadata.jupytext["formats"] == instructor.metadata.jupytext["formats"] == "ipynb"
    assert nb.metadata.jupytext["formats"] == "ipynb,py:percent", "working_copy must not change the chapter"
    with pytest.raises(ValueError, match="edition"):
        working_copy(nb, "teacher")
    chapter = tmp_path / "chapters" / "99_tiny.ipynb"
    chapter.parent.mkdir()
    nbformat.write(nb, chapter)
    written, kept = fill(tmp_path / "work", "student", [chapter])
    assert [p.name for p in written] == ["99_tiny.ipynb"] and kept == []
    written[0].write_text(written[0].read_text().replace("YOUR CODE HERE", "my own attempt"))
    edited = written[0].read_bytes()
    assert fill(tmp_path / "work", "student", [chapter]) == ([], written)
    assert written[0].read_bytes() == edited
