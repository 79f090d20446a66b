"""Models that are not image classifiers, in Voila in a real browser: a text
transformer, a time-series net and a U-Net, each shown for what it is; and an
``explore()`` error shown on the page in the package's own words.

See browser_support.py for how Chromium is found (and when these tests skip).
"""

from __future__ import annotations

import json

import pytest

from tests.browser_support import (
    ARTIFACTS,
    ROOT,
    assert_no_errors_shown,
    free_port,
    kernel_env,
    page_exceptions,
    require_voila,
    screenshot,
    serve,
    voila_command,
)

PAGE_TIMEOUT_MS = 180_000
CASES = {
    "text": 'case = zoo.build("text_transformer")',
    "timeseries": 'case = zoo.build("timeseries_fcn")',
    "segmentation": 'case = zoo.build("unet")',
}
RUNS_CELLS = [
    f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom tests.test_runs import write_runs",
    "import pathlib, tempfile\nimport nnwidgets as nw\n"
    "folder = pathlib.Path(tempfile.mkdtemp())\nwrite_runs(folder)\n"
    "runs = nw.RunComparison(folder, follow=False)\nruns.reload()\nruns",
]
ERROR_CELL = """case = zoo.build("dict_tabular")
nw.explore(case.model, {"num": case.x["num"]})  # "cat" is missing"""


def _notebook(source: str | list) -> dict:
    setup = f"import sys\nsys.path.insert(0, {str(ROOT)!r})\nfrom tests import zoo\nimport nnwidgets as nw"
    cells = source if isinstance(source, list) else [setup, source]
    if isinstance(source, str) and "explore" not in source:
        cells.append("nw.explore(case.model, case.x, case.y, **case.kwargs)")
    return {
        "cells": [
            {
                "cell_type": "code",
                "metadata": {},
                "source": c,
                "outputs": [],
                "execution_count": None,
            }
            for c in cells
        ],
        "metadata": {
            "kernelspec": {"name": "python3", "display_name": "Python 3", "language": "python"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


@pytest.fixture(scope="module")
def voila_root():
    """Serve a folder of small notebooks (one zoo model each) with Voila; tracebacks
    are stripped, as on a published server."""
    require_voila()
    folder = ARTIFACTS / "kinds-notebooks"
    folder.mkdir(parents=True, exist_ok=True)
    for name, source in {**CASES, "error": ERROR_CELL, "runs": RUNS_CELLS}.items():
        (folder / f"{name}.ipynb").write_text(json.dumps(_notebook(source)))
    port = free_port()
    cmd = [a for a in voila_command(folder, port) if not a.startswith("--show_tracebacks")]
    with serve(cmd, port, "voila-kinds.log", env=kernel_env()):
        yield f"http://127.0.0.1:{port}/voila/render/"


def _open(page, url: str) -> None:
    page.goto(url, timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".nnw-explorer", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".nnw-predictions .nnw-prediction", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".nnw-activations svg.svg-figure", state="attached")


def _caption(page) -> str:
    """What the Prediction card says."""
    return page.inner_text(".nnw-predictions .nnw-prediction")


def test_text_model_shows_words(page, voila_root):
    _open(page, voila_root + "text.ipynb")
    assert_no_errors_shown(page)
    tokens = page.locator(".nnw-token").all_inner_texts()
    assert len(tokens) >= 5 and all(t and not t.isdigit() for t in tokens), tokens
    assert page.locator(".nnw-pad").first.inner_text().endswith("pre-padding]")
    caption = _caption(page)
    assert "predicted negative" in caption or "predicted positive" in caption, caption
    bars = page.locator(".nnw-predictions svg .tick text").all_text_contents()
    assert {"negative", "positive"} <= set(bars), bars
    screenshot(page, "kinds-text-0")
    page.locator(".nnw-explorer button[title='next input']").click()
    page.wait_for_function(
        "() => document.querySelector('.nnw-caption').innerText.includes('input 1 of')"
    )
    page.wait_for_function(
        "old => Array.from(document.querySelectorAll('.nnw-token')).map(e => e.innerText).join(' ') !== old",
        arg=" ".join(tokens),
    )
    screenshot(page, "kinds-text-1")


def test_time_series_shows_lines(page, voila_root):
    _open(page, voila_root + "timeseries.ipynb")
    assert_no_errors_shown(page)
    # the input is a line over 100 steps, not a grey picture
    line = page.locator(".nnw-explorer .widget-vbox svg path.line").first
    page.wait_for_function(
        "e => (e.getAttribute('d') || '').split('L').length > 50", arg=line.element_handle()
    )
    assert page.locator(".nnw-input-image").first.is_hidden()
    screenshot(page, "kinds-timeseries-0")
    select = page.locator(".nnw-layer-picker select")
    conv = [
        v for v in select.evaluate("s => Array.from(s.options).map(o => o.value)") if "Conv1D" in v
    ]
    select.select_option(value=conv[0])
    page.wait_for_function(
        "() => (document.querySelector('.nnw-activations .mainheading')?.textContent || '').includes('conv1d')"
    )
    screenshot(page, "kinds-timeseries-1-conv1d")


def test_segmentation_shows_masks(page, voila_root):
    _open(page, voila_root + "segmentation.ipynb")
    assert_no_errors_shown(page)
    for selector in ("img.nnw-mask-predicted", "img.nnw-mask-true"):
        src = page.locator(selector).first.get_attribute("src") or ""
        assert src.startswith(("blob:", "data:")), (selector, src)
    caption = _caption(page)
    assert "mask 32\u00d732" in caption and "(p=" not in caption, caption
    assert "background" in page.inner_text(".nnw-predictions")
    screenshot(page, "kinds-segmentation-0")


def test_explore_error_is_on_the_page(page, voila_root):
    page.goto(voila_root + "error.ipynb", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".nnw-error", timeout=PAGE_TIMEOUT_MS)
    text = page.inner_text(".nnw-error")
    assert "model expects inputs" in text and "missing ['cat']" in text, text
    screenshot(page, "kinds-error")


def _layer_shown(page, name: str) -> None:
    """Wait until the layer picker and the activation card show ``name``."""
    page.wait_for_function(
        """name => {
            const v = (document.querySelector('.nnw-layer-picker select')?.value || '')
                .replace(/^\\u2003+/, '');
            const card = document.querySelector('.nnw-activations')?.innerText || '';
            return v.split(' ')[0] === name && card.includes(name + ': output');
        }""",
        arg=name,
    )


def _in_viewport(page, node) -> bool:
    """Whether the middle of a graph node lies inside the drawing's SVG box."""
    box = node.bounding_box()
    svg = page.locator(".nnw-graph svg.nnw-graph-svg").bounding_box()
    if not box or not svg:
        return False
    cx, cy = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
    return svg["x"] + 5 < cx < svg["x"] + svg["width"] - 5 and (
        svg["y"] + 5 < cy < svg["y"] + svg["height"] - 5
    )


def test_text_model_graph_table_and_attention(page, voila_root):
    """The "Model" tab: a click in the graph picks the layer everywhere (graph, table,
    layer picker, activations); a click in the table moves the graph's selection. The
    "Attention" tab: the map is labelled with words, a click on a cell names what the
    token attends to."""
    from tests import zoo

    _open(page, voila_root + "text.ipynb")
    page.locator(".nnw-tabs .lm-TabBar-tab", has_text="Model").click()
    graph = page.locator(".nnw-graph")
    graph.locator("g.node").first.wait_for(state="visible")
    page.wait_for_selector(".nnw-layer-table tr.row")
    names = graph.locator("g.node text.name").all_text_contents()
    assert {"transformer_block", "global_average_pooling1d"} <= set(names), names
    assert graph.locator("path.edge").count() >= len(names) - 1
    rows = page.locator(".nnw-layer-table tr.row").evaluate_all("rs => rs.map(r => r.dataset.id)")
    assert "transformer_block/multi_head_attention" in rows, rows
    screenshot(page, "kinds-text-model-0")

    # a click on a node of the graph
    target = "global_average_pooling1d"
    node = graph.locator(f'g.node[data-id="{target}"]')
    if not _in_viewport(page, node):
        graph.locator("button.nnw-graph-fit").click()
        page.wait_for_timeout(400)  # the fit's transition
    assert _in_viewport(page, node)
    node.click()
    page.wait_for_function(
        "id => document.querySelector(`.nnw-graph g.node[data-id='${id}']`)"
        "?.classList.contains('selected')",
        arg=target,
    )
    page.wait_for_function(
        "id => document.querySelector(`.nnw-layer-table tr.row[data-id='${id}']`)"
        "?.classList.contains('selected')",
        arg=target,
    )
    _layer_shown(page, target)
    assert graph.locator("g.node.selected").count() == 1
    assert page.locator(".nnw-layer-table tr.row.selected").count() == 1
    screenshot(page, "kinds-text-model-1-graph-click")

    # a click on a row of the table: the last layer (the Dense head)
    head = rows[-1]
    page.locator(f'.nnw-layer-table tr.row[data-id="{head}"]').click()
    page.wait_for_function(
        "id => document.querySelector('.nnw-graph g.node.selected')?.dataset.id === id",
        arg=head,
    )
    _layer_shown(page, head)
    assert not graph.locator(f'g.node[data-id="{target}"]').evaluate(
        "e => e.classList.contains('selected')"
    )
    screenshot(page, "kinds-text-model-2-table-click")

    # the attention map, labelled with words
    page.locator(".nnw-tabs .lm-TabBar-tab", has_text="Attention").click()
    view = page.locator(".nnw-attention")
    view.locator("rect.heatmapcell").first.wait_for(state="visible")
    page.wait_for_function(
        "() => document.querySelectorAll('.nnw-attention .tick text').length >= 10"
    )
    ticks = [t.strip() for t in view.locator(".tick text").all_text_contents()]
    words = [t.removeprefix("\u25b6 ") for t in ticks if t and not t.isdigit()]
    assert len(set(words) & set(zoo.VOCABULARY)) >= 3, ticks
    assert not any(t.isdigit() for t in ticks), ticks
    before = view.inner_text()
    assert "click a row to pick a token" in before, before
    cells = view.locator("rect.heatmapcell")
    cells.nth(cells.count() - 2).click()  # the last query's row, a key next to the last
    page.wait_for_function(
        "() => / attends to /.test(document.querySelector('.nnw-attention').innerText)"
    )
    assert "attends to" in view.inner_text()
    screenshot(page, "kinds-text-attention")
    assert_no_errors_shown(page)
    assert not page_exceptions(page), page.problems


def test_run_comparison_curves_table_and_brushing(page, voila_root):
    """RunComparison in a page: a figure per tag with every run, the run table with
    coloured dots; a click on a row greys it and takes its curves away; a drag along the
    lr axis of the parallel coordinates greys the runs outside."""
    page.goto(voila_root + "runs.ipynb", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".nnw-runs svg.svg-figure", timeout=PAGE_TIMEOUT_MS)
    page.wait_for_selector(".nnw-runs .nnw-layer-table tr.row")
    page.wait_for_selector(".nnw-parallel path")
    titles = page.locator(".nnw-runs .svg-figure text.mainheading").all_text_contents()
    assert {"epoch_loss", "batch_loss"} <= {t.strip() for t in titles}, titles
    rows = page.locator(".nnw-runs tr.row")
    assert rows.evaluate_all("rs => rs.map(r => r.dataset.id)") == ["a", "b", "c"]
    color = rows.first.locator("td").first.evaluate("td => getComputedStyle(td).color")
    assert color == "rgb(76, 120, 168)", color  # run 1's colour, as in the live plot
    visible = (
        "() => [...document.querySelectorAll('.nnw-runs .svg-figure path.line')]"
        ".filter(p => (p.getAttribute('d') || '').length > 8"
        " && p.getBoundingClientRect().width + p.getBoundingClientRect().height > 0).length"
    )
    drawn = page.evaluate(visible)
    assert drawn == 3 * 2 + 3, drawn  # epoch_loss: train and validation; batch_loss: train
    screenshot(page, "runs-0")

    rows.nth(1).click()  # hide run b
    page.wait_for_function(
        "() => document.querySelector('.nnw-runs tr.row[data-id=b]')?.classList.contains('dim')"
    )
    page.wait_for_function(f"() => ({visible})() === {drawn - 3}")
    screenshot(page, "runs-1-hidden")

    axis = page.locator('.nnw-parallel rect.hit[data-key="lr"]')
    box = axis.bounding_box()
    x = box["x"] + box["width"] / 2
    page.mouse.move(x, box["y"] + 1)  # above the top of the lr axis: the largest rates
    page.mouse.down()
    page.mouse.move(x, box["y"] + box["height"] * 0.3, steps=5)
    page.mouse.up()
    page.wait_for_function("() => document.querySelectorAll('.nnw-parallel path.dim').length >= 1")
    page.wait_for_function(  # a passes (lr 0.1); b is hidden, still listed to show again
        "() => [...document.querySelectorAll('.nnw-runs tr.row')].map(r => r.dataset.id)"
        ".join() === 'a,b'"
    )
    screenshot(page, "runs-2-brushed")
    assert not page_exceptions(page)
