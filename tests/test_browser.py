"""The Voila dashboard in a real browser: widgets render, and clicks redraw the views.

Needs Playwright (the Python package) and a Chromium at /usr/bin/chromium (or
``$NNW_CHROMIUM``); Playwright's own browser download is never used. Without them the
tests skip, except when ``CI=true``, where they fail.

Screenshots and the Voila log go to tests/artifacts/.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DASHBOARD = ROOT / "notebooks" / "dashboard.ipynb"
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
# The page arrives once the notebook has run (imports, model, 3 epochs of training).
PAGE_TIMEOUT_MS = 180_000
REDRAW_TIMEOUT_MS = 60_000


def _unavailable(reason: str):
    if os.environ.get("CI") == "true":
        pytest.fail(f"{reason} (CI=true, so this is a failure, not a skip)")
    pytest.skip(reason)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _port_open(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(0.5)
        return s.connect_ex(("127.0.0.1", port)) == 0


def _log_tail(path: Path, n: int = 40) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-n:])
    except OSError:
        return "(no log)"


@pytest.fixture(scope="session")
def sync_playwright():
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("playwright is not installed (pip install -e '.[test]')")
    if not (os.path.isfile(CHROMIUM) and os.access(CHROMIUM, os.X_OK)):
        _unavailable(f"no Chromium at {CHROMIUM} (run `make browser-deps` or set NNW_CHROMIUM)")
    return sync_playwright


@pytest.fixture(scope="session")
def browser(sync_playwright):
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield browser
        browser.close()


@pytest.fixture(scope="session")
def voila_url():
    """Serve notebooks/dashboard.ipynb with Voila on a free local port."""
    try:
        import voila  # noqa: F401
    except ImportError:
        _unavailable("voila is not installed (pip install -e '.[test]')")
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    log_path = ARTIFACTS / "voila.log"
    env = {
        **os.environ,
        "TF_CPP_MIN_LOG_LEVEL": "3",
        # the kernel must be this interpreter's, not a user-wide "python3" kernelspec
        "JUPYTER_PATH": str(Path(sys.prefix) / "share" / "jupyter"),
    }
    cmd = [
        sys.executable,
        "-m",
        "voila",
        str(DASHBOARD.relative_to(ROOT)),
        "--no-browser",
        f"--port={port}",
        "--Voila.ip=127.0.0.1",
        "--show_tracebacks=True",
    ]
    with open(log_path, "wb") as log:
        proc = subprocess.Popen(
            cmd, cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
    try:
        deadline = time.monotonic() + 60
        while not _port_open(port):
            if proc.poll() is not None:
                pytest.fail(f"voila exited with {proc.returncode}:\n{_log_tail(log_path)}")
            if time.monotonic() > deadline:
                pytest.fail(f"voila did not listen on port {port}:\n{_log_tail(log_path)}")
            time.sleep(0.25)
        yield f"http://127.0.0.1:{port}/"
    finally:
        _stop(proc)


def _stop(proc: subprocess.Popen) -> None:
    """Stop Voila (it shuts down its kernels), then anything left in its process group."""
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    try:
        os.killpg(proc.pid, signal.SIGTERM)  # kernels left behind, if any
    except (ProcessLookupError, PermissionError):
        pass


@pytest.fixture
def page(browser, request):
    context = browser.new_context(viewport={"width": 1400, "height": 900})
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
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    (ARTIFACTS / f"{request.node.name}-console.txt").write_text("\n".join(page.problems) + "\n")
    context.close()


def screenshot(page, name: str) -> Path:
    """A full-page screenshot. Voila scrolls inside #rendered_cells, not the document,
    so the viewport is stretched to the content's height first."""
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


WEIGHTS_IMAGE = ".nnw-weights svg image"
ACTIVATIONS_IMAGE = ".nnw-activations svg image"


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


def choose_layer(page, name: str) -> None:
    """Pick a layer in the layer picker by name (option labels read ``name · type ...``)."""
    select = page.locator(".nnw-layer-picker select")
    values = select.evaluate("s => Array.from(s.options).map(o => o.value)")
    matches = [v for v in values if v.split(" ")[0] == name]
    assert matches, f"no layer {name!r} among {values}"
    select.select_option(value=matches[0])


def open_dashboard(page, url: str) -> float:
    """Load the dashboard and wait until the notebook (training included) has run and the
    views are drawn; return how long that took in seconds."""
    start = time.monotonic()
    page.goto(url, timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".nnw-explorer", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".nnw-explorer svg.svg-figure", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(WEIGHTS_IMAGE, state="attached")
    page.wait_for_selector(ACTIVATIONS_IMAGE, state="attached")
    # Training ran in the notebook: the plot says it is done.
    page.wait_for_function(
        "() => (document.querySelector('.nnw-training')?.innerText || '').includes('done')",
        timeout=PAGE_TIMEOUT_MS,
    )
    return time.monotonic() - start


def page_exceptions(page) -> list[str]:
    return [p for p in page.problems if p.startswith("page error")]


def test_dashboard_renders_and_reacts(page, voila_url):
    loaded = open_dashboard(page, voila_url)
    assert_no_errors_shown(page)

    n_figures = page.locator(".nnw-explorer svg.svg-figure").count()
    assert n_figures >= 5, f"only {n_figures} bqplot figures rendered"
    training_figures = page.locator(".nnw-training svg.svg-figure").count()
    assert training_figures >= 2, "expected a loss and an accuracy plot"
    drawn = page.eval_on_selector_all(
        ".nnw-training path.line",
        "ps => ps.map(p => (p.getAttribute('d') || '').split('L').length - 1)",
    )
    assert drawn and max(drawn) >= 10, f"training lines have too few segments: {drawn}"

    weights_before = href(page, WEIGHTS_IMAGE)
    activations_before = href(page, ACTIVATIONS_IMAGE)
    assert weights_before.startswith(("blob:", "data:")), weights_before
    assert activations_before.startswith(("blob:", "data:")), activations_before
    weights_title = page.locator(".nnw-weights svg.svg-figure .mainheading").first
    assert weights_title.text_content().startswith("conv1"), weights_title.text_content()
    screenshot(page, "dashboard-1-loaded")

    # Another layer: the weight and activation pictures and their titles follow.
    choose_layer(page, "conv2")
    weights_conv2 = wait_href_change(page, WEIGHTS_IMAGE, weights_before)
    assert weights_conv2 != weights_before
    page.wait_for_function(
        "() => document.querySelector('.nnw-weights .mainheading')?.textContent.startsWith('conv2')"
    )
    activations_conv2 = wait_href_change(page, ACTIVATIONS_IMAGE, activations_before)
    screenshot(page, "dashboard-2-layer-conv2")

    # Another input: the activation picture and the caption follow.
    page.locator(".nnw-explorer button[title='next input']").click()
    activations_next = wait_href_change(page, ACTIVATIONS_IMAGE, activations_conv2)
    assert activations_next != activations_conv2
    page.wait_for_function(
        "() => document.querySelector('.nnw-explorer').innerText.includes('input 1 of 200')"
    )
    screenshot(page, "dashboard-3-next-input")

    assert_no_errors_shown(page)
    assert not page_exceptions(page), page_exceptions(page)
    print(f"dashboard loaded in {loaded:.1f} s")


def test_dense_layer_draws_weights_and_activation_bars(page, voila_url):
    open_dashboard(page, voila_url)
    weights_before = href(page, WEIGHTS_IMAGE)

    choose_layer(page, "dense")
    weights_dense = wait_href_change(page, WEIGHTS_IMAGE, weights_before)
    assert weights_dense != weights_before
    page.wait_for_function(
        "() => document.querySelector('.nnw-activations')?.textContent.includes('dense: output')"
    )
    page.wait_for_timeout(1000)
    screenshot(page, "dashboard-4-layer-dense")

    # A (64,) activation is drawn as 64 bars in the one visible activation figure.
    bars = page.evaluate(
        """() => Array.from(document.querySelectorAll('.nnw-activations svg.svg-figure'))
            .filter(f => f.getBoundingClientRect().width > 0)
            .map(f => [f.querySelector('.mainheading')?.textContent,
                       f.querySelectorAll('rect.bar').length])"""
    )
    dense = [n for title, n in bars if title and title.startswith("dense: output")]
    assert dense == [64], bars
    assert_no_errors_shown(page)
    assert not page_exceptions(page), page_exceptions(page)
