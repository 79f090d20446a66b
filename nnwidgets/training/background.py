"""``model.fit`` in a background thread, so the kernel stays free for the widgets.

While a cell runs, the kernel reads no widget messages (ipywidgets #3468): a Stop button
or a learning-rate slider cannot act on a foreground ``fit``. Run in a thread, ``fit``
leaves the kernel free, and a thin control callback applies what the widgets asked for
at the next batch: stop, pause / resume, a new learning rate.
"""

from __future__ import annotations

import threading
import time


class BackgroundFit:
    """One ``model.fit(*args, **kwargs)`` running in a daemon thread, steerable.

    Parameters
    ----------
    model : keras.Model
        A compiled model.
    args, kwargs
        What ``model.fit`` takes; a control callback is added to ``callbacks``.
    on_done : callable, optional
        Called in the training thread with this run when ``fit`` returns or fails.
    on_pause : callable, optional
        Called with no argument in the training thread when it starts waiting (paused).
    start : bool
        Start the thread now (default), or later with :meth:`start`.

    Attributes
    ----------
    history : keras.callbacks.History or None
        What ``fit`` returned, once it has.
    error : BaseException or None
        What ``fit`` raised, if it did.

    Examples
    --------
    >>> run = BackgroundFit(model, x, y, epochs=5)  # doctest: +SKIP
    >>> run.pause(); run.learning_rate = 1e-4; run.resume()  # doctest: +SKIP
    >>> run.stop(); run.join()  # doctest: +SKIP
    """

    def __init__(self, model, *args, on_done=None, on_pause=None, start=True, **kwargs):
        if not getattr(model, "compiled", getattr(model, "optimizer", None) is not None):
            raise ValueError("the model is not compiled: call model.compile(...) before fit")
        self.model = model
        self.history = None
        self.error: BaseException | None = None
        self._stop = threading.Event()
        self._running = threading.Event()  # set = not paused
        self._running.set()
        self._lr = None
        self.lr_error = ""  # why the last learning rate asked for could not be set
        self._on_done = on_done
        self._on_pause = on_pause
        callbacks = list(kwargs.pop("callbacks", None) or [])
        kwargs["callbacks"] = [_control_callback(self), *callbacks]
        self._thread = threading.Thread(
            target=self._run, args=args, kwargs=kwargs, name="nnwidgets-fit", daemon=True
        )
        self.started = None
        if start:
            self.start()

    def start(self) -> None:
        """Start training (once)."""
        if self.started is None:
            self.started = time.perf_counter()
            self._thread.start()

    def in_thread(self) -> bool:
        """Whether the caller runs in this run's training thread."""
        return threading.current_thread() is self._thread

    def _run(self, *args, **kwargs):
        try:
            self.history = self.model.fit(*args, **kwargs)
        except BaseException as err:  # noqa: BLE001 - kept for the caller and the views
            self.error = err
        finally:
            self._running.set()
            if self._on_done is not None:
                self._on_done(self)

    # -- steering ----------------------------------------------------------
    def stop(self) -> None:
        """Stop after the current batch (``fit`` returns normally)."""
        self._stop.set()
        self._running.set()

    def pause(self) -> None:
        """Hold training before the next batch until :meth:`resume` or :meth:`stop`."""
        if self.running and not self.stopped:
            self._running.clear()

    def resume(self) -> None:
        self._running.set()

    @property
    def paused(self) -> bool:
        return self.running and not self._running.is_set()

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    @property
    def stopped(self) -> bool:
        """Whether :meth:`stop` was asked."""
        return self._stop.is_set()

    @property
    def learning_rate(self) -> float:
        """The optimizer's learning rate; setting it takes effect at the next batch."""
        if self._lr is not None:
            return self._lr
        return float(self.model.optimizer.learning_rate.numpy())

    @learning_rate.setter
    def learning_rate(self, value: float) -> None:
        value = float(value)
        if not value > 0 or value != value or value == float("inf"):
            raise ValueError(f"learning rate must be a positive finite number, got {value}")
        if not self.lr_settable:
            raise ValueError(
                "this optimizer's learning rate is a schedule "
                f"({type(_inner(self.model.optimizer)._learning_rate).__name__}); "
                "Keras cannot set it"
            )
        self._lr = value

    @property
    def lr_settable(self) -> bool:
        """Whether the optimizer's learning rate is a plain number that can be set."""
        return not _is_schedule(self.model.optimizer)

    def join(self, timeout: float | None = None) -> bool:
        """Wait for ``fit`` to end; return whether it has."""
        self._thread.join(timeout)
        return not self._thread.is_alive()

    # -- called by the control callback in the training thread -------------
    def _before_batch(self) -> None:
        if not self._running.is_set() and not self._stop.is_set():
            if self._on_pause is not None:
                self._on_pause()
            self._running.wait()
            if self._on_pause is not None:
                self._on_pause()
        lr, self._lr = self._lr, None
        if lr is not None:
            try:
                _inner(self.model.optimizer).learning_rate = lr
            except Exception as err:  # noqa: BLE001 - training goes on; the controls say why
                self.lr_error = f"learning rate {lr:g} not set: {err}"
        if self._stop.is_set():
            self.model.stop_training = True


def _inner(optimizer):
    """The optimizer that holds the learning rate (a LossScaleOptimizer wraps one)."""
    return getattr(optimizer, "inner_optimizer", optimizer)


def _is_schedule(optimizer) -> bool:
    """Whether the learning rate is a schedule or a callable (which Keras cannot set)."""
    import keras

    lr = getattr(_inner(optimizer), "_learning_rate", None)
    schedule = keras.optimizers.schedules.LearningRateSchedule
    return isinstance(lr, schedule) or (callable(lr) and not hasattr(lr, "assign"))


def _control_callback(run: BackgroundFit):
    import keras

    class Control(keras.callbacks.Callback):
        """Applies stop / pause / learning rate at batch boundaries; nothing more."""

        def on_train_batch_begin(self, batch, logs=None):
            run._before_batch()

        def on_train_batch_end(self, batch, logs=None):
            if run._stop.is_set():
                self.model.stop_training = True

    return Control()
