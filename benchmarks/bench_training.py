"""Share of ``fit`` time spent in the live-training callback, side by side with keras'
TensorBoard callback, and the cost of one batch hook on a long synthetic run.

Run with ``make bench``. Runs are interleaved and the median of ``REPEAT`` is reported.
"""

from __future__ import annotations

import os
import statistics
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPEAT = 3
EPOCHS = 5


HOOKS = ("on_train_begin", "on_epoch_begin", "on_train_batch_end", "on_epoch_end", "on_train_end")


def _timed(callback, spent: list, hooks=HOOKS) -> object:
    """Wrap a callback's ``hooks`` so that the time spent inside them is added to ``spent``."""
    for name in hooks:
        original = getattr(callback, name)

        def hook(*args, _original=original, **kwargs):
            t = time.perf_counter()
            try:
                return _original(*args, **kwargs)
            finally:
                spent[0] += time.perf_counter() - t

        setattr(callback, name, hook)
    return callback


def _fit_seconds(make_callbacks, x, y) -> tuple[float, float]:
    """Wall time of ``fit`` and the time spent inside the callbacks' hooks."""
    import nnwidgets as nw

    model = nw.datasets.demo_model()
    model.fit(x[:64], y[:64], epochs=1, batch_size=32, verbose=0)  # compile outside timing
    spent = [0.0]
    callbacks = [_timed(cb, spent) for cb in make_callbacks(model)]
    t = time.perf_counter()
    model.fit(
        x, y, epochs=EPOCHS, batch_size=32, validation_split=0.2, verbose=0, callbacks=callbacks
    )
    return time.perf_counter() - t, spent[0]


def _livelossplot(model) -> list:
    """livelossplot's Keras callback, its matplotlib figure rendered as a notebook would."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
        from livelossplot import PlotLossesKeras
        from livelossplot.outputs import MatplotlibPlot
    except ImportError:
        return []

    def render(fig):
        fig.canvas.draw()
        plt.close(fig)

    return [PlotLossesKeras(outputs=[MatplotlibPlot(after_plots=render)])]


def overhead() -> None:
    import keras

    import nnwidgets as nw

    x, y = nw.datasets.load_digits()
    variants = {
        "no callback": lambda m: [],
        "LiveTrainingPlot": lambda m: [nw.LiveTrainingPlot().callback],
        "LiveTrainingPlot + views": lambda m: [nw.explore(m, x[:50], y[:50]).training.callback],
        "TensorBoard(update_freq='batch')": lambda m: [
            keras.callbacks.TensorBoard(tempfile.mkdtemp(), update_freq="batch")
        ],
        "livelossplot (per epoch, matplotlib)": _livelossplot,
    }
    times = {name: [] for name in variants}
    shares = {name: [] for name in variants}
    for _ in range(REPEAT):
        for name, make in variants.items():
            wall, hooks = _fit_seconds(make, x, y)
            times[name].append(wall)
            shares[name].append(100 * hooks / wall)
    base = statistics.median(times["no callback"])
    print(f"\nfit: digits CNN, {len(x)} samples, {EPOCHS} epochs, batch 32, median of {REPEAT}")
    print(f"  {'callback':38s} {'fit':>7s} {'vs none':>9s} {'in hooks':>9s}")
    for name, ts in times.items():
        med = statistics.median(ts)
        share = statistics.median(shares[name])
        print(f"  {name:38s} {med:6.2f}s {100 * (med / base - 1):+8.1f}% {share:8.2f}%")


def hook_cost(steps: int = 200_000) -> None:
    import nnwidgets as nw
    from nnwidgets.testing import recording_comms

    with recording_comms() as log:
        plot = nw.LiveTrainingPlot()
        plot.session.begin({"epochs": 1})
        callback = plot.callback  # made (and Keras imported) before timing
        rng = np.random.default_rng(0)
        values = rng.random(steps)
        biggest = 0
        t = time.perf_counter()
        for i in range(steps):
            mark = len(log)
            callback.on_train_batch_end(i, {"loss": values[i], "accuracy": values[i]})
            if len(log) > mark:
                biggest = max(biggest, log.bytes(mark))
        per_hook = (time.perf_counter() - t) / steps * 1e6
    print(f"\nsynthetic run of {steps:,} steps, throttled updates every {plot.session.interval} s")
    print(f"  per batch hook {per_hook:.1f} us, largest update {biggest / 1000:.1f} kB")


if __name__ == "__main__":
    overhead()
    hook_cost()
