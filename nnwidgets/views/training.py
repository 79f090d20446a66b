"""Live training curves: a thin Keras callback feeding a store that a plot draws."""

from __future__ import annotations

import math
import threading
import time

import ipywidgets as W
import numpy as np

from ..imaging import decimate_minmax
from ..metrics import MetricStore, duration, ema, eta_seconds, to_epochs
from .curves import (
    add_run_marks,
    close_figure,
    legend_html,
    mark_makers,
    new_figure,
)
from .panels import status_html
from .training_controls import TrainingControls


def _make_callback(plot):
    import keras

    class LiveCallback(keras.callbacks.Callback):
        """Turns Keras logs into :class:`LiveTrainingPlot` records; nothing more."""

        def on_train_begin(self, logs=None):
            plot.begin(self.params, self.model)

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

    Batch-level values (Keras' running mean within each epoch) are thin lines, epoch
    values are points (hover them for values), validation has its own colour, a
    learning rate that changes gets its own plot, NaN / Inf are marked. Every value is
    kept in :attr:`store` (``to_csv``, ``to_dataframe``); the browser gets at most
    ``max_points`` per series, decimated keeping minima and maxima, at most every
    ``interval`` seconds. ``name`` is what the waiting message calls this plot. Each ``fit`` is a run of its own colour; a fit of the same
    model continues the step axis.

    Run ``fit`` with :meth:`fit_in_background` to keep the kernel free: then Stop,
    Pause and the learning-rate box act on the next batch, and the layer and input
    pickers keep working. With a ``state``, its views are refreshed at epoch ends (and,
    in a background run, as the weights change), within ``view_budget`` (a share of
    training time), and when training ends.

    >>> plot = LiveTrainingPlot(state)  # doctest: +SKIP
    >>> model.fit(x, y, epochs=5, callbacks=[plot.callback])  # doctest: +SKIP
    >>> run = plot.fit_in_background(model, x, y, epochs=50)  # doctest: +SKIP
    """

    def __init__(
        self,
        state=None,
        max_points: int = 2000,
        interval: float = 0.25,
        view_budget: float = 0.005,
        name: str = "plot",
        **kwargs,
    ):
        self.state = state
        self.view_budget = view_budget
        self.max_points = max_points
        self.interval = interval
        self.store = MetricStore()
        self.epoch = self.step = self.sent_points = 0
        self.run = None  # the BackgroundFit, if any
        self.active = False
        self._refresh_cost, self._refreshed_at = 0.0, time.perf_counter()
        self._params: dict = {}
        self._model = None
        self._last_flush = 0.0
        self._t0 = time.perf_counter()
        self._run_start = self._epoch_start = self._epoch_offset = 0
        self._bad = ""
        self._boundaries: dict[int, list] = {}
        self._steps_per_epoch: dict[int, int | None] = {}
        self._figures: dict[str, dict] = {}
        self._draw_lock = threading.RLock()  # a background run draws from its thread
        self._local = threading.local()
        self.status = W.HTML(
            status_html(
                f"waiting for training: model.fit(..., callbacks=[{name}.callback]) "
                f"or {name}.fit_in_background(model, x, y, ...)"
            )
        )
        self.controls = TrainingControls(
            on_change=lambda owner: self.redraw(rebuild=owner is not self.controls.smoothing)
        )
        self.controls.stop.on_click(lambda _: self.run and self.run.stop())
        self.controls.pause.observe(self._on_pause, names="value")
        self.controls.lr.observe(self._on_lr, names="value")
        self.legend = W.HTML(legend_html([]))
        self.row = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        super().__init__([self.status, self.controls, self.legend, self.row], **kwargs)
        self.add_class("nnw-training")
        self.callback = _make_callback(self)

    # -- running fit -----------------------------------------------------------
    def fit_in_background(self, model, *args, **kwargs):
        """Run ``model.fit(*args, **kwargs)`` in a background thread, streaming here.

        The kernel stays free: the layer and input pickers keep working while the model
        trains, and Stop / Pause / learning rate act at the next batch. ``verbose``
        defaults to 0 (the plot shows the progress). Returns the
        :class:`~nnwidgets.trainer.BackgroundFit` (``stop()``, ``pause()``,
        ``resume()``, ``learning_rate``, ``join()``).

        >>> run = plot.fit_in_background(model, x, y, epochs=5)  # doctest: +SKIP
        """
        from ..trainer import BackgroundFit

        if self.run is not None and self.run.running:
            raise RuntimeError("a run is still training here: call .run.stop() first")
        callbacks = [*(kwargs.pop("callbacks", None) or []), self.callback]
        # Keras' progress bar, printed from a thread, lands in whichever cell runs next
        # and can flood the notebook: this plot shows the progress instead.
        kwargs.setdefault("verbose", 0)
        run = BackgroundFit(
            model,
            *args,
            callbacks=callbacks,
            on_done=self._on_run_done,
            on_pause=self._say_progress,
            start=False,
            **kwargs,
        )
        self.run = run
        try:
            self._show_lr(run.learning_rate)
        except Exception:  # noqa: BLE001 - no plain number: the box fills in at the first batch
            pass
        run.start()
        self.controls.steering(run)
        return run

    @property
    def _quiet(self) -> bool:
        """True while this thread writes the learning-rate box (not a user's edit)."""
        return getattr(self._local, "quiet", False)

    def _on_run_done(self, run) -> None:
        self.controls.steering(None)
        if run.error is not None:
            self.fail(run.error)

    def _on_pause(self, change) -> None:
        if self.run is None:
            return
        if change["new"]:
            self.run.pause()
            self.controls.pause.description = "Resume"
        else:
            self.run.resume()
            self.controls.pause.description = "Pause"
        self._say_progress()

    def _on_lr(self, change) -> None:
        if self._quiet or self.run is None or not self.run.running:
            return
        try:
            self.run.learning_rate = change["new"]
            self.controls.say(f"learning rate {change['new']:g} from the next batch")
        except ValueError as err:
            self.controls.say(str(err), error=True)

    def fail(self, err: BaseException) -> None:
        """Show that training raised ``err``; every point already drawn stays."""
        self.active = False
        self.flush()
        where = self._progress("training failed")
        self.status.value = status_html(f"{where}: {type(err).__name__}: {err}", error=True)

    # -- records (called from the callback) ---------------------------------
    def begin(self, params: dict, model=None) -> None:
        """A new run starts: it continues the step axis if it trains the same model."""
        if self.run is not None and not self.run.in_thread():
            self.run = None  # a foreground fit: no background run to steer
        if len(self.store):
            self.store.run += 1
            if model is None or model is not self._model:
                self.step = self._epoch_offset = 0
        self._model = model
        self._params = dict(params or {})
        self._t0 = time.perf_counter()
        self._bad = ""
        self.active = True
        self._run_start = self._epoch_start = self.step
        self._boundaries[self.store.run] = [(self.step, self._epoch_offset)]
        self._steps_per_epoch[self.store.run] = self._params.get("steps")
        self._first_epoch = None
        self.legend.value = legend_html(sorted({*self.store.runs(), self.store.run}))
        self._lr_changed(self.step)
        self.status.value = status_html(f"run {self.store.run}: training started")
        if self.run is None:
            self.controls.steering(None)
            _watch_cell(self)

    def begin_epoch(self, epoch: int) -> None:
        if self._first_epoch is None:
            self._first_epoch = epoch  # fit(..., initial_epoch=k) starts at k
        self.epoch = epoch
        self._epoch_start = self.step

    _first_epoch = None

    def record_batch(self, logs: dict, batch: int | None = None) -> None:
        """Store one batch's logs; ``batch`` is Keras' step index within the epoch (with
        ``steps_per_execution > 1`` hooks run once per execution, at its last step)."""
        if batch is None:
            self.step += 1
        else:  # Keras reports the last step of an execution unclamped: keep to the epoch
            steps = self._params.get("steps")
            self.step = self._epoch_start + (min(batch + 1, steps) if steps else batch + 1)
        for key, value in logs.items():
            self._add(f"batch/{key}", self.step, value)
        if time.perf_counter() - self._last_flush >= self.interval:
            self.flush()
            if self.run is not None:  # a background run: views are what a person watches
                self.refresh_views()

    def record_epoch(self, epoch: int, logs: dict) -> None:
        for key, value in logs.items():
            self._add(key, self.step, value)
        done = epoch - (self._first_epoch or 0) + 1
        self._boundaries[self.store.run].append((self.step, self._epoch_offset + done))
        self.flush()
        self.refresh_views()

    def end(self) -> None:
        self.active = False
        self._epoch_offset = self._boundaries[self.store.run][-1][1]
        self.flush()
        self.refresh_views(force=True)
        stopped = " (stopped)" if self.run is not None and self.run.stopped else ""
        self.status.value = status_html(self._progress("done") + stopped)

    def refresh_views(self, force: bool = False) -> None:
        """Redraw the state's views with the new weights, keeping their cost within
        ``view_budget`` (a fraction) of the training time since the last redraw (five
        times more for a background run, whose views are what a person watches)."""
        if self.state is None:
            return
        since = time.perf_counter() - self._refreshed_at
        budget = self.view_budget * (5 if self.run is not None and self.run.running else 1)
        if not force and self._refresh_cost > budget * since:
            return
        t = time.perf_counter()
        self.state.refresh()
        self._refreshed_at = time.perf_counter()
        cost = self._refreshed_at - t
        # in a background run, the first redraw may trace the recording function: not
        # what the next ones cost
        self._refresh_cost = 0.0 if self.run is not None and not self._refreshes else cost
        self._refreshes += 1

    _refreshes = 0

    def _add(self, key: str, step: int, value) -> None:
        try:
            value = float(value)
        except (TypeError, ValueError):
            return
        self.store.add(key, step, value)
        if not math.isfinite(value):
            self._bad = f"\u26a0 {key} is {value} at step {step}"

    def _lr_changed(self, step: int) -> None:
        """Record the optimizer's learning rate when it differs from the last one."""
        try:
            lr = float(np.asarray(self._model.optimizer.learning_rate))
        except Exception:  # noqa: BLE001 - no model, no optimizer, or no plain number
            return
        if self.store.last("lr", run=self.store.run) != lr:
            self.store.add("lr", step, lr)
            self._show_lr(lr)

    def _show_lr(self, lr: float) -> None:
        """Show the learning rate in the box, without setting it again."""
        self._local.quiet = True
        try:
            self.controls.lr.value = float(f"{lr:.6g}")
        finally:
            self._local.quiet = False

    # -- drawing -----------------------------------------------------------
    def flush(self) -> None:
        """Send what the store holds (decimated) to the browser."""
        self._last_flush = time.perf_counter()
        if self.active:
            self._lr_changed(self.step)
        with self._draw_lock:
            for metric in self._metrics():
                self._draw_metric(metric, [self.store.run])
        self._say_progress()

    def redraw(self, rebuild: bool = True) -> None:
        """Draw every run again: on new figures after a change of scale or x axis (the
        old ones are closed), on the same ones after a change of smoothing."""
        with self._draw_lock:
            if rebuild:
                old, self._figures = self._figures, {}
                self.row.children = ()
                for entry in old.values():
                    close_figure(entry)
            for metric in self._metrics():
                self._draw_metric(metric, self.store.runs())

    def _say_progress(self) -> None:
        if self.run is not None and self.run.lr_error:
            self.controls.say(self.run.lr_error, error=True)
            self.run.lr_error = ""
        if not self.active:
            return
        what = "paused" if self.run is not None and self.run.paused else "training"
        text = self._progress(what)
        self.status.value = status_html(f"{text}  {self._bad}", error=bool(self._bad))

    def _metrics(self) -> list[str]:
        names = []
        for name in self.store.names():
            base = name.split("/", 1)[-1].removeprefix("val_")
            if base not in names:
                names.append(base)
        if "lr" in names and len(np.unique(self.store.series("lr")[1])) < 2:
            names.remove("lr")
        return names

    def _progress(self, what: str) -> str:
        epochs = self._params.get("epochs")
        steps = self._params.get("steps")
        total = (epochs - (self._first_epoch or 0)) * steps if epochs and steps else None
        done = self.step - self._run_start
        elapsed = time.perf_counter() - self._t0
        dot = " \u00b7 "
        text = f"run {self.store.run} {what}: epoch {self.epoch + 1}/{epochs or '?'}"
        text += f"{dot}step {done}" + (f"/{total}" if total else "")
        text += f"{dot}{duration(elapsed)}"
        left = eta_seconds(done, total, elapsed) if self.active else None
        return text + (f"{dot}about {duration(left)} left" if left else "")

    def _x(self, steps: np.ndarray, run: int) -> np.ndarray:
        if self.controls.x_axis.value == "epoch":
            return to_epochs(steps, self._boundaries.get(run, []), self._steps_per_epoch.get(run))
        return steps

    def _draw_metric(self, metric: str, runs: list[int]) -> None:
        fig = self._figures.get(metric) or self._new_figure(metric)
        log = self.controls.log_y.value
        for run in runs:
            marks = fig["runs"].get(run) or add_run_marks(fig, run)
            if metric == "lr":
                self._set(marks["train"], *self._points("lr", run, log))
                continue
            raw_x, raw_y = self._points(f"batch/{metric}", run, log)
            self._draw_batches(fig, marks, raw_x, raw_y)
            for key in ("train", "val"):
                x, y = self._points(("val_" if key == "val" else "") + metric, run, log)
                self._set(marks[key], x, y)
                self._set(marks[f"{key}_points"], x, y)
        self._draw_bad(fig, metric)

    def _draw_batches(self, fig: dict, marks: dict, x: np.ndarray, y: np.ndarray) -> None:
        weight = self.controls.smoothing.value
        self._set(marks["batch"], x, y)
        if weight > 0 and "smooth" not in marks:
            line, _ = mark_makers(fig)
            marks["smooth"] = line(marks["batch"].colors[0], stroke_width=2)
            fig["figure"].marks = [*fig["figure"].marks, marks["smooth"]]
        if weight > 0:
            self._set(marks["smooth"], x, ema(y, weight))
        marks["batch"].opacities = [0.3 if weight > 0 else 0.8]
        if "smooth" in marks:
            marks["smooth"].visible = weight > 0

    def _points(self, name: str, run: int, log: bool) -> tuple[np.ndarray, np.ndarray]:
        """Finite (and, on a log scale, positive) points of a series, x mapped."""
        steps, values = self.store.series(name, run)
        keep = np.isfinite(values) & ((values > 0) if log else True)
        return self._x(steps[keep], run), values[keep]

    def _set(self, mark, x: np.ndarray, y: np.ndarray) -> None:
        if len(x) > self.max_points:
            idx, y = decimate_minmax(y, self.max_points)
            x = x[idx]
        if len(x) == len(mark.x) and (len(x) == 0 or (x[-1] == mark.x[-1] and y[-1] == mark.y[-1])):
            return
        self.sent_points += len(x)
        with mark.hold_sync():
            mark.x, mark.y = x, y

    def _draw_bad(self, fig: dict, metric: str) -> None:
        """Non-finite values as crosses at the top of the plot."""
        names = (f"batch/{metric}", metric, f"val_{metric}")
        count = sum(self.store.bad_count(name) for name in names)
        if count == fig.get("bad_count", 0):
            return  # nothing new to mark (a new figure starts at 0)
        fig["bad_count"] = count
        xs = []
        for name in names:
            for run in self.store.runs():
                steps, values = self.store.series(name, run)
                xs.append(self._x(steps[~np.isfinite(values)], run))
        x = np.unique(np.concatenate(xs)) if xs else np.empty(0)
        mark = fig["bad"]
        if len(x) == len(mark.x):
            return
        top = max(
            (float(np.max(m.y)) for r in fig["runs"].values() for m in r.values() if len(m.y)),
            default=1.0,
        )
        x = x[: self.max_points]
        with mark.hold_sync():
            mark.x, mark.y = x, np.full(len(x), top)

    def _new_figure(self, metric: str) -> dict:
        epoch_axis = self.controls.x_axis.value == "epoch"
        entry = new_figure(metric, self.controls.log_y.value, epoch_axis)
        self._figures[metric] = entry
        self.row.children = (*self.row.children, entry["figure"])
        return entry


def _watch_cell(plot: LiveTrainingPlot) -> None:
    """In IPython, when the cell running a foreground ``fit`` ends with training still
    active (an exception, an interrupt), say so on the plot."""
    if threading.current_thread() is not threading.main_thread():
        return
    try:
        from IPython import get_ipython
    except ImportError:
        return
    ip = get_ipython()
    if ip is None or not hasattr(ip, "events"):
        return

    def after(result):
        ip.events.unregister("post_run_cell", after)
        if plot.active:
            plot.fail(result.error_in_exec or RuntimeError("the cell ended before training did"))

    ip.events.register("post_run_cell", after)
