"""Browser-side cost of a click: from choosing a layer or an input to the page redrawn.

How ``python -m benchmarks.bench_browser`` (benchmarks/bench_browser.py) measures; the
code that runs in the page is measure.js, in this directory.

Each model gets a small notebook (written to a temp dir) served by Voila from this venv
and opened in headless Chromium (Debian's, through Playwright). In the page, right
before the choice is dispatched, ``t0 = performance.now()``; a MutationObserver (set up
before ``t0``) watches the dashboard until every view that must change has changed:

- layer switch: the weights picture (its ``<image>`` href and figure title), or the
  "no weights" view, and the activations (picture, or bars / line for vectors);
- input switch: the activations and the input picture.

One ``requestAnimationFrame`` later, ``t1 = performance.now()``. A switch that takes
longer than ``--timeout`` seconds counts as a timeout. Layer switches cycle over layers
of different kinds, so the first pass visits each layer for the first time (its weight
picture is then computed; later visits hit the view's cache); every input step is an
input the state has not run yet.

The page's WebSocket is wrapped (before Jupyter opens it) to log every frame with its
arrival time, so each switch also reports the messages and bytes received up to ``t1``
and where the time went, from the kernel's own message timestamps (same machine, same
wall clock): t0 to the kernel starting, Python (kernel busy to idle), how late the page
got the kernel's last message, and the page's own tail after the last message it needed.
``--trace DIR`` also records Chrome traces and splits the page's main-thread time
between t0 and t1 into script, style and layout, paint and GC.

Modules: cases (the models and their notebooks), page (Voila, the page and the script in
it), switch (one switch's records, summarised), trace (Chrome traces), measure (the
switches of one model), report (the tables).
"""
