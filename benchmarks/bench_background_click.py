"""Python-side cost of a click while the same model trains in a background thread.

The model is the Xception-like network of keras-io's "Image classification from scratch"
(180x180 inputs). Clicks (layer and input switches, in turn) are timed with no training,
then while ``app.training.fit_in_background`` trains it, side by side in one process: a
click returns once every linked view has drawn (drawing is synchronous). Run with
``make bench``; ``--quick`` for a short run on smaller images. Figures go into the issue
notes, never into tests.
"""

from __future__ import annotations

import os
import statistics
import sys
import threading
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

FULL = {"side": 180, "samples": 64, "idle_clicks": 16, "busy_clicks": 60, "pause": 0.3}
QUICK = {"side": 96, "samples": 32, "idle_clicks": 8, "busy_clicks": 16, "pause": 0.3}


def _click(state, i: int) -> tuple[str, float]:
    """Click ``i``: a layer switch when even, an input switch when odd; milliseconds."""
    t = time.perf_counter()
    if i % 2 == 0:
        state.layer = state.layer_names[(i * 7 + 1) % len(state.layer_names)]
    else:
        state.input_index = (state.input_index + 5) % state.n_inputs
    return ("layer" if i % 2 == 0 else "input"), (time.perf_counter() - t) * 1000


def _clicks(state, n: int, pause: float, start: int = 0) -> dict[str, list[float]]:
    """``n`` clicks ``pause`` seconds apart (a person's pace, which lets training move
    on between clicks); milliseconds by kind."""
    times: dict[str, list[float]] = {"layer": [], "input": []}
    for i in range(start, start + n):
        kind, ms = _click(state, i)
        times[kind].append(ms)
        time.sleep(pause)
    return times


def _clicks_as_refreshes_start(state, probe, n: int, start: int) -> dict[str, list[float]]:
    """``n`` clicks, each made as the training thread starts redrawing the views (the
    moment the views' lock is most likely taken)."""
    started = threading.Event()
    record = probe.record

    def record_and_say(session, event):
        started.set()
        return record(session, event)

    probe.record = record_and_say
    times: dict[str, list[float]] = {"layer": [], "input": []}
    try:
        for i in range(start, start + n):
            started.clear()
            if not started.wait(timeout=300):
                break
            kind, ms = _click(state, i)
            times[kind].append(ms)
    finally:
        probe.record = record
    return times


def _cell(times: list[float]) -> str:
    return f"{statistics.median(times):6.0f} / {max(times):5.0f}" if times else "-"


def bench(side: int, samples: int, idle_clicks: int, busy_clicks: int, pause: float) -> None:
    import keras

    import nnwidgets as nw
    from nnwidgets.testing import wait_for
    from tests.zoo import xception_model

    keras.utils.set_random_seed(0)
    model = xception_model((side, side, 3))
    model.compile(
        optimizer=keras.optimizers.Adam(3e-4),
        loss=keras.losses.BinaryCrossentropy(),
        metrics=[keras.metrics.BinaryAccuracy(name="acc")],
    )
    rng = np.random.default_rng(0)
    x = (rng.random((samples, side, side, 3)) * 255).astype("float32")
    y = rng.integers(0, 2, (samples, 1)).astype("float32")
    app = nw.explore(model, x, y)
    state = app.state
    rows = {"idle": _clicks(state, idle_clicks, pause)}
    steps: list[float] = []

    class StepTimes(keras.callbacks.Callback):
        def on_train_batch_begin(self, batch, logs=None):
            self._t = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            steps.append(time.perf_counter() - self._t)

    job = app.training.fit_in_background(
        model, x, y, epochs=1000, batch_size=8, callbacks=[StepTimes()]
    )
    try:
        wait_for(lambda: len(steps) >= 1, timeout=600)  # the first step compiles: not a click
        rows["training"] = _clicks(state, busy_clicks, pause, start=idle_clicks)
        rows["as a view refresh starts"] = _clicks_as_refreshes_start(
            state, app.training.refresh_probe, max(2, busy_clicks // 15), idle_clicks
        )
    finally:
        job.stop()
        job.join(600)
    print(f"\nXception-like {side}x{side}, {len(state.layer_names)} layers, batch 8, ", end="")
    print(f"training step {statistics.median(steps[1:] or steps):.1f} s (median)")
    print(f"  {'click ms, median / max':26s} {'layer switch':>15s} {'input switch':>15s}")
    for name, times in rows.items():
        print(f"  {name:26s} {_cell(times['layer']):>15s} {_cell(times['input']):>15s}")
    idle = max(rows["idle"]["layer"] + rows["idle"]["input"])
    busy = max(
        t for name in rows if name != "idle" for t in rows[name]["layer"] + rows[name]["input"]
    )
    print(f"  slowest click: idle {idle:.0f} ms, training {busy:.0f} ms ({busy / idle:.1f}x)")


def main(argv: list[str]) -> None:
    bench(**(QUICK if "--quick" in argv else FULL))


if __name__ == "__main__":
    main(sys.argv[1:])
