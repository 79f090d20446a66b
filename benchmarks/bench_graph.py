"""What the model graph, the layer table and the attention view cost: in the kernel and,
in Voila, from a click to the page settled.

Side by side in one run (no assertions; goals in brackets):

- ``graph build``: ``ModelGraph(state)`` made (the first: Keras' node graph, the layer
  descriptions and the layout; then the median of ``--repeats`` new views of the same
  state) and the bytes of ``json.dumps(view.canvas.graph)``, for MobileNetV2 (96x96)
  and DenseNet121 (64x64), untrained [<= 2 s, <= 1 MB];
- ``toggle``: a nested MobileNetV2 (transfer-learning style) opened and closed in
  the graph (``expanded`` set, the layout computed again) and the bytes when open;
- ``attention (kernel)``: an AttentionView of a 4-head MultiHeadAttention over 16, 128
  and 512 tokens: ``token`` set, ``head`` set, and the first draw of a new input
  (scores computed, not cached);
- ``browser``: in Voila (headless Chromium), the dashboard's "Model" tab open, a click
  on a graph node against a choice in the layer picker (the same layers, alternating,
  after every layer was visited once): the time from the click to the last DOM change
  under ``.nnw-explorer`` (a MutationObserver waits for 300 ms of quiet); and in the
  attention view, a click on a map cell to the caption naming the new token, and to the
  last DOM change.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_graph            # about 4 minutes
    .venv/bin/python -m benchmarks.bench_graph --quick    # fewer repeats and clicks
    .venv/bin/python -m benchmarks.bench_graph --no-browser

Needs voila, playwright (Python) and Chromium at /usr/bin/chromium (or $NNW_CHROMIUM)
for the browser part.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks import median_ms, print_table  # noqa: E402

# AttentionView's scores of each new input retrace a tf.function; TensorFlow's warning
# about it would fill the table's output (the time is in "new input ms").
logging.getLogger("tensorflow").setLevel(logging.ERROR)

TOKENS = (16, 128, 512)
VOCAB = ["[pad]", "[UNK]", *(f"w{i}" for i in range(98))]


# -- models -----------------------------------------------------------------------
def _mobilenet(n: int = 4):
    import keras

    model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None)
    return model, np.random.default_rng(0).random((n, 96, 96, 3), dtype=np.float32)


def _densenet(n: int = 4):
    import keras

    model = keras.applications.DenseNet121(input_shape=(64, 64, 3), weights=None, classes=10)
    return model, np.random.default_rng(0).random((n, 64, 64, 3), dtype=np.float32)


def _nested(n: int = 4):
    """A MobileNetV2 inside a functional model, as transfer learning builds it."""
    import keras

    base = keras.applications.MobileNetV2(
        input_shape=(96, 96, 3), weights=None, include_top=False, name="mobilenetv2_base"
    )
    inputs = keras.Input((96, 96, 3))
    x = base(inputs)
    x = keras.layers.GlobalAveragePooling2D()(x)
    outputs = keras.layers.Dense(10, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    return model, np.random.default_rng(0).random((n, 96, 96, 3), dtype=np.float32), base.name


ATTENTION_MODEL = """
def attention_model(tokens, vocab=100, dim=32, heads=4, n=4):
    import keras
    inputs = keras.Input((tokens,), dtype="int32")
    x = keras.layers.Embedding(vocab, dim, mask_zero=True)(inputs)
    x = keras.layers.MultiHeadAttention(heads, dim // heads, name="mha")(x, x)
    x = keras.layers.GlobalAveragePooling1D()(x)
    outputs = keras.layers.Dense(2, activation="softmax")(x)
    model = keras.Model(inputs, outputs)
    rng = np.random.default_rng(0)
    x = rng.integers(2, vocab, size=(n, tokens)).astype("int32")
    for i in range(n):  # some pre-padding
        x[i, : int(rng.integers(0, tokens // 4 + 1))] = 0
    return model, x
"""
_scope: dict = {"np": np}
exec(ATTENTION_MODEL, _scope)  # the same code runs in the browser's notebook
attention_model = _scope["attention_model"]


# -- kernel side --------------------------------------------------------------------
def graph_build(repeats: int) -> list[dict]:
    import nnwidgets as nw
    from nnwidgets.views.model_graph import ModelGraph

    rows = []
    for title, make in (("MobileNetV2 96", _mobilenet), ("DenseNet121 64", _densenet)):
        model, x = make()
        state = nw.ModelState(model, x)
        start = time.perf_counter()
        view = ModelGraph(state)
        first = (time.perf_counter() - start) * 1000
        size = len(json.dumps(view.canvas.graph))
        nodes = len(view.nodes)
        view.close()
        views = []

        def build(views=views, state=state):
            views.append(ModelGraph(state))

        again = median_ms(build, repeats)
        for v in views:
            v.close()
        rows.append(
            {
                "model": title,
                "layers": len(model.layers),
                "nodes": nodes,
                "first build ms": first,
                "build ms": again,
                "graph bytes": size,
            }
        )
        print(rows[-1], flush=True)
    return rows


def toggle(repeats: int) -> dict:
    import nnwidgets as nw
    from nnwidgets.views.model_graph import ModelGraph

    model, x, nested = _nested()
    state = nw.ModelState(model, x)
    view = ModelGraph(state)
    closed = len(json.dumps(view.canvas.graph))
    opens, shuts = [], []
    for _ in range(repeats):
        start = time.perf_counter()
        view._on_message(view.canvas, {"toggle": nested}, None)  # as the page's ▸ does
        opens.append(time.perf_counter() - start)
        nodes_open, size_open = len(view.nodes), len(json.dumps(view.canvas.graph))
        start = time.perf_counter()
        view._on_message(view.canvas, {"toggle": nested}, None)
        shuts.append(time.perf_counter() - start)
    view.close()
    row = {
        "model": "MobileNetV2 96 nested",
        "nodes closed / open": f"{len(view.nodes)} / {nodes_open}",
        "open ms": statistics.median(opens) * 1000,
        "close ms": statistics.median(shuts) * 1000,
        "bytes closed / open": f"{closed:,} / {size_open:,}",
    }
    print(row, flush=True)
    return row


def attention_kernel(repeats: int) -> list[dict]:
    import nnwidgets as nw
    from nnwidgets.views.attention import AttentionView

    rows = []
    for tokens in TOKENS:
        model, x = attention_model(tokens, n=max(4, repeats + 2))
        state = nw.ModelState(model, x, vocabulary=VOCAB)
        start = time.perf_counter()
        view = AttentionView(state)
        first = (time.perf_counter() - start) * 1000
        positions = iter(np.random.default_rng(1).integers(tokens // 2, tokens, size=10**4))
        heads = iter([0, 1, 2, 3, None] * 10**4)
        inputs = iter(range(1, 10**4))

        def token(view=view, positions=positions):
            view.token = int(next(positions))

        def head(view=view, heads=heads):
            view.head = next(heads)

        def new_input(state=state, inputs=inputs):
            state.input_index = next(inputs) % state.n_inputs  # new scores each time

        row = {
            "tokens": tokens,
            "view made ms": first,
            "token ms": median_ms(token, repeats * 2),
            "head ms": median_ms(head, repeats * 2),
            "new input ms": median_ms(new_input, min(repeats, state.n_inputs - 1)),
            "drawn": f"{view.shown.shape[0]}x{view.shown.shape[1]}",
        }
        view.close()
        rows.append(row)
        print(row, flush=True)
    return rows


# -- browser side ------------------------------------------------------------------
# Click (a graph node, a layer picker option or a map cell) and resolve with the time to
# ``cond`` (when given) and to the last DOM change under ``root`` before ``quiet`` ms of
# none (the 300 ms are not counted).
SETTLE_JS = """async ([how, target, root, condSrc, quiet]) => {
    const box = document.querySelector(root);
    const cond = condSrc ? new Function('return (' + condSrc + ')')() : null;
    return await new Promise((resolve) => {
        let last = null, hit = null, timer = null;
        const t0 = performance.now();
        const done = () => { obs.disconnect(); resolve({settled: last === null ? 0 : last - t0,
                                                        cond: hit === null ? null : hit - t0}); };
        const obs = new MutationObserver(() => {
            last = performance.now();
            if (cond && hit === null && cond()) hit = last;
            clearTimeout(timer);
            timer = setTimeout(done, quiet);
        });
        obs.observe(box, {subtree: true, attributes: true, childList: true, characterData: true});
        if (how === 'node' || how === 'cell') {
            const el = how === 'node'
                ? document.querySelector(`.nnw-graph g.node[data-id="${target}"]`)
                : box.querySelectorAll('rect.heatmapcell')[target];
            el.dispatchEvent(new MouseEvent('click', {bubbles: true}));
        } else {
            const select = document.querySelector('.nnw-layer-picker select');
            select.value = target;
            select.dispatchEvent(new Event('change', {bubbles: true}));
        }
        timer = setTimeout(done, 60000);
    });
}"""


def _notebook(code: str) -> dict:
    setup = (
        'import os\nos.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"\n'
        "import numpy as np\nimport nnwidgets as nw\n"
    )
    cell = {"cell_type": "code", "execution_count": None, "metadata": {}, "outputs": []}
    return {
        "cells": [{**cell, "id": "a", "source": setup + code}],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


DASHBOARDS = {
    "cnn": (
        "digits CNN",
        "x, y = nw.datasets.load_digits(200)\nmodel = nw.datasets.demo_model()\n",
        ["conv1", "conv2", "pool", "dense", "probs"],
    ),
    "mobilenet": (
        "MobileNetV2 96",
        "import keras\n"
        "model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None)\n"
        "x = np.random.default_rng(0).random((8, 96, 96, 3), dtype=np.float32)\ny = None\n",
        ["Conv1", "block_3_project", "block_8_add", "block_16_project", "predictions"],
    ),
}


def _settle(page, how, target, cond=None, root=".nnw-explorer") -> dict:
    return page.evaluate(SETTLE_JS, [how, target, root, cond, 300])


def browser_clicks(browser, url: str, key: str, clicks: int) -> dict:
    title, _, layers = DASHBOARDS[key]
    page = browser.new_page(viewport={"width": 1400, "height": 1000})
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(url, timeout=300_000)
    page.wait_for_selector(".nnw-activations svg.svg-figure", state="attached", timeout=300_000)
    page.locator(".nnw-tabs .lm-TabBar-tab", has_text="Model").click()
    page.wait_for_selector(".nnw-graph g.node", timeout=300_000)
    page.wait_for_selector(".nnw-layer-table tr.row", timeout=300_000)
    page.wait_for_timeout(1000)
    values = page.eval_on_selector(
        ".nnw-layer-picker select", "s => Array.from(s.options).map(o => o.value)"
    )
    options = {v.lstrip("\u2003").split(" ")[0]: v for v in values}
    for name in layers:  # warm-up: every layer once (compiles, caches)
        _settle(page, "picker", options[name])
    graph, picker = [], []
    for i in range(clicks):
        for j, name in enumerate(layers):
            # graph and picker alternate, each onto a layer the other just left
            how = "node" if (i + j) % 2 == 0 else "picker"
            target = name if how == "node" else options[name]
            (graph if how == "node" else picker).append(_settle(page, how, target)["settled"])
    row = {
        "model": title,
        "graph click ms": statistics.median(graph),
        "graph max ms": max(graph),
        "picker ms": statistics.median(picker),
        "picker max ms": max(picker),
        "clicks": f"{len(graph)} + {len(picker)}",
        "page errors": len(errors),
    }
    page.close()
    print(row, flush=True)
    return row


CAPTION_COND = """() => {
    const t = document.querySelector(window.__nnwRoot)?.innerText || '';
    const m = t.match(/\\(pos (\\d+)\\) (attends to|is padding)/);
    return !!m && m[1] !== window.__nnwBefore;
}"""


def browser_attention(page, tokens: int, clicks: int) -> dict:
    root = f".nnw-att-{tokens}"
    page.wait_for_selector(f"{root} rect.heatmapcell", timeout=300_000)
    page.locator(root).scroll_into_view_if_needed()
    page.evaluate("root => { window.__nnwRoot = root; }", root)
    cells = page.locator(f"{root} rect.heatmapcell").count()
    side = round(cells**0.5)
    rng = np.random.default_rng(2)
    caption, settled = [], []
    for i in range(clicks + 1):
        page.evaluate(
            """root => { const m = (document.querySelector(root).innerText || '')
                                  .match(/\\(pos (\\d+)\\)/);
                       window.__nnwBefore = m ? m[1] : null; }""",
            root,
        )
        cell = int(rng.integers(0, side)) * side + int(rng.integers(0, side))
        res = _settle(page, "cell", cell, CAPTION_COND, root=root)
        if i:  # the first click: the caption goes from no token to one
            caption.append(res["cond"])
            settled.append(res["settled"])
    done = [c for c in caption if c is not None]
    row = {
        "tokens": tokens,
        "cells drawn": cells,
        "click to caption ms": statistics.median(done) if done else None,
        "click to settled ms": statistics.median(settled),
        "max settled ms": max(settled),
        "clicks": f"{len(done)}/{len(caption)}",
    }
    print(row, flush=True)
    return row


def browser_part(clicks: int, attention_clicks: int) -> tuple[list[dict], list[dict]]:
    from playwright.sync_api import sync_playwright

    from benchmarks.browser.page import voila
    from tests.browser_support import CHROMIUM, CHROMIUM_ARGS

    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        for key, (_, setup, _) in DASHBOARDS.items():
            code = setup + "app = nw.explore(model, x, y)\ndisplay(app)\n"
            (work / f"{key}.ipynb").write_text(json.dumps(_notebook(code)))
        code = (
            ATTENTION_MODEL
            + "import ipywidgets as W\nviews = []\n"
            + f"for tokens in {TOKENS!r}:\n"
            + "    model, x = attention_model(tokens)\n"
            + f"    state = nw.ModelState(model, x, vocabulary={VOCAB!r})\n"
            + "    views.append(nw.AttentionView(state, token=0))\n"
            + "    views[-1].add_class(f'nnw-att-{tokens}')\n"
            + "display(W.VBox(views))\n"
        )
        (work / "attention.ipynb").write_text(json.dumps(_notebook(code)))
        log = Path(__file__).resolve().parents[1] / "tests" / "artifacts" / "bench_graph_voila.log"
        with voila(work, log, timeout=120) as root, sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                base = root + "voila/render/"
                dash = [browser_clicks(browser, base + f"{k}.ipynb", k, clicks) for k in DASHBOARDS]
                page = browser.new_page(viewport={"width": 1400, "height": 1000})
                errors: list[str] = []
                page.on("pageerror", lambda err: errors.append(str(err)))
                page.goto(base + "attention.ipynb", timeout=300_000)
                page.wait_for_timeout(1000)
                att = [browser_attention(page, t, attention_clicks) for t in TOKENS]
                for row in att:
                    row["page errors"] = len(errors)
                page.close()
            finally:
                browser.close()
    return dash, att


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="fewer repeats and clicks")
    parser.add_argument("--no-browser", action="store_true", help="the kernel side only")
    args = parser.parse_args()
    repeats, clicks, att_clicks = (3, 2, 5) if args.quick else (5, 4, 10)

    start = time.monotonic()
    builds = graph_build(repeats)
    toggled = toggle(repeats)
    attention = attention_kernel(repeats)
    print(f"(kernel side: {time.monotonic() - start:.0f} s)", flush=True)
    dash = att = None
    if not args.no_browser:
        dash, att = browser_part(clicks, att_clicks)
        print(f"(in all: {time.monotonic() - start:.0f} s)", flush=True)

    print_table("graph build (goal: <= 2 s, <= 1 MB)", builds)
    print_table("toggle: a nested model opened / closed in the graph", [toggled])
    print_table("attention view, kernel side (4 heads, window 48)", attention)
    if dash:
        print_table("browser: click to the dashboard settled (last DOM change)", dash)
        print_table("browser: attention map cell click", att)


if __name__ == "__main__":
    main()
