"""A class on one Voila server: the configuration Voila reads, the cap on kernels, and
several viewers opening the dashboard at once in a real browser.

See browser_support.py for how Chromium is found (and when the browser tests skip).
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import json
import os
import subprocess
import time

import pytest

from tests.browser_support import (
    ARTIFACTS,
    ROOT,
    assert_no_errors_shown,
    free_port,
    kernel_env,
    log_tail,
    new_page,
    require_voila,
    save_console,
    screenshot,
    serve,
    voila_command,
)

NOTEBOOKS = ROOT / "notebooks"
CONFIG = json.loads((NOTEBOOKS / "voila.json").read_text())
PAGE_TIMEOUT_MS = 240_000


# -- the configuration ------------------------------------------------------------------
def test_voila_reads_the_class_configuration(monkeypatch):
    """Voila, started in notebooks/ as `make serve` starts it, reads voila.json there:
    preheated kernels for the dashboard, the capped kernel manager, culling, timeouts."""
    require_voila()
    from voila.app import Voila

    from nnwidgets.serving import ClassroomKernelManager

    monkeypatch.chdir(NOTEBOOKS)
    app = Voila()
    app.initialize(["dashboard.ipynb"])
    assert app.voila_configuration.preheat_kernel is True
    assert app.voila_configuration.multi_kernel_manager_class is ClassroomKernelManager
    pools = app.config.VoilaKernelManager.kernel_pools_config
    assert pools == CONFIG["VoilaKernelManager"]["kernel_pools_config"]
    assert pools["dashboard.ipynb"]["pool_size"] >= 4
    assert pools["default"]["pool_size"] == 0  # other notebooks: no spare kernels
    cap = app.config.ClassroomKernelManager.max_kernels
    assert (
        cap
        == CONFIG["ClassroomKernelManager"]["max_kernels"]
        > pools["dashboard.ipynb"]["pool_size"]
    )
    assert app.config.MappingKernelManager.cull_idle_timeout > 0
    assert app.config.VoilaExecutor.iopub_timeout >= 30  # nbclient's 4 s drops outputs under load


def test_make_targets_serve_from_the_notebooks_folder():
    """`make demo` and `make serve` run Voila in notebooks/, where it finds voila.json."""
    for target in ("demo", "serve"):
        out = subprocess.run(
            ["make", "-n", target], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
        voila_line = next(line for line in out.splitlines() if "voila dashboard.ipynb" in line)
        assert "cd notebooks &&" in voila_line, voila_line
        assert "nnwidgets.datasets" in out  # the demo model is made before Voila starts
    assert (
        "NNW_DASHBOARD_AUTOTRAIN=1"
        in subprocess.run(
            ["make", "-n", "demo"], cwd=ROOT, capture_output=True, text=True, check=True
        ).stdout
    )


def _run(scenario):
    """Run ``scenario()`` in a thread of its own: Playwright's sync API (the session's
    browser fixture) keeps an event loop running in the main thread."""
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, scenario()).result()


# -- the cap on kernels, with real kernels -------------------------------------------------
def test_classroom_kernel_manager_caps_kernels(tmp_path):
    """Past ``max_kernels`` a start raises HTTP 503 with the message; a kernel that ends
    makes room again."""
    from tornado.web import HTTPError

    from nnwidgets.serving import ClassroomKernelManager

    os.environ.update(JUPYTER_PATH=kernel_env()["JUPYTER_PATH"])  # this venv's python3

    async def scenario():
        km = ClassroomKernelManager(max_kernels=1, connection_dir=str(tmp_path))
        first = await km.start_kernel(kernel_name="python3")
        try:
            assert km.full
            with pytest.raises(HTTPError) as refused:
                await km.start_kernel(kernel_name="python3")
            assert refused.value.status_code == 503
            assert "as many viewers as this server can take (1)" in refused.value.reason
            assert len(km) == 1
            await km.shutdown_kernel(first, now=True)
            assert not km.full
            second = await km.start_kernel(kernel_name="python3")
            assert km.list_kernel_ids() == [second]
        finally:
            await km._async_shutdown_all(now=True)

    _run(scenario)


def test_failed_spares_are_dropped_and_the_pool_refilled():
    """A preheated spare refused while the server was full is dropped when a kernel ends,
    and Voila's pool is asked to fill again (Voila keeps failed spares otherwise: the next
    viewer would be told the server is full although there is room)."""
    from nnwidgets.serving import ClassroomKernelManager

    async def scenario():
        km = ClassroomKernelManager()
        loop = asyncio.get_running_loop()
        ok, failed = loop.create_future(), loop.create_future()
        ok.set_result({"kernel_id": "k1"})
        failed.set_exception(RuntimeError("full"))
        failed.exception()  # (retrieved: no warning at exit)
        km._pools = {"dashboard.ipynb": [ok, failed]}
        asked = []
        km.fill_if_needed = lambda notebook_name, **kw: asked.append(notebook_name)
        km._refill_pools()
        assert km._pools["dashboard.ipynb"] == [ok]
        assert asked == ["dashboard.ipynb"]
        km._refill_pools()  # nothing failed: nothing asked
        assert asked == ["dashboard.ipynb"]

    _run(scenario)


def test_spares_start_one_gap_apart():
    """Preheated spares start ``pool_start_gap`` seconds apart (a refill after a class
    arrives does not take all the CPU at once); viewers' own kernels do not wait."""
    from nnwidgets.serving import ClassroomKernelManager, _preheating

    assert _preheating({"env": {"VOILA_PREHEAT": "True"}})
    assert not _preheating({"env": {"VOILA_PREHEAT": "False"}}) and not _preheating({})

    async def scenario():
        km = ClassroomKernelManager(pool_start_gap=0.3)
        starts, viewers = [], []

        async def start(*args, **kwargs):  # (no process: when the start happens is tested)
            preheat = kwargs["env"]["VOILA_PREHEAT"] == "True"
            (starts if preheat else viewers).append(time.monotonic())
            return f"kernel-{len(starts) + len(viewers)}"

        km._start = start
        spare, viewer = {"env": {"VOILA_PREHEAT": "True"}}, {"env": {"VOILA_PREHEAT": "False"}}
        began = time.monotonic()
        await asyncio.gather(
            *(km.start_kernel(**spare) for _ in range(3)), km.start_kernel(**viewer)
        )
        assert viewers[0] - began < 0.2  # a viewer's kernel does not queue behind spares
        return starts

    starts = _run(scenario)
    gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
    assert all(gap >= 0.29 for gap in gaps), gaps


# -- a class in a real browser ----------------------------------------------------------------
POOL = 4  # spares (and the cap) for the test server: what the suite's time allows
EXPLORER_DRAWN = """() => {
    const root = document.querySelector('.nnw-explorer');
    return !!root && root.querySelectorAll('svg.svg-figure').length >= 5
        && !!root.querySelector('.nnw-weights svg image')
        && !!root.querySelector('.nnw-activations svg image');
}"""


def _kernel_cpu_seconds(server_pid: int) -> float:
    """CPU seconds used so far by the kernels a server started (kernels run in sessions
    of their own, so they are found by parent, not by process group)."""
    total = 0.0
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            fields = open(f"/proc/{pid}/stat").read().rsplit(")", 1)[1].split()
            if int(fields[1]) != server_pid:
                continue
            if b"ipykernel" not in open(f"/proc/{pid}/cmdline", "rb").read():
                continue
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
        except (OSError, ProcessLookupError):
            continue
    return total


def _wait_warm(proc, log, timeout=300.0) -> float:
    """Wait until Voila has started its pool and the spares have run the notebook (their
    CPU time stops growing); return the seconds that took."""
    start = time.monotonic()
    while f"filled with {POOL} kernel" not in log.read_text(errors="replace"):
        if proc.poll() is not None or time.monotonic() - start > timeout:
            pytest.fail(f"the pool never filled:\n{log_tail(log)}")
        time.sleep(0.5)
    last, quiet_since = -1.0, time.monotonic()
    while time.monotonic() - quiet_since < 3.0:
        used = _kernel_cpu_seconds(proc.pid)
        if used - last > 0.2:
            last, quiet_since = used, time.monotonic()
        if time.monotonic() - start > timeout:
            pytest.fail(f"the spares never went quiet:\n{log_tail(log)}")
        time.sleep(0.5)
    assert last > 0, "no kernel of the server found (the wait above measured nothing)"
    return time.monotonic() - start


@pytest.fixture(scope="module")
def class_server():
    """The dashboard served as `make serve` serves it (Voila in notebooks/, voila.json
    read there), with a pool and cap of ``POOL`` kernels so that the test stays short."""
    require_voila()
    import nnwidgets as nw

    nw.datasets.trained_demo_model()  # made once, before the spares look for it
    port = free_port()
    cmd = voila_command(
        "dashboard.ipynb",
        port,
        "--VoilaKernelManager.kernel_pools_config="
        + json.dumps({"dashboard.ipynb": {"pool_size": POOL}}),
        f"--ClassroomKernelManager.max_kernels={POOL}",
        "--ClassroomKernelManager.pool_start_gap=0",
    )
    env = {**kernel_env(), "NNW_DASHBOARD_EPOCHS": "3"}
    with serve(cmd, port, "voila-class.log", env=env, cwd=NOTEBOOKS) as proc:
        warm = _wait_warm(proc, ARTIFACTS / "voila-class.log")
        print(f"{POOL} preheated kernels ready in {warm:.0f} s")
        yield f"http://127.0.0.1:{port}/", proc


def test_a_class_opens_the_dashboard_at_once(browser, class_server):
    """``POOL`` viewers open the page at the same moment: every one draws its figures with
    no error; one of them starts training with the button. A viewer beyond the cap reads
    that the dashboard is full; when a viewer leaves, a newcomer gets a dashboard again."""
    url, _proc = class_server
    pages = [new_page(browser) for _ in range(POOL)]
    started = time.monotonic()
    for page in pages:  # start every navigation before waiting for any
        page.evaluate("url => { window.location.href = url; }", url)
    shown = []
    for i, page in enumerate(pages):
        page.wait_for_function(EXPLORER_DRAWN, timeout=PAGE_TIMEOUT_MS)
        shown.append(time.monotonic() - started)
        assert_no_errors_shown(page)
        assert page.locator(".nnw-error").count() == 0
        assert "waiting for training" in page.inner_text(".nnw-training"), f"page {i}"
    print("first figures after (s, in the order checked):", [round(s, 1) for s in shown])
    screenshot(pages[0], "class-0-viewer")

    # A viewer starts training: no kernel trained before the button.
    first = pages[0]
    button = first.locator("button.nnw-start")
    assert button.inner_text().strip() == "Train from scratch"
    button.click()
    first.wait_for_function(
        "() => (document.querySelector('.nnw-training')?.innerText || '').includes('epoch')",
        timeout=PAGE_TIMEOUT_MS,
    )
    first.wait_for_function(
        "() => document.querySelectorAll('.nnw-training path.line').length > 0",
        timeout=PAGE_TIMEOUT_MS,
    )
    assert button.is_disabled()  # one run at a time
    for other in pages[1:]:  # the others' kernels are their own: nothing trains there
        assert "waiting for training" in other.inner_text(".nnw-training")

    # One more viewer: the server has as many kernels as it takes.
    extra = new_page(browser)
    response = extra.goto(url, timeout=PAGE_TIMEOUT_MS)
    assert response.status == 503
    heading = extra.inner_text("h1")
    assert f"as many viewers as this server can take ({POOL})" in heading, heading
    assert "try again" in heading
    screenshot(extra, "class-1-full")
    extra.context.close()

    # A viewer leaves (Voila shuts its kernel down): a newcomer gets a dashboard.
    leaving = pages.pop()
    leaving.goto("about:blank")  # the page's beforeunload beacon asks Voila to shut down
    leaving.context.close()
    late = new_page(browser)
    deadline = time.monotonic() + 60
    while late.goto(url, timeout=PAGE_TIMEOUT_MS).status == 503:  # (until the kernel ends)
        assert time.monotonic() < deadline, "no room after a viewer left"
        late.wait_for_timeout(500)
    late.wait_for_function(EXPLORER_DRAWN, timeout=PAGE_TIMEOUT_MS)
    assert_no_errors_shown(late)
    for i, page in enumerate([*pages, late]):
        save_console(page, f"test_a_class_opens_the_dashboard_at_once-{i}")
        page.context.close()


def test_a_spare_waits_for_the_previous_one_to_be_warm():
    """A spare starts once the spare before it has run the notebook (idle for a while),
    or has ended, or after ``pool_warm_timeout``: one warms at a time."""
    from types import SimpleNamespace

    from nnwidgets.serving import ClassroomKernelManager

    async def scenario():
        km = ClassroomKernelManager(pool_warm_timeout=30)
        previous = SimpleNamespace(execution_state="busy")
        km._kernels["spare-1"] = previous
        km._last_spare = "spare-1"
        waiting = asyncio.ensure_future(km._previous_spare_warm(quiet=0.2))
        await asyncio.sleep(0.6)
        assert not waiting.done()  # still running the notebook
        previous.execution_state = "idle"
        await asyncio.wait_for(waiting, 2)  # warm: the next may start

        del km._kernels["spare-1"]  # ended: nothing to wait for
        await asyncio.wait_for(km._previous_spare_warm(quiet=0.2), 1)

        km._kernels["spare-2"] = SimpleNamespace(execution_state="busy")
        km._last_spare = "spare-2"
        km.pool_warm_timeout = 0.3  # stuck busy: the wait has an end
        start = time.monotonic()
        await km._previous_spare_warm(quiet=0.2)
        assert 0.25 <= time.monotonic() - start < 2

    _run(scenario)
