"""Browser-side cost of a click: from choosing a layer or an input to the page redrawn.

Each model's notebook is served by Voila and opened in headless Chromium; each switch is
timed in the page from the choice to the redraw, with the WebSocket frames and the
kernel's timestamps telling where the time went. How, in detail: benchmarks/browser/
(the package's docstring; the in-page code is benchmarks/browser/measure.js).

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_browser            # both models, 15 + 15 switches
    .venv/bin/python -m benchmarks.bench_browser --quick --model cnn
    .venv/bin/python -m benchmarks.bench_browser -v --trace /tmp/nnw-traces

Needs voila, playwright (Python) and Chromium at /usr/bin/chromium (or $NNW_CHROMIUM);
Playwright's own browser download is never used. Figures are noisy on a shared machine:
compare medians from the same run, not absolutes across machines.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from pathlib import Path

from benchmarks.browser.cases import cases
from benchmarks.browser.measure import run_case
from benchmarks.browser.report import print_tables
from tests.browser_support import CHROMIUM, CHROMIUM_ARGS


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--model", choices=["cnn", "mobilenet", "densenet", "all"], default="all")
    parser.add_argument("--quick", action="store_true", help="5 switches of each kind")
    parser.add_argument("--repeat", type=int, help="switches of each kind (default 15)")
    parser.add_argument("--warmup", type=int, default=1, help="unmeasured rounds first")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds per switch")
    parser.add_argument("--verbose", "-v", action="store_true", help="one line per switch")
    parser.add_argument(
        "--trace",
        type=Path,
        metavar="DIR",
        help="record Chrome traces of the switches into DIR and break the page's main "
        "thread time down (tracing slows the page a little)",
    )
    parser.add_argument("--keep", action="store_true", help="keep the temp dir (Voila logs)")
    args = parser.parse_args(argv)
    args.repeat = args.repeat or (5 if args.quick else 15)

    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        print("playwright is not installed (pip install -e '.[test]')", file=sys.stderr)
        return 2
    if not os.access(CHROMIUM, os.X_OK):
        print(f"no Chromium at {CHROMIUM} (set NNW_CHROMIUM)", file=sys.stderr)
        return 2
    keys = ["cnn", "mobilenet", "densenet"] if args.model == "all" else [args.model]
    # every input step must be a first visit: the state caches the inputs it has run
    all_cases = cases(n_inputs=max(16, args.repeat + 2 * args.warmup + 2))
    workdir = Path(tempfile.mkdtemp(prefix="nnw-bench-browser-"))
    rows = []
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
            try:
                for key in keys:
                    case = all_cases[key]
                    print(
                        f"{case.title}: {args.repeat} layer switches cycling over "
                        f"{', '.join(case.layers)}; {args.repeat} input steps on "
                        f"{case.input_layer}",
                        flush=True,
                    )
                    layers, inputs = run_case(browser, case, args, workdir)
                    rows += [(case, "layer", layers), (case, "input", inputs)]
            finally:
                browser.close()
    finally:
        if args.keep:
            print(f"notebooks and Voila logs kept in {workdir}")
        else:
            shutil.rmtree(workdir, ignore_errors=True)
    print()
    print_tables(rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
