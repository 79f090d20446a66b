"""Live training curves: the drawing of a training session's store."""

from __future__ import annotations

import threading

import ipywidgets as W
import numpy as np
from traitlets import Bool, Enum, Float, Int, Tuple, Unicode

from ...compute.imaging import decimate_minmax
from ...training import TrainingSession, ViewRefresh
from ...training.metrics import ema
from ..base import View
from ..panels import close_tree, status_html
from .controls import TrainingControls
from .curves import add_run_marks, legend_html, mark_makers, new_figure


class LiveTrainingPlot(View):
    """Loss and every metric, training and validation, drawn live while ``fit`` runs.

    It draws a :class:`~nnwidgets.training.TrainingSession` (made here unless given):
    batch-level values (Keras' running mean within each epoch) as thin lines, epoch
    values as points (hover them for values), validation in its own colour, a learning
    rate that changes in its own plot, NaN / Inf as crosses. Every value is kept in
    :attr:`store` (``to_csv``, ``to_dataframe``); the browser gets at most
    ``max_points`` per series, decimated keeping minima and maxima. Each ``fit`` is a
    run of its own colour; a fit of the same model continues the step axis.

    Run ``fit`` with :meth:`fit_in_background` to keep the kernel free: then Stop,
    Pause and the learning-rate box act on the next batch. With a ``state``, a
    :class:`~nnwidgets.training.ViewRefresh` probe redraws its views as the weights
    change, within ``view_budget`` (a share of training time).

    Parameters
    ----------
    state : ModelState, optional
        Whose views follow training.
    session : TrainingSession, optional
        The session drawn (default: a new one, ``interval`` seconds between updates).
    view_budget : float
        Share of training time the views' redraws may take.
    max_points, smoothing, log_y, x_axis, name : options (see Attributes)

    Attributes
    ----------
    max_points : int
        Points per series sent to the browser, at most (10 to 100,000).
    smoothing : float
        TensorBoard's debiased moving-average weight for batch curves (0 to 0.99).
    log_y : bool
        Log scale for the values.
    x_axis : {"step", "epoch"}
        What the x axis counts.
    name : str
        What the waiting message calls this plot.
    metrics : tuple of str
        The metrics with a figure, in order (read-only).
    sent_points : int
        Points sent to the browser so far (read-only).

    Examples
    --------
    >>> plot = LiveTrainingPlot(state)  # doctest: +SKIP
    >>> model.fit(x, y, epochs=5, callbacks=[plot.callback])  # doctest: +SKIP
    >>> job = plot.fit_in_background(model, x, y, epochs=50)  # doctest: +SKIP
    """

    follows = ("updates", "phase", "steerable", "learning_rate", "notice")

    max_points = Int(2000, min=10, max=100_000, help="Points per series, at most.").tag(option=True)
    smoothing = Float(0.0, min=0.0, max=0.99, help="Smoothing of batch curves.").tag(option=True)
    log_y = Bool(False, help="Log scale for the values.").tag(option=True)
    x_axis = Enum(("step", "epoch"), "step", help="What the x axis counts.").tag(option=True)
    name = Unicode("plot", help="What the waiting message calls this plot.").tag(option=True)
    metrics = Tuple(read_only=True, help="The metrics with a figure, in order.")
    sent_points = Int(0, read_only=True, help="Points sent to the browser so far.")

    def __init__(
        self,
        state=None,
        *,
        session: TrainingSession | None = None,
        interval: float = 0.25,
        view_budget: float = 0.005,
        **options,
    ):
        if session is not None and not isinstance(session, TrainingSession):
            raise TypeError(f"session must be a TrainingSession, got {type(session).__name__}")
        self.session = session if session is not None else TrainingSession(interval=interval)
        self.state = state
        self._figures: dict[str, dict] = {}
        self._draw_lock = threading.RLock()  # a background run draws from its thread
        super().__init__(self.session, **options)
        if state is not None:
            self.refresh_probe = self.session.add_probe(ViewRefresh(state, view_budget))

    refresh_probe = None  # the ViewRefresh probe of the state's views, if any

    # -- the session's API, where a user looks for it ----------------------------
    @property
    def callback(self):
        """The Keras callback: ``model.fit(..., callbacks=[plot.callback])``."""
        return self.session.callback

    @property
    def store(self):
        """Every value logged (:class:`~nnwidgets.training.MetricStore`)."""
        return self.session.store

    def fit_in_background(self, model, *args, **kwargs):
        """Run ``model.fit(*args, **kwargs)`` in a background thread, drawn here; see
        :meth:`TrainingSession.fit_in_background`. Returns the
        :class:`~nnwidgets.training.BackgroundFit` (``stop()``, ``pause()``,
        ``resume()``, ``learning_rate``, ``join()``).

        >>> job = plot.fit_in_background(model, x, y, epochs=5)  # doctest: +SKIP
        """
        return self.session.fit_in_background(model, *args, **kwargs)

    def offer_training(self, start, description: str = "Train") -> W.Button:
        """Show a button that starts a run: a click calls ``start()``, which should
        start a background fit drawn here (e.g. return ``plot.fit_in_background(...)``).
        The button is disabled while a background run goes on; an error ``start``
        raises is shown under the controls. Returns the button.

        A published dashboard offers training this way rather than training on open,
        so that a kernel does no training until its viewer asks for it.

        >>> plot.offer_training(lambda: plot.fit_in_background(model, x, y, epochs=5))  # doctest: +SKIP
        """
        if not callable(start):
            raise TypeError(f"start must be callable, got {type(start).__name__}")
        self._start = start
        button = self.controls.start
        with button.hold_sync():
            button.description = str(description)
            button.tooltip = f"{description}: a run drawn here, in the background"
            button.disabled = self.session.steerable
            button.layout.display = None
        if self.session.phase == "waiting":
            self.status.value = status_html(self._waiting())
        return button

    _start = None  # what the start button calls

    def _on_start(self, _button) -> None:
        if self._start is None or self.session.steerable:
            return
        self.controls.start.disabled = True
        self.controls.say("")
        try:
            self._start()
        except Exception as err:  # shown, never raised into the comm handler
            self.controls.say(f"could not start: {type(err).__name__}: {err}", error=True)
        if not self.session.steerable:  # nothing runs: the viewer may try again
            self.controls.start.disabled = False

    def follow(self, logdir, interval: float = 2.0):
        """Draw the runs written under a TensorBoard log folder as they are written:
        a job started elsewhere (a script, another machine, a multi-worker run) streams
        into this plot. Each experiment is a run of its own; a thread polls the folder
        every ``interval`` seconds, reading only what was appended. Returns the
        :class:`~nnwidgets.logs.follow.RunFollower` (``stop()``, ``reload()``).

        >>> follower = plot.follow("logs/")  # doctest: +SKIP
        """
        from ...logs.follow import RunFollower
        from ...training.follow import LogFeed

        follower = RunFollower(logdir, interval=interval, start=False)
        if self.follower is not None:
            self.follower.stop()
        self.follower = follower
        self.feed = LogFeed(self.session, follower, self._on_fed)
        follower.observe(self._on_follower, names=["version", "status"])
        follower.start()
        self._say_following()
        return follower

    follower = None  # the RunFollower of a followed folder, if any
    feed = None

    def _on_follower(self, change) -> None:
        if change["name"] == "version":
            self.feed()
        self._say_following()

    def _on_fed(self, runs) -> None:
        with self._draw_lock:
            for metric in self._metric_names():
                self._draw_metric(metric, sorted(runs))
        self.legend.value = legend_html(self.store.runs())

    def _say_following(self) -> None:
        if self.follower is None or self.session.active:
            return
        names = ", ".join(f"run {i}: {g}" for g, i in self.feed.run_ids.items())
        text = self.follower.status + (f" \u00b7 {names}" if names else "")
        self.status.value = status_html(text, error=bool(self.follower.error))

    def close(self) -> None:
        """Stop drawing the session, and stop refreshing the state's views."""
        if self.follower is not None:
            self.follower.stop()
        if self.refresh_probe is not None:
            self.session.remove_probe(self.refresh_probe)
        super().close()

    # -- building ---------------------------------------------------------------
    def build(self) -> tuple:
        self.status = W.HTML(status_html(self._waiting()))
        self.controls = TrainingControls()
        for trait in ("smoothing", "log_y", "x_axis"):
            W.link((self, trait), (getattr(self.controls, trait), "value"))
        self.controls.start.on_click(self._on_start)
        self.controls.stop.on_click(self._on_stop)
        self.controls.pause.observe(self._on_pause, names="value")
        self.controls.lr.observe(self._on_lr, names="value")
        self.legend = W.HTML(legend_html([]))
        self.row = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.add_class("nnw-training")
        return (self.status, self.controls, self.legend, self.row, self.message)

    def _waiting(self) -> str:
        if self._start is not None:  # a viewer (Voila) cannot type code: point at the button
            return f"waiting for training: press \u201c{self.controls.start.description}\u201d"
        return (
            f"waiting for training: model.fit(..., callbacks=[{self.name}.callback]) "
            f"or {self.name}.fit_in_background(model, x, y, ...)"
        )

    # -- following the session ----------------------------------------------------
    def on_state(self, change) -> None:
        name = change["name"]
        if name == "updates":
            self._flush()
        elif name == "phase":
            if change["new"] == "training":
                self.legend.value = legend_html(
                    sorted({*self.store.runs(), self.store.current_run})
                )
            self._say_progress()
        elif name == "steerable":
            self.controls.steering(self.session.background if change["new"] else None)
        elif name == "learning_rate" and change["new"] is not None:
            with self.syncing():
                self.controls.show_lr(change["new"])
        elif name == "notice":
            self.controls.say(change["new"], error=self.session.notice_is_error)

    def render(self) -> None:
        """Draw every run again on the same figures (after an option changed)."""
        with self._draw_lock:
            for metric in self._metric_names():
                self._draw_metric(metric, self.store.runs())
        if self.session.phase == "waiting":
            self.status.value = status_html(self._waiting())
        self._say_progress()

    def _option_changed(self, change) -> None:
        """A new scale or x axis needs new figures (the old ones are closed); other
        options redraw on the same figures."""
        if change["name"] in ("log_y", "x_axis"):
            with self._draw_lock:
                old, self._figures = self._figures, {}
                self.row.children = ()
                for entry in old.values():
                    close_tree(entry["figure"])
                self.set_trait("metrics", ())
        super()._option_changed(change)

    # -- steering ---------------------------------------------------------------
    def _on_stop(self, _button) -> None:
        if self.session.steerable:
            self.session.stop()

    def _on_pause(self, change) -> None:
        self.controls.pause.description = "Resume" if change["new"] else "Pause"
        if not self.session.steerable:
            return
        if change["new"]:
            self.session.pause()
        else:
            self.session.resume()

    def _on_lr(self, change) -> None:
        if not self.from_user:
            return  # the box shows the session's rate: nothing was typed
        try:
            self.session.set_learning_rate(change["new"])
        except (ValueError, RuntimeError) as err:
            self.controls.say(str(err), error=True)

    # -- drawing ----------------------------------------------------------------
    def _flush(self) -> None:
        """Draw what the current run added (decimated)."""
        with self._draw_lock:
            for metric in self._metric_names():
                self._draw_metric(metric, [self.store.current_run])
        self._say_progress()

    def _say_progress(self) -> None:
        session = self.session
        if session.phase == "waiting":
            return
        text = session.progress()
        if session.phase == "failed" and session.error is not None:
            err = session.error
            self.status.value = status_html(f"{text}: {type(err).__name__}: {err}", error=True)
        elif session.phase == "done":
            stopped = session.background is not None and session.background.stopped
            self.status.value = status_html(text + (" (stopped)" if stopped else ""))
        else:
            self.status.value = status_html(f"{text}  {session.bad}", error=bool(session.bad))

    def _metric_names(self) -> list[str]:
        names = []
        for name in self.store.names():
            base = name.split("/", 1)[-1].removeprefix("val_")
            if base not in names:
                names.append(base)
        if "lr" in names and len(np.unique(self.store.series("lr")[1])) < 2:
            names.remove("lr")
        return names

    def _x(self, steps: np.ndarray, run: int) -> np.ndarray:
        return self.session.x_of(steps, run, self.x_axis)

    def _draw_metric(self, metric: str, runs: list[int]) -> None:
        fig = self._figures.get(metric) or self._new_figure(metric)
        for run in runs:
            marks = fig["runs"].get(run) or add_run_marks(fig, run)
            if metric == "lr":
                self._set(marks["train"], *self._points("lr", run))
                continue
            self._draw_batches(fig, marks, *self._points(f"batch/{metric}", run))
            for key in ("train", "val"):
                x, y = self._points(("val_" if key == "val" else "") + metric, run)
                self._set(marks[key], x, y)
                self._set(marks[f"{key}_points"], x, y)
        self._draw_bad(fig, metric)

    def _draw_batches(self, fig: dict, marks: dict, x: np.ndarray, y: np.ndarray) -> None:
        weight = self.smoothing
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

    def _points(self, name: str, run: int) -> tuple[np.ndarray, np.ndarray]:
        """Finite (and, on a log scale, positive) points of a series, x mapped."""
        steps, values = self.store.series(name, run)
        keep = np.isfinite(values) & ((values > 0) if self.log_y else True)
        return self._x(steps[keep], run), values[keep]

    def _set(self, mark, x: np.ndarray, y: np.ndarray) -> None:
        if len(x) > self.max_points:
            idx, y = decimate_minmax(y, self.max_points)
            x = x[idx]
        if len(x) == len(mark.x) and (len(x) == 0 or (x[-1] == mark.x[-1] and y[-1] == mark.y[-1])):
            return
        self.set_trait("sent_points", self.sent_points + len(x))
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
        x = np.unique(np.concatenate(xs))[: self.max_points] if xs else np.empty(0)
        mark = fig["bad"]
        if len(x) == len(mark.x):
            return
        top = max(
            (float(np.max(m.y)) for r in fig["runs"].values() for m in r.values() if len(m.y)),
            default=1.0,
        )
        with mark.hold_sync():
            mark.x, mark.y = x, np.full(len(x), top)

    def _new_figure(self, metric: str) -> dict:
        entry = new_figure(metric, self.log_y, self.x_axis == "epoch")
        self._figures[metric] = entry
        self.row.children = (*self.row.children, entry["figure"])
        self.set_trait("metrics", (*self.metrics, metric))
        return entry

    # -- what is drawn, for tests and exports --------------------------------------
    def figure(self, metric: str):
        """The bqplot ``Figure`` of a metric (``KeyError`` if none is drawn)."""
        return self._figures[metric]["figure"]

    def drawn(self, metric: str, series: str = "batch", run: int = 1):
        """``(x, y)`` of what the browser has for a series of one run: ``"batch"``,
        ``"smooth"``, ``"train"``, ``"val"`` (epoch values); ``"bad"`` gives the NaN /
        Inf crosses of every run. Empty arrays where nothing is drawn."""
        entry = self._figures.get(metric)
        if entry is None:
            return np.empty(0), np.empty(0)
        mark = entry["bad"] if series == "bad" else entry["runs"].get(run, {}).get(series)
        if mark is None:
            return np.empty(0), np.empty(0)
        return np.asarray(mark.x), np.asarray(mark.y)

    def colors(self, metric: str, run: int = 1) -> list[str]:
        """The batch-line colours of ``run`` in a metric's figure."""
        return list(self._figures[metric]["runs"][run]["batch"].colors)
