"""Browser time of an input click to a redrawn attribution map (the dashboard's Explain tab).

Each model's dashboard (``nw.explore(model, x, y)``) is served by Voila and opened in
headless Chromium; the Explain tab is opened and its first map awaited (it compiles).
Then, ``--clicks`` times, the page clicks "next input" and a MutationObserver, set up
before the click, waits until the attribution picture's ``href`` changed; one animation
frame later the time is taken (``performance.now()`` in the page: the kernel's round
trip, the map, and the page's redraw). Methods: Grad-CAM (the default) and, with
``--methods``, others chosen in the method dropdown first.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_attribution_browser            # about 3 minutes
    .venv/bin/python -m benchmarks.bench_attribution_browser --model cnn --clicks 5

Needs voila, playwright (Python) and Chromium at /usr/bin/chromium (or $NNW_CHROMIUM).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
from pathlib import Path

from benchmarks.browser.page import voila
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS

SETUPS = {
    "cnn": (
        "digits CNN",
        "x, y = nw.datasets.load_digits(200)\nmodel = nw.datasets.demo_model()\n",
    ),
    "mobilenet": (
        "MobileNetV2 96",
        "import keras\nimport numpy as np\n"
        "model = keras.applications.MobileNetV2(input_shape=(96, 96, 3), weights=None)\n"
        "x = np.random.default_rng(0).random((40, 96, 96, 3), dtype=np.float32)\ny = None\n",
    ),
}
IMAGE = ".nnw-attribution .nnw-attribution-picture svg image"
CLICK_JS = """async ([sel, button]) => {
    const root = document.querySelector('.nnw-attribution');
    const href = () => { const e = document.querySelector(sel);
        return e && (e.getAttribute('href') || e.getAttribute('xlink:href')); };
    const before = href();
    return await new Promise((resolve) => {
        const t0 = performance.now();
        const obs = new MutationObserver(() => {
            const now = href();
            if (now && now !== before) {
                obs.disconnect();
                requestAnimationFrame(() => resolve(performance.now() - t0));
            }
        });
        obs.observe(root, {subtree: true, attributes: true, childList: true});
        document.querySelector(button).click();
        setTimeout(() => { obs.disconnect(); resolve(null); }, 30000);
    });
}"""
NEXT = ".nnw-explorer button[title='next input']"


def _notebook(setup: str) -> dict:
    code = (
        'import os\nos.environ["TF_CPP_MIN_LOG_LEVEL"] = "3"\nimport nnwidgets as nw\n'
        f"{setup}app = nw.explore(model, x, y)\ndisplay(app)\n"
    )
    cell = {"cell_type": "code", "execution_count": None, "id": "b", "metadata": {}}
    return {
        "cells": [{**cell, "outputs": [], "source": code}],
        "metadata": {
            "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"}
        },
        "nbformat": 4,
        "nbformat_minor": 5,
    }


def _method(page, label: str) -> None:
    page.locator(".nnw-attribution .nnw-method select").select_option(label=label)
    page.wait_for_function(
        """(label) => (document.querySelector('.nnw-attribution .nnw-explained')?.innerText || '')
                          .includes(label)
              && !(document.querySelector('.nnw-attribution')?.innerText || '').includes('computing')""",
        arg=label,
        timeout=300_000,
    )


def run_model(browser, key: str, clicks: int, methods: list[str], work: Path) -> dict:
    title, setup = SETUPS[key]
    nb = work / f"attr_{key}.ipynb"
    nb.write_text(json.dumps(_notebook(setup)))
    result = {"model": title}
    with voila(nb, work / f"voila_{key}.log", timeout=300) as url:
        page = browser.new_page(viewport={"width": 1400, "height": 1000})
        page.goto(url, timeout=300_000)
        page.wait_for_selector(".nnw-tabs", timeout=300_000)
        page.locator(".nnw-tabs .lm-TabBar-tab", has_text="Explain").click()
        page.wait_for_selector(IMAGE, state="attached", timeout=300_000)
        for label in methods:
            if label != "Grad-CAM":
                _method(page, label)
            page.evaluate(CLICK_JS, [IMAGE, NEXT])  # the method's first click: compiles
            times = [page.evaluate(CLICK_JS, [IMAGE, NEXT]) for _ in range(clicks)]
            done = [t for t in times if t is not None]
            result[label] = {
                "median_ms": statistics.median(done) if done else None,
                "max_ms": max(done) if done else None,
                "timeouts": len(times) - len(done),
            }
            print(
                f"  {title:16s} {label:22s} median {result[label]['median_ms']:7.1f} ms"
                f"  max {result[label]['max_ms']:7.1f} ms  ({len(done)} clicks)",
                flush=True,
            )
        page.close()
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", choices=[*SETUPS, "all"], default="all")
    parser.add_argument("--clicks", type=int, default=10)
    parser.add_argument(
        "--methods",
        default="Grad-CAM,saliency,integrated gradients",
        help="labels of the method dropdown, comma-separated",
    )
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    keys = list(SETUPS) if args.model == "all" else [args.model]
    methods = [m.strip() for m in args.methods.split(",") if m.strip()]
    out = Path(__file__).resolve().parents[1] / "tests" / "artifacts" / "bench_attribution"
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        try:
            for key in keys:
                result = run_model(browser, key, args.clicks, methods, Path(tmp))
                with open(out / "browser.jsonl", "a") as f:
                    f.write(json.dumps(result) + "\n")
        finally:
            browser.close()


if __name__ == "__main__":
    main()
