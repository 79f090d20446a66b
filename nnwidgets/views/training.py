"""Live training curves: a thin Keras callback feeding a store that a plot draws."""

from __future__ import annotations

import math
import time

import bqplot as bq
import ipywidgets as W
import numpy as np

from ..imaging import decimate_minmax
from .panels import figure, status_html

COLORS = {"train": "#4c78a8", "val": "#e6550d"}
_LEGEND = (
    '<div style="font-size:12px;display:flex;gap:16px">'
    f'<span><b style="color:{COLORS["train"]};opacity:.9">\u2500\u2500</b> train (running mean per batch)</span>'
    f'<span><b style="color:{COLORS["train"]}">\u25cf\u2500</b> train (epoch)</span>'
    f'<span><b style="color:{COLORS["val"]}">\u25cf\u2500</b> validation (epoch)</span></div>'
)


class MetricStore:
    """Every logged value, by series name (``loss``, ``val_loss``, ``batch/loss`` ...).

    Nothing is dropped; views read decimated copies.

    >>> s = MetricStore(); s.add("loss", 1, 0.5); s.series("loss")
    (array([1.]), array([0.5]))
    """

    def __init__(self):
        self._data: dict[str, list] = {}  # name -> [xs, ys, count], grown by doubling

    def add(self, name: str, step: float, value: float) -> None:
        entry = self._data.get(name)
        if entry is None:
            entry = self._data[name] = [np.empty(64), np.empty(64), 0]
        xs, ys, n = entry
        if n == len(xs):
            entry[0] = xs = np.concatenate([xs, np.empty(n)])
            entry[1] = ys = np.concatenate([ys, np.empty(n)])
        xs[n], ys[n] = step, value
        entry[2] = n + 1

    def names(self) -> list[str]:
        return list(self._data)

    def series(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """Copies of the steps and values of one series (empty if unknown)."""
        xs, ys, n = self._data.get(name, (np.empty(0), np.empty(0), 0))
        return xs[:n].copy(), ys[:n].copy()

    def __len__(self) -> int:
        return sum(entry[2] for entry in self._data.values())


def _make_callback(plot):
    import keras

    class LiveCallback(keras.callbacks.Callback):
        """Turns Keras logs into :class:`LiveTrainingPlot` records; nothing more."""

        def on_train_begin(self, logs=None):
            plot.begin(self.params)

        def on_epoch_begin(self, epoch, logs=None):
            plot.begin_epoch(epoch)

        def on_train_batch_end(self, batch, logs=None):
            plot.record_batch(logs or {}, batch)

        def on_epoch_end(self, epoch, logs=None):
            plot.record_epoch(epoch, logs or {})

        def on_train_end(self, logs=None):
            plot.end()

    return LiveCallback()


class LiveTrainingPlot(W.VBox):
    """Loss and every metric, training and validation, drawn live while ``fit`` runs.

    Batch-level values are drawn as thin lines, epoch values as points, validation in
    a second colour. Browser updates are throttled by wall-clock time (``interval``
    seconds) and each series is decimated (keeping minima and maxima) to
    ``max_points``. With a ``state``, the weight and activation views are refreshed at
    epoch ends, as often as ``view_budget`` (the share of training time they may take)
    allows, and always when training ends.

    >>> plot = LiveTrainingPlot(state)  # doctest: +SKIP
    >>> model.fit(x, y, epochs=5, callbacks=[plot.callback])  # doctest: +SKIP
    """

    def __init__(
        self,
        state=None,
        max_points: int = 2000,
        interval: float = 0.25,
        view_budget: float = 0.01,
        **kwargs,
    ):
        self.state = state
        self.view_budget = view_budget
        self._refresh_cost = 0.0
        self._refreshed_at = time.perf_counter()
        self.store = MetricStore()
        self.max_points = max_points
        self.interval = interval
        self.epoch = 0
        self.step = 0
        self.sent_points = 0
        self._params: dict = {}
        self._last_flush = 0.0
        self._t0 = time.perf_counter()
        self._figures: dict[str, tuple] = {}
        self.status = W.HTML(status_html("waiting for model.fit(..., callbacks=[plot.callback])"))
        self.row = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.legend = W.HTML(_LEGEND)
        super().__init__([self.status, self.legend, self.row], **kwargs)
        self.add_class("nnw-training")
        self.callback = _make_callback(self)

    # -- running fit -----------------------------------------------------------
    def fit_in_background(self, model, *args, **kwargs):
        """Run ``model.fit(*args, **kwargs)`` in a background thread, streaming here.

        The kernel stays free: the layer and input pickers keep working while the model
        trains. Returns the :class:`~nnwidgets.trainer.BackgroundFit` (``stop()``,
        ``pause()``, ``resume()``, ``learning_rate``, ``join()``).

        >>> run = plot.fit_in_background(model, x, y, epochs=5)  # doctest: +SKIP
        """
        from ..trainer import BackgroundFit

        if self.run is not None and self.run.running:
            raise RuntimeError("a run is still training here: call .run.stop() first")
        callbacks = [*(kwargs.pop("callbacks", None) or []), self.callback]
        self.run = BackgroundFit(
            model, *args, callbacks=callbacks, on_done=self._on_run_done, **kwargs
        )
        return self.run

    run = None

    def _on_run_done(self, run) -> None:
        if run.error is not None:
            self.fail(run.error)

    def fail(self, err: BaseException) -> None:
        """Show that training raised ``err``; every point already drawn stays."""
        self.flush()
        where = self._progress("training failed")
        self.status.value = status_html(f"{where}: {type(err).__name__}: {err}", error=True)

    # -- records (called from the callback) ---------------------------------
    def begin(self, params: dict) -> None:
        self._params = dict(params or {})
        self._t0 = time.perf_counter()
        self._bad = ""
        self._epoch_start = self.step
        self.status.value = status_html("training started")

    def begin_epoch(self, epoch: int) -> None:
        self.epoch = epoch
        self._epoch_start = self.step

    def record_batch(self, logs: dict, batch: int | None = None) -> None:
        """Store one batch's logs; ``batch`` is Keras' step index within the epoch (with
        ``steps_per_execution > 1`` hooks run once per execution, at its last step)."""
        self.step = self.step + 1 if batch is None else self._epoch_start + batch + 1
        for key, value in logs.items():
            self._add(f"batch/{key}", self.step, value)
        now = time.perf_counter()
        if now - self._last_flush >= self.interval:
            self.flush()

    def record_epoch(self, epoch: int, logs: dict) -> None:
        for key, value in logs.items():
            self._add(key, self.step, value)
        self.flush()
        self.refresh_views()

    def end(self) -> None:
        self.flush()
        self.refresh_views(force=True)
        self.status.value = status_html(self._progress("done"))

    def refresh_views(self, force: bool = False) -> None:
        """Redraw the state's views with the new weights, keeping their cost within
        ``view_budget`` (a fraction) of the training time since the last redraw."""
        if self.state is None:
            return
        since = time.perf_counter() - self._refreshed_at
        if not force and self._refresh_cost > self.view_budget * since:
            return
        t = time.perf_counter()
        self.state.refresh()
        self._refreshed_at = time.perf_counter()
        self._refresh_cost = self._refreshed_at - t

    def _add(self, key: str, step: int, value) -> None:
        try:
            value = float(value)
        except (TypeError, ValueError):
            return
        self.store.add(key, step, value)
        if not math.isfinite(value):
            self._bad = f"\u26a0 {key} is {value} at step {step}"

    _bad = ""
    _epoch_start = 0

    # -- drawing -----------------------------------------------------------
    def flush(self) -> None:
        """Send what the store holds (decimated) to the browser."""
        self._last_flush = time.perf_counter()
        for metric in self._metrics():
            self._draw_metric(metric)
        text = self._progress("training")
        self.status.value = status_html(f"{text}  {self._bad}", error=bool(self._bad))

    def _metrics(self) -> list[str]:
        names = []
        for name in self.store.names():
            base = name.split("/", 1)[-1].removeprefix("val_")
            if base not in names:
                names.append(base)
        return names

    def _progress(self, what: str) -> str:
        epochs = self._params.get("epochs", "?")
        elapsed = time.perf_counter() - self._t0
        dot = " \u00b7 "
        return f"{what}: epoch {self.epoch + 1}/{epochs}{dot}step {self.step}{dot}{elapsed:.1f} s"

    def _draw_metric(self, metric: str) -> None:
        marks = self._figures.get(metric) or self._new_figure(metric)
        series = {
            "train_batch": f"batch/{metric}",
            "train": metric,
            "val": f"val_{metric}",
        }
        for key, mark in marks.items():
            x, y = self.store.series(series[key])
            if len(x) > self.max_points:
                idx, y = decimate_minmax(y, self.max_points)
                x = x[idx]
            if len(x) == len(mark.x) and (len(x) == 0 or x[-1] == mark.x[-1]):
                continue
            self.sent_points += len(x)
            with mark.hold_sync():
                mark.x, mark.y = x, y

    def _new_figure(self, metric: str) -> dict:
        xs, ys = bq.LinearScale(allow_padding=False), bq.LinearScale()
        sc = {"x": xs, "y": ys}

        def line(color, label, **kw):
            return bq.Lines(x=[], y=[], scales=sc, colors=[color], labels=[label], **kw)

        marks = {
            "train_batch": line(COLORS["train"], "train (batch)", opacities=[0.55]),
            "train": line(COLORS["train"], "train (epoch)", marker="circle", stroke_width=2.5),
            "val": line(COLORS["val"], "validation (epoch)", marker="circle", stroke_width=2.5),
        }
        axes = [
            bq.Axis(scale=xs, label="step (batches)", tick_format="~s"),
            bq.Axis(scale=ys, label=metric, orientation="vertical", tick_format=".3~g"),
        ]
        fig = figure(metric, list(marks.values()), axes, width="440px", height="300px")
        self._figures[metric] = marks
        self.row.children = (*self.row.children, fig)
        return marks
