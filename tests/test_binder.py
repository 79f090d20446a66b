"""What Binder would build, built here: binder/requirements.txt installed into a fresh
virtual environment, binder/postBuild run from the repository root with that
environment first on PATH (as repo2docker does), then that environment's JupyterLab
started as Binder starts it: the README's lab link gets a lab page with the widget
extensions, and its Voila link (``voila/render/notebooks/dashboard.ipynb``, Voila as a
server extension of that environment) draws the dashboard in Chromium.

mybinder.org itself cannot be reached from the test machines, so this is as close as it
gets. It takes a couple of minutes (mostly installing TensorFlow; pip's cache makes the
next run quicker): deselect it with ``-m 'not binder'``. See browser_support.py for how
Chromium is found (and when the browser part skips).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

import pytest

from tests.browser_support import (
    ARTIFACTS,
    ROOT,
    assert_no_errors_shown,
    free_port,
    lab_command,
    log_tail,
    new_page,
    page_exceptions,
    save_console,
    screenshot,
    serve,
)

REQUIREMENTS = ROOT / "binder" / "requirements.txt"
POST_BUILD = ROOT / "binder" / "postBuild"
DASHBOARD = "notebooks/dashboard.ipynb"
PAGE_TIMEOUT_MS = 300_000
INSTALL_TIMEOUT_S = 1200


def _canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def binder_requirements() -> dict[str, str]:
    from packaging.requirements import Requirement

    reqs = {}
    for line in REQUIREMENTS.read_text().splitlines():
        line = line.split("#", 1)[0].strip()
        if line:
            req = Requirement(line)
            reqs[_canonical(req.name)] = str(req.specifier)
    return reqs


def pyproject_requirements() -> tuple[dict[str, str], dict[str, str]]:
    """(what the demo needs: dependencies + [cpu] + [demo], every other extra's pins)."""
    tomllib = pytest.importorskip("tomllib")
    from packaging.requirements import Requirement

    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    extras = project.get("optional-dependencies", {})

    def pins(reqs):
        return {
            _canonical(r.name): str(r.specifier)
            for r in map(Requirement, reqs)
            if _canonical(r.name) != _canonical(project["name"])
        }

    demo = pins(project["dependencies"] + extras.get("cpu", []) + extras.get("demo", []))
    others = pins([r for name, reqs in extras.items() for r in reqs])
    return demo, others


def test_binder_requirements_agree_with_pyproject():
    """Everything the demo needs is in binder/requirements.txt with the same pins, and
    anything more there (JupyterLab, for Binder's lab UI) is pinned as in an extra."""
    binder = binder_requirements()
    demo, others = pyproject_requirements()
    missing = {n: s for n, s in demo.items() if n not in binder}
    assert not missing, f"binder/requirements.txt lacks {missing}"
    differ = {n: (binder[n], s) for n, s in demo.items() if binder[n] != s}
    assert not differ, f"pins differ (binder, pyproject): {differ}"
    unknown = {n: s for n, s in binder.items() if n not in demo and others.get(n) != s}
    assert not unknown, f"binder/requirements.txt pins what pyproject does not: {unknown}"


def test_post_build_installs_the_package_without_deps():
    text = POST_BUILD.read_text()
    assert text.startswith("#!"), "postBuild needs a shebang (repo2docker executes it)"
    assert os.access(POST_BUILD, os.X_OK), "postBuild must be executable"
    assert re.search(r"^set -e", text, re.M), "postBuild must stop at the first error"
    assert re.search(r"pip install .*--no-deps", text), "requirements.txt has the deps"


# -- the environment Binder would build ---------------------------------------------------
def run_logged(cmd, log, **kwargs) -> float:
    """Run ``cmd`` with its output appended to ``log``; fail with the log's tail."""
    start = time.monotonic()
    with open(log, "ab") as out:
        out.write(f"\n$ {' '.join(map(str, cmd))}\n".encode())
        out.flush()
        result = subprocess.run(
            [str(c) for c in cmd],
            stdout=out,
            stderr=subprocess.STDOUT,
            timeout=INSTALL_TIMEOUT_S,
            **kwargs,
        )
    if result.returncode:
        pytest.fail(f"{cmd[:4]} exited with {result.returncode}:\n{log_tail(log)}")
    return time.monotonic() - start


@pytest.fixture(scope="module")
def binder_env(browser):  # browser first: no Chromium, no 2-minute build before the skip
    """A fresh venv built from binder/ as repo2docker would; removed afterwards (2 GB)."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    log = ARTIFACTS / "binder-build.log"
    log.write_text("")
    tmp = Path(tempfile.mkdtemp(prefix="nnw-binder-"))
    venv = tmp / "venv"
    bin_dir = venv / "bin"
    env = {
        **os.environ,
        "PATH": f"{bin_dir}{os.pathsep}{os.environ.get('PATH', '')}",
        "VIRTUAL_ENV": str(venv),
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),  # no ~/.jupyter config
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
        "JUPYTER_PATH": str(venv / "share" / "jupyter"),  # its python3 kernel, its extensions
        "TF_CPP_MIN_LOG_LEVEL": "3",
    }
    env.pop("PYTHONPATH", None)
    env.pop("PYTHONHOME", None)
    timings = {}
    try:
        timings["venv"] = run_logged([sys.executable, "-m", "venv", venv], log)
        # --no-compile: no .pyc for TensorFlow's thousands of modules up front (about
        # 25 s); the ones imported are compiled on first import, as usual.
        timings["requirements"] = run_logged(
            [bin_dir / "python", "-m", "pip", "install", "--no-compile", "-r", REQUIREMENTS],
            log,
            cwd=ROOT,
            env=env,
        )
        # repo2docker runs ./binder/postBuild from the repository root.
        timings["postBuild"] = run_logged(["./binder/postBuild"], log, cwd=ROOT, env=env)
        yield venv, env, timings
    finally:
        remove_in_background(tmp)


def remove_in_background(folder: Path) -> None:
    """Remove ``folder`` (2 GB, about 10 s of deleting) while the next tests run."""
    try:  # (the shell leaves rm running on its own and returns at once)
        subprocess.run(
            ["sh", "-c", 'rm -rf -- "$1" >/dev/null 2>&1 &', "sh", str(folder)], check=True
        )
    except (OSError, subprocess.CalledProcessError):
        shutil.rmtree(folder, ignore_errors=True)


def kernel_executables(server_pid: int) -> list[str]:
    """The interpreters of the ipykernel processes a server started (kernels run in
    sessions of their own, so they are found by parent)."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            stat = (proc / "stat").read_text()
            cmdline = (proc / "cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == server_pid and any(b"ipykernel" in part for part in cmdline):
            found.append(cmdline[0].decode())
    return found


def binder_server_command(python: Path, port: int) -> list[str]:
    """JupyterLab from the venv, as Binder starts it, serving the repository; Voila is
    its server extension there (the README's links open ``lab/tree/...`` and
    ``voila/render/...``)."""
    return lab_command(port, ROOT, "--VoilaConfiguration.show_tracebacks=True", python=python)


def lab_extensions(url: str) -> set[str]:
    """The prebuilt JupyterLab extensions a lab page would load."""
    with urllib.request.urlopen(url, timeout=60) as response:
        html = response.read().decode()
    found = re.search(r'<script id="jupyter-config-data"[^>]*>(.*?)</script>', html, re.S)
    assert found, f"no JupyterLab page at {url}"
    return {e["name"] for e in json.loads(found.group(1)).get("federated_extensions", [])}


@pytest.mark.binder
def test_dashboard_from_binder_environment(browser, binder_env):
    venv, env, timings = binder_env
    python = venv / "bin" / "python"

    # The package is installed into the venv (not imported from the work tree).
    where = subprocess.run(
        [str(python), "-c", "import nnwidgets; print(nnwidgets.__file__)"],
        capture_output=True,
        text=True,
        cwd=venv,
        env=env,
        check=True,
    ).stdout.strip()
    assert where.startswith(str(venv)), where

    port = free_port()
    base = f"http://127.0.0.1:{port}"
    start = time.monotonic()
    page = new_page(browser)
    try:
        with serve(
            binder_server_command(python, port), port, "binder-server.log", env=env
        ) as server:
            timings["server listening"] = time.monotonic() - start
            # The JupyterLab link: the lab page is served with the widget extensions.
            extensions = lab_extensions(f"{base}/lab/tree/notebooks/quickstart.ipynb")
            assert {"@jupyter-widgets/jupyterlab-manager", "bqplot"} <= extensions, extensions

            # The dashboard link: Voila renders the notebook and the widgets draw.
            page.goto(f"{base}/voila/render/{DASHBOARD}", timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(".nnw-explorer", timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(".nnw-explorer svg.svg-figure", timeout=PAGE_TIMEOUT_MS)
            page.wait_for_selector(".nnw-weights svg image", state="attached")
            page.wait_for_selector(".nnw-activations svg image", state="attached")
            timings["dashboard drawn"] = time.monotonic() - start
            kernels = kernel_executables(server.pid)
            page.wait_for_timeout(1000)
            assert_no_errors_shown(page)
            assert not page_exceptions(page), page_exceptions(page)
            n_figures = page.locator(".nnw-explorer svg.svg-figure").count()
            assert n_figures >= 5, f"only {n_figures} bqplot figures rendered"
            screenshot(page, "binder-voila")
        assert kernels and all(k.startswith(str(venv)) for k in kernels), (
            f"the kernel is not the binder venv's python: {kernels}"
        )
    finally:
        save_console(page, "test_dashboard_from_binder_environment")
        page.context.close()
        report = ", ".join(f"{k} {v:.1f} s" for k, v in timings.items())
        (ARTIFACTS / "binder-timings.txt").write_text(report + "\n")
        print(f"binder: {report}")
