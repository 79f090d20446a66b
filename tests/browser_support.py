"""What the real-browser tests share: Debian's Chromium through Playwright, local servers
(Voila, JupyterLab) started and stopped cleanly, screenshots, and checks of the page.

Playwright's own browser download is never used: Chromium comes from /usr/bin/chromium
(or ``$NNW_CHROMIUM``). Without Playwright or Chromium the browser tests skip, except
when ``CI=true``, where they fail. Screenshots and server logs go to tests/artifacts/.
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
ARTIFACTS = ROOT / "tests" / "artifacts"
CHROMIUM = os.environ.get("NNW_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
REDRAW_TIMEOUT_MS = 60_000


def unavailable(reason: str):
    """Skip, or fail when ``CI=true`` (CI must run the browser tests)."""
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def log_tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


def kernel_env(prefix: str | Path = sys.prefix) -> dict:
    """Environment for a server whose ``python3`` kernel must be ``prefix``'s interpreter,
    not a user-wide kernelspec that could shadow it."""
    return {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        "JUPYTER_PATH": str(Path(prefix) / "share" / "jupyter"),
    }


@contextlib.contextmanager
def serve(
    cmd: list[str],
    port: int,
    log_name: str,
    env: dict | None = None,
    timeout=90,
    cwd: Path = ROOT,
    log_dir: Path = ARTIFACTS,
):
    """Run a server command (in its own process group) until ``port`` listens; stop it,
    and anything it started (kernels), on exit. Its output goes to ``log_dir/log_name``."""
    log_dir.mkdir(parents=True, exist_ok=True)
    log_path = log_dir / log_name
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd,
            cwd=cwd,
            env=env or kernel_env(),
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    try:
        deadline = time.monotonic() + timeout
        while not port_open(port):
            if proc.poll() is not None:
                pytest.fail(f"{cmd[2:4]} exited with {proc.returncode}:\n{log_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"{cmd[2:4]} did not listen on port {port}:\n{log_tail(log_path)}")
            time.sleep(0.25)
        yield proc
    finally:
        stop(proc)


def stop(proc: subprocess.Popen) -> None:
    """Stop a server (it shuts down its kernels), then anything left in its group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    with contextlib.suppress(ProcessLookupError, PermissionError):
        os.killpg(proc.pid, signal.SIGTERM)  # kernels left behind, if any


def voila_command(notebook: str | Path, port: int, *extra: str, python=sys.executable):
    return [
        str(python),
        "-m",
        "voila",
        str(notebook),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--show_tracebacks=True",
        # as notebooks/voila.json: a closed page's beacon carries no XSRF token (voila
        # #1458), so without this its kernel lives on (and trains on) until the end
        '--Voila.tornado_settings={"disable_check_xsrf": True}',
        *extra,
    ]


def lab_command(port: int, root_dir, *extra: str, python=sys.executable) -> list[str]:
    """JupyterLab with no token, offline and quiet (no news, update check or PyPI
    extension listing), serving ``root_dir``."""
    return [
        str(python),
        "-m",
        "jupyter",
        "lab",
        "--no-browser",
        f"--port={port}",
        "--ServerApp.ip=127.0.0.1",
        # ServerApp.token is deprecated in jupyter_server 2 in favour of this:
        "--IdentityProvider.token=",
        "--ServerApp.password=",
        "--ServerApp.allow_root=True",
        f"--ServerApp.root_dir={root_dir}",
        "--LabApp.news_url=None",
        "--LabApp.check_for_updates_class=jupyterlab.handlers.announcements.NeverCheckForUpdate",
        "--LabApp.extension_manager=readonly",
        *extra,
    ]


def require_voila() -> None:
    try:
        import voila  # noqa: F401
    except ImportError:
        unavailable("voila is not installed (pip install -e '.[test]')")


# -- fixtures (imported by conftest.py) --------------------------------------
@pytest.fixture(scope="session")
def browser():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("playwright is not installed (pip install -e '.[test]')")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        unavailable(f"no Chromium at {CHROMIUM} (run `make browser-deps` or set NNW_CHROMIUM)")
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


def new_page(browser, width=1400, height=900, color_scheme="light"):
    """A page in a new context that records page errors, failed requests and console
    errors in ``page.problems``."""
    context = browser.new_context(
        viewport={"width": width, "height": height}, color_scheme=color_scheme
    )
    page = context.new_page()
    page.set_default_timeout(REDRAW_TIMEOUT_MS)
    page.problems = []
    page.on("pageerror", lambda err: page.problems.append(f"page error: {err}"))
    page.on(
        "requestfailed",
        lambda req: page.problems.append(f"request failed: {req.url} {req.failure}"),
    )
    page.on(
        "console",
        lambda msg: (
            page.problems.append(f"console {msg.type}: {msg.text}") if msg.type == "error" else None
        ),
    )
    return page


@pytest.fixture
def page(browser, request):
    page = new_page(browser)
    yield page
    save_console(page, request.node.name)
    page.context.close()


def save_console(page, name: str) -> None:
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{name}-console.txt").write_text("\n".join(page.problems) + "\n")


# -- looking at the page ------------------------------------------------------
def screenshot(page, name: str) -> Path:
    """A full-page screenshot. Voila and JupyterLab scroll inside an element, not the
    document, so the viewport is stretched to the content's height first."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    height = page.evaluate(
        """() => Math.max(document.documentElement.scrollHeight,
               ...Array.from(document.querySelectorAll('body *'))
                   .filter(e => ['auto', 'scroll'].includes(getComputedStyle(e).overflowY))
                   .map(e => e.scrollHeight + e.getBoundingClientRect().top))"""
    )
    size = page.viewport_size
    page.set_viewport_size({"width": size["width"], "height": min(int(height) + 20, 8000)})
    page.wait_for_timeout(500)  # let bqplot re-layout after the resize
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    page.set_viewport_size(size)
    return path


def href(page, selector: str) -> str:
    return page.eval_on_selector(
        selector, "e => e.getAttribute('href') || e.getAttribute('xlink:href') || ''"
    )


def wait_href_change(page, selector: str, old: str) -> str:
    page.wait_for_function(
        """([sel, old]) => {
            const e = document.querySelector(sel);
            const h = e && (e.getAttribute('href') || e.getAttribute('xlink:href'));
            return h && h !== old;
        }""",
        arg=[selector, old],
    )
    return href(page, selector)


def assert_no_errors_shown(page) -> None:
    text = page.inner_text("body")
    for bad in ("Error displaying widget", "Traceback", "There was an error when executing cell"):
        assert bad not in text, f"{bad!r} is on the page:\n{text[:3000]}"
    stderr = page.locator('[data-mime-type="application/vnd.jupyter.stderr"]')
    assert stderr.count() == 0, "stderr shown on the page:\n" + "\n".join(stderr.all_inner_texts())


def page_exceptions(page) -> list[str]:
    return [p for p in page.problems if p.startswith("page error")]


# WCAG contrast of each visible text against the first opaque background behind it.
LOW_CONTRAST_JS = """([root, minimum]) => {
  const rgb = s => (s.match(/[\\d.]+/g) || []).map(Number);
  const lum = ([r, g, b]) => {
    const f = c => (c /= 255) <= 0.03928 ? c / 12.92 : ((c + 0.055) / 1.055) ** 2.4;
    return 0.2126 * f(r) + 0.7152 * f(g) + 0.0722 * f(b);
  };
  const background = e => {
    for (; e; e = e.parentElement) {
      const c = rgb(getComputedStyle(e).backgroundColor);
      if (c.length >= 3 && (c.length < 4 || c[3] > 0.5)) return c;
    }
    return [255, 255, 255];
  };
  const out = [];
  for (const e of document.querySelectorAll(root + ' *')) {
    const own = Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim());
    const box = e.getBoundingClientRect();
    const style = getComputedStyle(e);
    if (!own || box.width === 0 || style.visibility === 'hidden') continue;
    const isSvg = e instanceof SVGElement;
    const fg = rgb(isSvg && style.fill !== 'none' ? style.fill : style.color);
    const opacity = Number(style.opacity);
    const [a, b] = [lum(fg), lum(background(e))];
    const ratio = (Math.max(a, b) + 0.05) / (Math.min(a, b) + 0.05);
    const effective = 1 + (ratio - 1) * opacity;
    if (effective < minimum)
      out.push(`${e.tagName} "${e.textContent.trim().slice(0, 40)}" ${effective.toFixed(2)}`);
  }
  return out;
}"""


def low_contrast_texts(page, root: str = ".nnw-explorer", minimum: float = 3.0) -> list[str]:
    """Texts under ``root`` whose contrast with their background is below ``minimum``."""
    return page.evaluate(LOW_CONTRAST_JS, [root, minimum])
