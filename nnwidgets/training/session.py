"""One training session: the Keras callback, runs and steps, the metric store,
steering and probes. Views (the live plot) are outputs that observe it.
"""

from __future__ import annotations

import math
import threading
import time

import numpy as np
from traitlets import Bool, Enum, Float, HasTraits, Int, Unicode, validate

from .metrics import MetricStore, duration, eta_seconds, to_epochs
from .probes import Probe

PHASES = ("waiting", "training", "paused", "done", "failed")


class TrainingSession(HasTraits):
    """Everything about training a model in a notebook, with no widget.

    Its :attr:`callback` turns Keras' logs into records in :attr:`store` (each ``fit``
    a numbered run; a fit of the same model continues the step axis) and calls the
    :class:`~nnwidgets.training.probes.Probe` objects added with :meth:`add_probe`
    within their time budgets. :meth:`fit_in_background` trains in a thread that
    :meth:`stop`, :meth:`pause`, :meth:`resume` and :meth:`set_learning_rate` steer at
    the next batch. Outputs observe its traits: :attr:`updates` (new values to draw, at
    most every :attr:`interval` seconds), :attr:`phase`, :attr:`steerable`,
    :attr:`learning_rate` and :attr:`notice`.

    Parameters
    ----------
    interval : float
        Seconds between two :attr:`updates` during training (epoch ends and the end of
        training always update).

    Examples
    --------
    >>> session = TrainingSession(interval=0.5)
    >>> session.begin({"epochs": 1, "steps": 2})
    >>> session.record_batch(0, {"loss": 0.9}); session.record_batch(1, {"loss": 0.7})
    >>> session.record_epoch(0, {"loss": 0.8}); session.end()
    >>> session.phase, session.store.series("batch/loss")[0].tolist()
    ('done', [1.0, 2.0])
    """

    phase = Enum(PHASES, "waiting", read_only=True, help="What training is doing.")
    updates = Int(0, read_only=True, help="Bumped when there are new values to draw.")
    steerable = Bool(False, read_only=True, help="A background fit is live to steer.")
    learning_rate = Float(None, allow_none=True, read_only=True, help="The last rate seen.")
    notice = Unicode("", help="What the last steering did, or why it could not.")
    notice_is_error = Bool(False, help="Whether the notice says something went wrong.")
    interval = Float(0.25, min=0.0, help="Seconds between two updates.")

    def __init__(self, interval: float = 0.25, **kwargs):
        super().__init__(interval=interval, **kwargs)
        self.store = MetricStore()
        self.probes: list[Probe] = []
        self.background = None  # the BackgroundFit steered, if any
        self.error: BaseException | None = None
        self.epoch = self.step = 0
        self.params: dict = {}
        self.model = None
        self.bad = ""  # the last non-finite value, as text
        self._clocks: dict[int, list[float]] = {}  # id(probe) -> [cost, since, step]
        self._boundaries: dict[int, list] = {}
        self._steps_per_epoch: dict[int, int | None] = {}
        self._t0 = self._published = time.perf_counter()
        self._run_start = self._epoch_start = self._epoch_offset = 0
        self._first_epoch = None
        self._callback = None
        self._steering = threading.Lock()  # steerable goes True, then False, never back

    @validate("interval")
    def _validate_interval(self, proposal):
        self._interval = proposal["value"]  # a plain copy, read by every batch hook
        return proposal["value"]

    _interval = 0.25

    # -- probes and outputs -------------------------------------------------
    def add_probe(self, probe: Probe) -> Probe:
        """Call ``probe`` while training, within its budget; returns it."""
        if not isinstance(probe, Probe):
            raise TypeError(f"add_probe takes a nnwidgets Probe, got {type(probe).__name__}")
        if probe not in self.probes:
            self.probes = [*self.probes, probe]
            self._clocks[id(probe)] = [0.0, time.perf_counter(), -math.inf]
        return probe

    def remove_probe(self, probe: Probe) -> None:
        self.probes = [p for p in self.probes if p is not probe]
        self._clocks.pop(id(probe), None)

    @property
    def callback(self):
        """The Keras callback: ``model.fit(..., callbacks=[session.callback])``."""
        if self._callback is None:
            from .callback import make_callback

            self._callback = make_callback(self)
        return self._callback

    @property
    def active(self) -> bool:
        """Whether a ``fit`` is running (or paused)."""
        return self.phase in ("training", "paused")

    # -- records (called by the callback) ------------------------------------
    def begin(self, params: dict, model=None) -> None:
        """A new run starts: it continues the step axis if it trains the same model."""
        if self.background is not None and not self.background.in_thread():
            self.background = None  # a foreground fit: no background run to steer
            self.set_trait("steerable", False)
        if len(self.store):
            self.store.current_run += 1
            if model is None or model is not self.model:
                self.step = self._epoch_offset = 0
        self.model, self.params = model, dict(params or {})
        self._t0, self.bad, self.error, self._first_epoch = time.perf_counter(), "", None, None
        self._run_start = self._epoch_start = self.step
        run = self.store.current_run
        self._boundaries[run] = [(self.step, self._epoch_offset)]
        self._steps_per_epoch[run] = self.params.get("steps")
        self._record_lr()
        self.set_trait("phase", "training")
        self.publish()
        self._published = -math.inf  # the first batch is drawn at once
        if self.background is None:
            from .cells import watch_cell

            watch_cell(self)

    def begin_epoch(self, epoch: int) -> None:
        if self._first_epoch is None:
            self._first_epoch = epoch  # fit(..., initial_epoch=k) starts at k
        self.epoch = epoch
        self._epoch_start = self.step

    def record_batch(self, batch: int | None, logs: dict) -> None:
        """Store one batch's logs; ``batch`` is Keras' step index within the epoch (with
        ``steps_per_execution > 1`` hooks run once per execution, at its last step;
        None counts one more step)."""
        if batch is None:
            self.step += 1
        else:  # Keras reports the last step of an execution unclamped: keep to the epoch
            steps = self.params.get("steps")
            self.step = self._epoch_start + (min(batch + 1, steps) if steps else batch + 1)
        for key, value in logs.items():
            self._add(f"batch/{key}", value)
        if time.perf_counter() - self._published >= self._interval:
            self.publish()
        if self.probes:
            self._run_probes("batch")

    def record_epoch(self, epoch: int, logs: dict) -> None:
        """Store one epoch's logs (training and validation)."""
        for key, value in logs.items():
            self._add(key, value)
        done = epoch - (self._first_epoch or 0) + 1
        self._boundaries[self.store.current_run].append((self.step, self._epoch_offset + done))
        self.publish()
        self._run_probes("epoch")

    def add_epoch_boundary(self, run: int, step: float, epochs: float) -> None:
        """Note that ``epochs`` epochs of ``run`` were done at ``step`` (for the epoch
        axis), for runs fed from elsewhere (logs)."""
        pairs = self._boundaries.setdefault(run, [(0.0, 0.0)])
        if pairs[-1][0] <= step and pairs[-1][1] < epochs:
            pairs.append((step, epochs))

    def end(self) -> None:
        """``fit`` returned."""
        self._epoch_offset = self._boundaries[self.store.current_run][-1][1]
        self._run_probes("end")
        self.set_trait("phase", "done")
        self.publish()

    def fail(self, err: BaseException) -> None:
        """``fit`` raised ``err``; every value already stored stays."""
        self.error = err
        self.set_trait("phase", "failed")
        self.publish()

    def _add(self, key: str, value) -> None:
        try:
            value = float(value)
        except (TypeError, ValueError):
            return
        self.store.add(key, self.step, value)
        if not math.isfinite(value):
            self.bad = f"\u26a0 {key} is {value} at step {self.step}"

    def _record_lr(self) -> None:
        """Store the optimizer's learning rate when it differs from the last one."""
        try:
            lr = float(np.asarray(self.model.optimizer.learning_rate))
        except Exception:  # noqa: BLE001 - no model, no optimizer, or no plain number
            return
        if self.store.last("lr", run=self.store.current_run) != lr:
            self.store.add("lr", self.step, lr)
            self.set_trait("learning_rate", lr)

    def publish(self) -> None:
        """Tell the outputs there is something new to draw."""
        self._published = time.perf_counter()
        if self.active:
            self._record_lr()
        if self.background is not None and self.background.lr_error:
            self.say(self.background.lr_error, error=True)
            self.background.lr_error = ""
        self.set_trait("updates", self.updates + 1)

    def say(self, text: str, error: bool = False) -> None:
        """Set :attr:`notice` (and :attr:`notice_is_error`) for the outputs."""
        self.notice_is_error = error
        self.notice = text

    def _run_probes(self, event: str) -> None:
        for probe in self.probes:
            clock = self._clocks.get(id(probe))
            if clock is None or not probe.wants(self, event):
                continue
            now = time.perf_counter()
            if event != "end" and not self._due(probe, clock, event, now):
                continue
            try:
                counted = probe.record(self, event)
            except Exception as err:  # noqa: BLE001 - a probe never stops training
                self.say(f"{probe.name} failed at step {self.step}: {err}", error=True)
                counted = None
            done = time.perf_counter()
            clock[:] = [done - now if counted is None else counted, done, self.step]

    def _due(self, probe: Probe, clock: list, event: str, now: float) -> bool:
        """Whether a probe may record now: enough steps and seconds since its last
        record, and its last cost within its share of the time since."""
        if event == "batch" and getattr(probe, "pending", False):
            return True  # it finishes a record at this step (e.g. an update ratio)
        if event == "batch":
            if self.step - clock[2] < probe.every or now - clock[1] < probe.gap(self):
                return False
        return clock[0] <= probe.share(self) * (now - clock[1])

    # -- reading -----------------------------------------------------------
    def x_of(self, steps: np.ndarray, run: int, axis: str = "step") -> np.ndarray:
        """Steps of ``run`` on the ``"step"`` or (fractional) ``"epoch"`` axis."""
        if axis == "epoch":
            return to_epochs(steps, self._boundaries.get(run, []), self._steps_per_epoch.get(run))
        return steps

    def progress(self) -> str:
        """``run 2 training: epoch 3/10 · step 120/400 · 12 s · about 28 s left``."""
        if self.phase == "training" and self.step == self._run_start:
            return f"run {self.store.current_run}: training started"
        what = {"failed": "training failed"}.get(self.phase, self.phase)
        epochs, steps = self.params.get("epochs"), self.params.get("steps")
        total = (epochs - (self._first_epoch or 0)) * steps if epochs and steps else None
        done = self.step - self._run_start
        elapsed = time.perf_counter() - self._t0
        dot = " \u00b7 "
        text = f"run {self.store.current_run} {what}: epoch {self.epoch + 1}/{epochs or '?'}"
        text += f"{dot}step {done}" + (f"/{total}" if total else "")
        text += f"{dot}{duration(elapsed)}"
        left = eta_seconds(done, total, elapsed) if self.active else None
        return text + (f"{dot}about {duration(left)} left" if left else "")

    # -- a fit in the background, and steering it ------------------------------
    def fit_in_background(self, model, *args, **kwargs):
        """Run ``model.fit(*args, **kwargs)`` in a background thread, recorded here.

        The kernel stays free; :meth:`stop`, :meth:`pause`, :meth:`resume` and
        :meth:`set_learning_rate` act at the next batch. ``verbose`` defaults to 0
        (Keras' progress bar, printed from a thread, can flood a notebook). Returns the
        :class:`~nnwidgets.training.background.BackgroundFit`.
        """
        from .background import BackgroundFit

        if self.background is not None and self.background.running:
            raise RuntimeError("a fit is still training here: call .stop() first")
        callbacks = [*(kwargs.pop("callbacks", None) or []), self.callback]
        kwargs.setdefault("verbose", 0)
        job = BackgroundFit(
            model,
            *args,
            callbacks=callbacks,
            on_done=self._on_background_done,
            on_pause=self._on_pause,
            start=False,
            **kwargs,
        )
        self.background = job
        try:
            self.set_trait("learning_rate", job.learning_rate)
        except Exception:  # noqa: BLE001 - no plain number: it is read at the first batch
            pass
        with self._steering:  # a fit that ends at once cannot be marked live after
            job.start()
            self.set_trait("steerable", True)
        return job

    def _on_background_done(self, job) -> None:
        with self._steering:
            self.set_trait("steerable", False)
        if job.error is not None:
            self.fail(job.error)

    def _on_pause(self) -> None:
        """The background fit was asked to pause or resume, or started waiting."""
        if self.active and self.background is not None:
            self.set_trait("phase", "paused" if self.background.paused else "training")

    def _job(self):
        if self.background is None or not self.background.running:
            raise RuntimeError(
                "no background fit to steer: start one with session.fit_in_background(...)"
            )
        return self.background

    def stop(self) -> None:
        """Stop the background fit after the current batch."""
        self._job().stop()

    def pause(self) -> None:
        """Hold the background fit before its next batch."""
        self._job().pause()
        self._on_pause()

    def resume(self) -> None:
        self._job().resume()
        self._on_pause()

    def set_learning_rate(self, value: float) -> None:
        """Set the background fit's learning rate from its next batch (``ValueError``
        for a non-positive value or a schedule)."""
        self._job().learning_rate = value
        self.say(f"learning rate {float(value):g} from the next batch")
