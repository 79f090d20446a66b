"""notebooks/quickstart.ipynb in a real JupyterLab (this venv's), driven by Chromium:
run all cells from the Run menu, see the widgets render, click them and see the
pictures redraw; and the same notebook in the "JupyterLab Dark" theme.

Both tests share one server and one run of the notebook (its kernel trains for most of a
minute): the light test drives the page the notebook ran in; the dark test then saves
the notebook, turns the server's theme setting to JupyterLab Dark and opens the notebook
in a new dark page, where every widget is drawn anew, in the dark theme, from the
kernel's widgets (as after a reload).

JupyterLab serves a copy of notebooks/ in a temporary directory (it autosaves: the repo's
notebooks must stay output-free), with its own settings, workspaces, config and runtime
directories, no news, no update check and no extension manager queries, so it opens
offline and without pop-ups. See browser_support.py for how Chromium is found (and
when these tests skip).
"""

from __future__ import annotations

import contextlib
import json
import shutil
import time
from pathlib import Path

import pytest

from tests.browser_support import (
    ARTIFACTS,
    ROOT,
    assert_no_errors_shown,
    free_port,
    href,
    kernel_env,
    lab_command,
    low_contrast_texts,
    new_page,
    page_exceptions,
    save_console,
    screenshot,
    serve,
    unavailable,
    wait_href_change,
)

NOTEBOOK = "notebooks/quickstart.ipynb"
# The whole notebook (TensorFlow import, training in a cell and in the background) on a
# busy 2-core machine.
RUN_TIMEOUT_MS = 300_000
EXPLORER = ".jp-OutputArea .nnw-explorer"
WEIGHTS_IMAGE = f"{EXPLORER} .nnw-weights svg image"
ACTIVATIONS_IMAGE = f"{EXPLORER} .nnw-activations svg image"
CURRENT = ".jp-NotebookPanel:not(.lm-mod-hidden)"


def require_jupyterlab() -> None:
    try:
        import jupyterlab  # noqa: F401
    except ImportError:
        unavailable("jupyterlab is not installed (pip install -e '.[test]')")


def write_settings(settings_dir: Path, theme: str | None) -> None:
    """User settings: never ask about news or updates; the theme, if given."""
    apputils = settings_dir / "@jupyterlab" / "apputils-extension"
    apputils.mkdir(parents=True, exist_ok=True)
    (apputils / "notification.jupyterlab-settings").write_text(
        json.dumps({"checkForUpdates": False, "fetchNews": "false"})
    )
    if theme:
        (apputils / "themes.jupyterlab-settings").write_text(json.dumps({"theme": theme}))


@contextlib.contextmanager
def jupyterlab(tmp: Path, theme: str | None = None, log_name: str = "jupyterlab.log"):
    """Serve a copy of notebooks/ with JupyterLab; yield the base URL."""
    require_jupyterlab()
    root = tmp / "root"
    shutil.copytree(ROOT / "notebooks", root / "notebooks")
    write_settings(tmp / "settings", theme)
    env = {
        **kernel_env(),  # the python3 kernel is this venv's interpreter
        "JUPYTER_CONFIG_DIR": str(tmp / "config"),  # no ~/.jupyter config
        "JUPYTER_RUNTIME_DIR": str(tmp / "runtime"),
    }
    port = free_port()
    cmd = lab_command(
        port,
        root,
        f"--LabApp.user_settings_dir={tmp / 'settings'}",
        f"--LabApp.workspaces_dir={tmp / 'workspaces'}",
    )
    with serve(cmd, port, log_name, env=env):
        yield f"http://127.0.0.1:{port}"


@pytest.fixture
def repo_notebooks_untouched():
    """After the test the repo's quickstart.ipynb still has no outputs: JupyterLab
    autosaved its copy, not the repo's. (Its text may change meanwhile: others edit it.)"""
    yield
    cells = json.loads((ROOT / NOTEBOOK).read_text())["cells"]
    ran = [c for c in cells if c["cell_type"] == "code" and (c["outputs"] or c["execution_count"])]
    assert not ran, f"the repo's {NOTEBOOK} has outputs now: JupyterLab wrote into it"


class Lab:
    """The module's JupyterLab: its URL, its settings folder, and the open page where
    the quickstart ran (``how`` and ``took`` say how Run All went)."""

    def __init__(self, browser, base: str, settings: Path):
        self.browser, self.base, self.settings = browser, base, settings
        self.page, self.how, self.took = None, None, None

    def run_quickstart(self):
        if self.page is None:
            self.page = new_page(self.browser)
            self.how, self.took = run_notebook(self.page, self.base)
        return self.page


@pytest.fixture(scope="module")
def lab(browser, tmp_path_factory):
    """One JupyterLab (light theme) for the module; the notebook runs on first use."""
    tmp = tmp_path_factory.mktemp("jupyterlab")
    with jupyterlab(tmp) as base:
        lab = Lab(browser, base, tmp / "settings")
        yield lab
        if lab.page is not None:
            lab.page.context.close()


@pytest.fixture
def lab_page(lab, browser, request):
    """``make()``: the page where the quickstart ran (light); ``make("dark")``: that
    notebook opened anew in a dark page. Their console and last picture are kept."""
    pages = []

    def make(color_scheme="light"):
        page = (
            lab.run_quickstart()
            if color_scheme == "light"
            else new_page(browser, color_scheme=color_scheme)
        )
        pages.append(page)
        return page

    yield make
    for page in pages:
        save_console(page, request.node.name)
        with contextlib.suppress(Exception):  # what the page showed last, pass or fail
            page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"))
        if page is not lab.page:
            page.context.close()


# -- driving JupyterLab ---------------------------------------------------------------
def open_notebook(page, base: str) -> None:
    page.goto(f"{base}/lab/tree/{NOTEBOOK}", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(f"{CURRENT} .jp-Notebook .jp-CodeCell", timeout=RUN_TIMEOUT_MS)
    # The kernel has started and is idle. The status bar says so ("Python 3 (ipykernel) |
    # Idle"); the toolbar's indicator alone is not enough: it reads "idle" for a moment
    # before the kernel starts, and Run All then runs nothing.
    kernel_idle = f"""() => /\\|\\s*Idle/.test(
        document.querySelector('#jp-main-statusbar')?.innerText || '')
        && !!document.querySelector(
            "{CURRENT} .jp-Notebook-ExecutionIndicator[data-status='idle']")"""
    page.wait_for_function(kernel_idle, timeout=RUN_TIMEOUT_MS, polling=250)
    page.wait_for_timeout(500)
    page.wait_for_function(kernel_idle, timeout=RUN_TIMEOUT_MS, polling=250)
    assert page.locator(".jp-Dialog").count() == 0, page.inner_text(".jp-Dialog")


PROMPTS_JS = f"""() => Array.from(document.querySelectorAll(
    '{CURRENT} .jp-CodeCell .jp-InputPrompt')).map(p => p.textContent.trim())"""


def run_started(page, timeout_ms: int = 15_000) -> bool:
    """True once some code cell is queued, running or done (its prompt is not '[ ]:')."""
    with contextlib.suppress(Exception):
        page.wait_for_function(
            f"() => ({PROMPTS_JS})().some(t => /\\[(\\*|\\d+)\\]/.test(t))", timeout=timeout_ms
        )
        return True
    return False


def run_all_cells(page) -> str:
    """Run all cells through the Run menu; fall back to the command palette. Return the
    way that worked (and why the menu did not, if it did not)."""
    page.locator(f"{CURRENT} .jp-Notebook").first.click(position={"x": 5, "y": 5})
    try:
        page.locator(".lm-MenuBar-item", has_text="Run").first.click()
        page.locator(
            ".lm-Menu-item[data-command='runmenu:run-all'],"
            ".lm-Menu-item[data-command='notebook:run-all-cells']"
        ).first.click(timeout=5_000)
        if run_started(page, 30_000):
            return "Run menu"
        why = "no cell queued 30 s after Run > Run All Cells"
    except Exception as e:  # any failure: try the palette
        why = f"{type(e).__name__}: {str(e).splitlines()[0]}"
    screenshot(page, "jupyterlab-run-menu-failed")
    page.keyboard.press("Escape")
    page.keyboard.press("Control+Shift+C")
    palette = page.locator(".lm-CommandPalette-input")
    palette.fill("Run All Cells")
    page.locator(".lm-CommandPalette-item[data-command='notebook:run-all-cells']").first.click()
    assert run_started(page), "neither the Run menu nor the command palette ran the cells"
    return f"command palette; the Run menu failed: {why}"


def wait_cells_done(page) -> None:
    """Every code cell has run ('[n]:' prompts, none '[*]') and the kernel is idle."""
    page.wait_for_function(
        f"""() => {{
            const ps = ({PROMPTS_JS})();
            const idle = document.querySelector(
                "{CURRENT} .jp-Notebook-ExecutionIndicator[data-status='idle']");
            return idle && ps.length > 0 && ps.every(t => /^\\[\\d+\\]:?$/.test(t));
        }}""",
        timeout=RUN_TIMEOUT_MS,
        polling=500,
    )


def wait_widgets(page) -> None:
    """The explorer is drawn. JupyterLab skips painting cells out of view (windowing by
    content-visibility), so wait for it to be attached, then bring it into view."""
    page.wait_for_selector(f"{EXPLORER} svg.svg-figure", state="attached", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(WEIGHTS_IMAGE, state="attached", timeout=RUN_TIMEOUT_MS)
    page.wait_for_selector(ACTIVATIONS_IMAGE, state="attached", timeout=RUN_TIMEOUT_MS)


def run_notebook(page, base: str) -> tuple[str, float]:
    start = time.monotonic()
    open_notebook(page, base)
    how = run_all_cells(page)
    wait_widgets(page)
    wait_cells_done(page)
    page.locator(EXPLORER).first.scroll_into_view_if_needed()
    page.wait_for_selector(f"{EXPLORER} svg.svg-figure", timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(1000)  # the last redraws after the final cells
    return how, time.monotonic() - start


def pixels(page, selector: str) -> bytes:
    """What the browser paints for the first element matching ``selector``."""
    locator = page.locator(selector).first
    locator.scroll_into_view_if_needed()
    return locator.screenshot(animations="disabled")


def wait_pixels_change(page, selector: str, old: bytes, timeout_s: float = 30) -> bytes:
    deadline = time.monotonic() + timeout_s
    while True:
        new = pixels(page, selector)
        if new != old:
            return new
        assert time.monotonic() < deadline, f"{selector} still shows the same picture"
        page.wait_for_timeout(250)


def element_screenshot(page, selector: str, name: str) -> Path:
    """A screenshot of one element. The notebook scrolls inside a panel, so the viewport
    is made tall enough for the element to fit in that panel first."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    locator = page.locator(selector).first
    size = page.viewport_size
    height = locator.evaluate("e => e.getBoundingClientRect().height")
    page.set_viewport_size(
        {"width": size["width"], "height": max(size["height"], int(height) + 300)}
    )
    page.wait_for_timeout(500)  # let bqplot re-layout after the resize
    locator.scroll_into_view_if_needed()
    locator.screenshot(path=str(path), animations="disabled")
    page.set_viewport_size(size)
    return path


def page_screenshot(page, name: str) -> Path:
    """The whole notebook: scrolled to the top, then browser_support.screenshot."""
    page.evaluate(
        """() => document.querySelectorAll('.jp-WindowedPanel-outer, .jp-NotebookPanel-notebook')
            .forEach(e => { e.scrollTop = 0; })"""
    )
    page.wait_for_timeout(300)
    return screenshot(page, name)


def choose_layer(page, name: str) -> None:
    select = page.locator(f"{EXPLORER} .nnw-layer-picker select").first
    values = select.evaluate("s => Array.from(s.options).map(o => o.value)")
    matches = [v for v in values if v.split(" ")[0] == name]
    assert matches, f"no layer {name!r} among {values}"
    select.select_option(value=matches[0])


def caption_js(text: str) -> str:
    return f"() => (document.querySelector('{EXPLORER}')?.innerText || '').includes('{text}')"


# Whichever input the explorer is on (the light test steps it from 7 to 8).
CAPTION_ANY_INPUT_JS = (
    f"() => /input \\d+ of 200/.test(document.querySelector('{EXPLORER}')?.innerText || '')"
)


# -- the tests ---------------------------------------------------------------------------
def test_quickstart_runs_and_widgets_react(lab, lab_page, repo_notebooks_untouched):
    page = lab_page()
    how, took = lab.how, lab.took
    assert_no_errors_shown(page)
    assert page.evaluate("document.body.dataset.jpThemeLight") == "true"
    n_figures = page.locator(f"{EXPLORER} svg.svg-figure").count()
    assert n_figures >= 5, f"only {n_figures} bqplot figures in the explorer"
    # The cell after `app` set layer conv2 and input 7: the explorer followed.
    page.wait_for_function(caption_js("input 7 of 200"))
    page.wait_for_function(
        f"() => document.querySelector('{EXPLORER} .nnw-weights .mainheading')"
        "?.textContent.startsWith('conv2')"
    )
    page_screenshot(page, "jupyterlab-1-run")
    contrast_report(page, "jupyterlab-light-contrast")
    element_screenshot(page, EXPLORER, "jupyterlab-1-explorer")

    # Next input: the activation picture is redrawn (its href and its pixels change).
    act_href, act_pixels = href(page, ACTIVATIONS_IMAGE), pixels(page, ACTIVATIONS_IMAGE)
    assert act_href.startswith(("blob:", "data:")), act_href
    page.locator(f"{EXPLORER} button[title='next input']").click()
    wait_href_change(page, ACTIVATIONS_IMAGE, act_href)
    wait_pixels_change(page, ACTIVATIONS_IMAGE, act_pixels)
    page.wait_for_function(caption_js("input 8 of 200"))
    element_screenshot(page, EXPLORER, "jupyterlab-2-next-input")

    # Another layer: the weight picture and its title follow.
    w_href, w_pixels = href(page, WEIGHTS_IMAGE), pixels(page, WEIGHTS_IMAGE)
    choose_layer(page, "conv1")
    wait_href_change(page, WEIGHTS_IMAGE, w_href)
    wait_pixels_change(page, WEIGHTS_IMAGE, w_pixels)
    page.wait_for_function(
        f"() => document.querySelector('{EXPLORER} .nnw-weights .mainheading')"
        "?.textContent.startsWith('conv1')"
    )
    element_screenshot(page, EXPLORER, "jupyterlab-3-layer-conv1")
    page_screenshot(page, "jupyterlab-3-page")

    # The model's graph (an anywidget: its own script, loaded by JupyterLab) draws, and
    # a click on a node picks that layer in the explorer.
    run_new_cell(page, "graph = nw.ModelGraph(app.state); graph")
    node = page.locator(f"{CURRENT} .nnw-graph g.node[data-id='conv2']")
    node.wait_for(timeout=60_000)
    node.click()
    page.wait_for_function(
        f"() => document.querySelector('{EXPLORER} .nnw-weights .mainheading')"
        "?.textContent.startsWith('conv2')"
    )
    assert "selected" in (node.get_attribute("class") or "")
    element_screenshot(page, f"{CURRENT} .nnw-graph", "jupyterlab-4-graph")

    steer_a_background_run(page)

    assert_no_errors_shown(page)
    assert not page_exceptions(page), page_exceptions(page)
    print(f"JupyterLab: all cells ran ({how}) and widgets drew in {took:.1f} s")


PLOT_JS = f"""() => Array.from(document.querySelectorAll('{CURRENT} .nnw-training'))
    .find(e => !e.closest('.nnw-explorer'))"""


def run_new_cell(page, code: str) -> None:
    """Add a code cell under the last one, type ``code`` and run it."""
    page.locator(f"{CURRENT} .jp-Cell .jp-InputArea-editor").last.click()
    page.keyboard.press("Escape")
    page.keyboard.press("b")
    page.keyboard.press("Enter")
    page.keyboard.type(code)
    page.keyboard.press("Shift+Enter")


def plot_text(page) -> str:
    return page.evaluate(f"() => ({PLOT_JS})().textContent")


def steer_a_background_run(page) -> None:
    """In JupyterLab: start a background run, set its learning rate in the plot's box,
    stop it with the plot's Stop button, and see the kernel free again."""
    run_new_cell(page, "run = plot.fit_in_background(model, x_train, y_train, epochs=300)")
    page.wait_for_function(f"() => /run 3 training: epoch/.test(({PLOT_JS})().textContent)")
    lr_box = page.locator(f"{CURRENT} .nnw-training:not(.nnw-explorer .nnw-training) input").first
    lr_box.fill("0.0005")
    lr_box.press("Enter")
    page.wait_for_function(
        f"() => ({PLOT_JS})().textContent.includes('learning rate 0.0005 from the next batch')"
    )
    stop = page.locator(f"{CURRENT} .nnw-training:not(.nnw-explorer .nnw-training) .nnw-stop")
    stop.click()
    page.wait_for_function(f"() => ({PLOT_JS})().textContent.includes('(stopped)')")
    text = plot_text(page)
    assert "epoch 300/300" not in text, text
    page_screenshot(page, "jupyterlab-4-stopped")
    run_new_cell(page, "print('lr', float(model.optimizer.learning_rate.numpy()))")
    page.wait_for_function(
        f"() => document.querySelector('{CURRENT}').innerText.includes('lr 0.0005')"
    )


# Contrast of what the widgets draw against the background behind it (WCAG ratios: text
# needs 4.5, lines and bars 3). Reported, not asserted: the views' dark-theme colours are
# the package's business; this test only checks that JupyterLab Dark is on and shows them.
CONTRAST_JS = """() => {
  const parse = c => { const m = (c || '').match(/rgba?\\(([^)]+)\\)/); if (!m) return null;
    const p = m[1].split(/[ ,\\/]+/).filter(Boolean).map(Number);
    return [p[0], p[1], p[2], p.length > 3 ? p[3] : 1]; };
  const lum = c => { const f = v => { v /= 255;
    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4; };
    return 0.2126 * f(c[0]) + 0.7152 * f(c[1]) + 0.0722 * f(c[2]); };
  const background = e => { for (let n = e; n; n = n.parentElement) {
    const c = parse(getComputedStyle(n).backgroundColor); if (c && c[3] > 0.5) return c; }
    return [255, 255, 255, 1]; };
  const opacity = e => { let o = 1;
    for (let n = e; n; n = n.parentElement) o *= Number(getComputedStyle(n).opacity || 1);
    return o; };
  const rows = new Map();
  const add = (e, kind, paint, extra) => {
    const r = e.getBoundingClientRect(); if (!r.width && !r.height) return;
    const fg = parse(paint); if (!fg) return;
    const bg = background(e), a = fg[3] * opacity(e) * extra;
    const seen = [0, 1, 2].map(i => Math.round(fg[i] * a + bg[i] * (1 - a)));
    const l1 = lum(seen), l2 = lum(bg);
    const ratio = (Math.max(l1, l2) + 0.05) / (Math.min(l1, l2) + 0.05);
    const text = kind === 'text' ? e.textContent.trim().slice(0, 40)
                                 : (e.getAttribute('class') || e.tagName);
    const key = kind + seen + bg + (ratio < 4.5 ? text : '');
    if (!rows.has(key)) rows.set(key, {kind, text, seen, bg: bg.slice(0, 3),
                                       ratio: Math.round(ratio * 10) / 10});
  };
  const outputs = document.querySelectorAll('.jp-OutputArea-output');
  outputs.forEach(out => out.querySelectorAll('*').forEach(e => {
    const cs = getComputedStyle(e), svg = e instanceof SVGElement;
    if (Array.from(e.childNodes).some(n => n.nodeType === 3 && n.textContent.trim()))
      add(e, 'text', svg && cs.fill !== 'none' ? cs.fill : cs.color,
          svg ? Number(cs.fillOpacity) : 1);
    else if (e.matches('path.line')) add(e, 'line', cs.stroke, Number(cs.strokeOpacity));
    else if (e.matches('rect.bar')) add(e, 'bar', cs.fill, Number(cs.fillOpacity));
  }));
  return Array.from(rows.values()).sort((a, b) => a.ratio - b.ratio);
}"""


def contrast_report(page, name: str) -> list[str]:
    """Write every text, line and bar colour in the outputs with its contrast ratio to
    artifacts/NAME.txt; return the ones below the WCAG minimum."""
    rows = page.evaluate(CONTRAST_JS)
    lines = [
        f"{r['ratio']:5.1f}  {r['kind']:4}  rgb{tuple(r['seen'])} on rgb{tuple(r['bg'])}  {r['text']}"
        for r in rows
    ]
    (ARTIFACTS / f"{name}.txt").write_text("\n".join(lines) + "\n")
    return [
        line
        for r, line in zip(rows, lines, strict=True)
        if r["ratio"] < (4.5 if r["kind"] == "text" else 3.0)
    ]


def save_notebook(page) -> None:
    """Save the open notebook (Ctrl+S) and wait until it is saved."""
    page.locator(f"{CURRENT} .jp-Notebook").first.click(position={"x": 5, "y": 5})
    page.keyboard.press("Escape")
    page.keyboard.press("Control+s")
    page.wait_for_function(
        "() => !document.querySelector('.lm-TabBar-tab.jp-mod-current.jp-mod-dirty')",
        timeout=RUN_TIMEOUT_MS,
    )


def reopen_in_dark(lab, page) -> float:
    """The notebook the quickstart ran in, saved and opened in a new page with the
    server's theme set to JupyterLab Dark: every widget is drawn anew from the kernel."""
    start = time.monotonic()
    lab.run_quickstart()
    save_notebook(lab.page)
    write_settings(lab.settings, "JupyterLab Dark")
    # (the light page is closed: one front end on the kernel at a time)
    lab.page.context.close()
    lab.page = None
    open_notebook(page, lab.base)
    wait_widgets(page)
    page.locator(EXPLORER).first.scroll_into_view_if_needed()
    page.wait_for_selector(f"{EXPLORER} svg.svg-figure", timeout=RUN_TIMEOUT_MS)
    page.wait_for_timeout(1000)  # the last redraws
    return time.monotonic() - start


def test_quickstart_in_dark_theme(lab, lab_page, repo_notebooks_untouched):
    page = lab_page(color_scheme="dark")
    took = reopen_in_dark(lab, page)
    assert page.evaluate("document.body.dataset.jpThemeLight") == "false"
    assert page.evaluate("document.body.dataset.jpThemeName") == "JupyterLab Dark"
    assert_no_errors_shown(page)
    page.wait_for_function(CAPTION_ANY_INPUT_JS)
    page_screenshot(page, "jupyterlab-dark")
    # Each widget output on its own: the training plot, the explorer, the last layout.
    outputs = page.locator(f"{CURRENT} .jp-OutputArea-output:has(.widget-container)")
    n = outputs.count()
    assert n >= 3, f"expected 3 widget outputs, found {n}"
    for i in range(n):
        element_screenshot(
            page,
            f"{CURRENT} .jp-OutputArea-output:has(.widget-container) >> nth={i}",
            f"jupyterlab-dark-output-{i}",
        )
    low = contrast_report(page, "jupyterlab-dark-contrast")
    assert not page_exceptions(page), page_exceptions(page)
    print(f"JupyterLab Dark: the run notebook reopened and its widgets drew in {took:.1f} s")
    if low:
        print("low contrast in the dark theme:\n  " + "\n  ".join(low))
    bad = low_contrast_texts(page, ".jp-OutputArea-output")
    assert not bad, "text hard to read in JupyterLab Dark:\n" + "\n".join(bad)
