"""Recording training dynamics every K steps, in bounded memory (no widget here).

- :class:`ThinningLog`: at most ``capacity`` records; when full, every other old record
  goes (the newest is always kept) and the least gap between records doubles, so what
  is kept stays evenly spread over the whole run.
- :class:`DynamicsProbe`: on a fixed probe batch, per layer, gradient norms, weight
  norms, the update ratio of the next step, weight histograms and dead units.
- :class:`InputSnapshots`: one input's every-layer outputs and prediction.
- :class:`~nnwidgets.training.explanations.GradCamSnapshots`: that input's Grad-CAM.
- :class:`Traces`: the one background thread that compiles what they compute.

They are :class:`~nnwidgets.training.Probe` objects: a session calls them within
their budget, and each picks its K (steps between records) from its measured cost.
"""

from __future__ import annotations

import math
import threading
import time
from dataclasses import dataclass, field

import numpy as np
from traitlets import HasTraits, Int

from .. import dynamics as _dyn
from .probes import Probe


class ThinningLog(HasTraits):
    """Records ``(step, value)`` in bounded memory, evenly thinned, newest kept.

    >>> log = ThinningLog(capacity=4)
    >>> for step in range(1, 10):
    ...     if log.due(step):
    ...         log.add(step, step * 10)
    >>> log.steps(), log.gap
    ([1, 5, 9], 4)
    """

    updates = Int(0, read_only=True, help="Bumped when a record is added or dropped.")

    def __init__(self, capacity: int = 256):
        super().__init__()
        if int(capacity) < 2:
            raise ValueError(f"a log keeps at least 2 records, got capacity={capacity}")
        self.capacity = int(capacity)
        self.gap = 1  # steps at least between two kept records
        self._items: list[tuple[int, object]] = []
        self._lock = threading.Lock()

    def add(self, step: int, value) -> None:
        with self._lock:
            if self._items and self._items[-1][0] == step:
                self._items[-1] = (step, value)  # the same step again: the newest wins
            else:
                self._items.append((step, value))
            if len(self._items) > self.capacity:
                self._items = self._items[::-1][::2][::-1]
                self.gap *= 2
        self.set_trait("updates", self.updates + 1)

    def due(self, step: int) -> bool:
        """Whether a record at ``step`` keeps the records evenly spread."""
        return not self._items or step - self._items[-1][0] >= self.gap

    def clear(self) -> None:
        with self._lock:
            self._items, self.gap = [], 1
        self.set_trait("updates", self.updates + 1)

    def items(self) -> list[tuple[int, object]]:
        with self._lock:
            return list(self._items)

    def steps(self) -> list[int]:
        return [s for s, _ in self.items()]

    def last(self):
        items = self.items()
        return items[-1][1] if items else None

    def at(self, step: int | None):
        """The record nearest ``step`` at or before it (the first one if none is;
        None: the newest), as ``(step, value)``, or None when empty."""
        items = self.items()
        if not items:
            return None
        if step is None or step < 0:
            return items[-1]
        steps = [s for s, _ in items]
        i = max(int(np.searchsorted(steps, step, side="right")) - 1, 0)
        return items[i]

    def __len__(self) -> int:
        return len(self._items)


class Traces:
    """Compiles (traces) in background threads, one after the other, never two at once
    (Keras layers share Python lists while traced): each thread waits for the last.
    :meth:`join` waits for them all; ``fit`` must not start before.

    >>> traces = Traces()
    >>> traces.run([lambda: None])
    >>> traces.join()
    """

    def __init__(self):
        self._last = None
        self._lock = threading.Lock()

    def run(self, steps) -> None:
        """Call each of ``steps`` in a background thread, after those queued before."""
        steps = [step for step in steps if step is not None]
        if not steps:
            return
        with self._lock:
            before = self._last

            def run():
                if before is not None:
                    before.join()
                for step in steps:
                    step()

            # (not a daemon: TensorFlow aborts the process if it is still tracing at exit)
            self._last = threading.Thread(target=run, name="nnwidgets-dynamics-trace")
            self._last.start()

    def join(self) -> None:
        with self._lock:
            last = self._last
        if last is not None:
            last.join()

    @property
    def busy(self) -> bool:
        last = self._last
        return last is not None and last.is_alive()


@dataclass
class Dynamics:
    """One record of :class:`DynamicsProbe`, per layer name."""

    gradients: dict[str, float] = field(default_factory=dict)
    weights: dict[str, float] = field(default_factory=dict)
    ratios: dict[str, float] = field(default_factory=dict)  # filled one step later
    dead: dict[str, float] = field(default_factory=dict)
    #: variable path -> (edges, counts, how many values are NaN or Inf)
    histograms: dict[str, tuple] = field(default_factory=dict)


class Recording(Probe):
    """A probe whose K (steps between records) follows from its cost: after each
    record, ``every`` becomes the steps whose training time pays for it within
    ``budget`` (and never less than its log's ``gap``)."""

    def __init__(self, budget: float, capacity: int):
        super().__init__(every=1, budget=budget, events=("batch", "end"))
        self.log = ThinningLog(capacity)
        self.cost = 0.0  # seconds of the last record
        self._last = None  # (time, step) of the last record

    def _choose_every(self, session, cost: float):
        """Pick ``every`` from this record's cost and the training time per step since
        the last record (until a second record, the session's budget check alone
        spaces them)."""
        now = time.perf_counter()
        if self._last is not None and session.step > self._last[1]:
            per_step = max(now - cost - self._last[0], 1e-6) / (session.step - self._last[1])
            want = cost / max(self.budget * per_step, 1e-12)
            self.every = int(min(max(math.ceil(want), self.log.gap, 1), 10**6))
        self._last = (now, session.step)
        self.cost = cost


class DynamicsProbe(Recording):
    """Gradient norms, weight norms, update ratios, weight histograms and dead units
    per layer, every K steps, on a fixed probe batch.

    The update ratio ‖ΔW‖/‖W‖ is the movement of one step: the weights are copied at a
    record and compared at the next batch end. Nothing here changes training: inference
    mode, no optimizer step, the loss trackers put back.

    Parameters
    ----------
    model : keras.Model
    x, y : arrays
        The probe batch (``y`` None: no gradients, and the error says why).
    budget : float
        Share of training time the records may take.
    capacity : int
        Records kept at most (evenly thinned, newest kept).
    bins : int
        Buckets of the weight histograms (TensorBoard's 30 by default).
    traces : Traces, optional
        The thread to compile in (shared with other probes of the same model).
    """

    def __init__(self, model, x, y, budget=0.04, capacity=256, bins=_dyn.BINS, traces=None):
        super().__init__(budget, capacity)
        self.model, self.x, self.y, self.bins = model, x, y, int(bins)
        self.error = ""  # why gradients could not be recorded, if so
        self.traces = traces if traces is not None else Traces()
        self._warmed = False
        self._before = None  # parameters copied at the last record
        self._before_run = None  # the session run they were copied in
        self._pending = None  # the record whose ratios wait for the next step

    def warm_up(self) -> None:
        """Compile what a record computes, before training (once): the loss is built
        now, in this thread; the gradient and dead-unit graphs are traced and run once
        in a background thread, one after the other. Call :meth:`join` before anything
        else traces the model (``fit`` does when it starts)."""
        if self._warmed:
            return
        self._warmed = True
        self.traces.run(
            [
                _dyn.Gradients.of(self.model).warm_up(self.x, self.y),
                _dyn.AliveUnits.of(self.model).warm_up(self.x),
            ]
        )

    def join(self) -> None:
        """Wait for :meth:`warm_up` (Keras layers share Python lists while traced: two
        threads must not trace the model at once)."""
        self.traces.join()

    @property
    def pending(self) -> bool:
        """A record waits for the next batch end (its update ratios)."""
        return self._before is not None

    def record(self, session, event: str):
        if session.model is not None and session.model is not self.model:
            return 0.0  # the session trains another model
        self.join()
        if self._before is not None and session.store.current_run != self._before_run:
            self._before = self._pending = None  # copied in a run that failed
        if self._before is not None and event == "batch":
            return self._finish(session)
        if event == "end":
            self._before = self._pending = None  # no next step: no ratio
            if self.log.steps()[-1:] == [session.step]:
                return 0.0  # recorded at this step already
        elif not self.log.due(session.step):
            return 0.0
        start = time.perf_counter()
        rec = Dynamics(weights=_dyn.weight_norms(self.model), dead=self._dead())
        rec.gradients = self._gradients()
        rec.histograms = self._histograms()
        self.log.add(session.step, rec)
        if event == "batch":
            self._before, self._pending = _dyn.snapshot(self.model), rec
            self._before_run = session.store.current_run
        self._choose_every(session, time.perf_counter() - start)
        return None

    def _finish(self, session):
        rec, before = self._pending, self._before
        self._before = self._pending = None
        rec.ratios = _dyn.update_ratios(before, self.model)
        self.log.set_trait("updates", self.log.updates + 1)
        return None

    def _gradients(self) -> dict[str, float]:
        try:
            norms = _dyn.gradient_norms(self.model, self.x, self.y)
        except (ValueError, RuntimeError) as err:
            self.error = str(err)
            return {}
        self.error = ""
        return norms

    def _dead(self) -> dict[str, float]:
        try:
            return _dyn.dead_units(self.model, self.x)
        except Exception:  # noqa: BLE001 - a layer that cannot be recorded: no figure
            return {}

    def _histograms(self) -> dict[str, tuple]:
        out = {}
        for variables in _dyn.layer_parameters(self.model).values():
            for v in variables:
                if v.path not in out:
                    values = np.asarray(v)
                    edges, counts = _dyn.histogram(values, self.bins)
                    bad = int(values.size - counts.sum())  # NaN and Inf are not bucketed
                    out[v.path] = (edges.astype(np.float32), counts.astype(np.int32), bad)
        return out


@dataclass
class Snapshot:
    """One input's every-layer outputs (float16) and the model's outputs."""

    outputs: dict[str, np.ndarray]
    prediction: list[np.ndarray]
    nbytes: int


class InputSnapshots(Recording):
    """The every-layer outputs of one input (``state.input_index`` when watching
    starts), snapshotted every N steps, to replay how they changed.

    At most ``capacity`` snapshots and about ``max_bytes`` are kept: a model whose
    recording is large keeps fewer (never less than 2), still evenly spread with the
    newest kept. Arrays are kept as float16.
    """

    def __init__(self, state, budget=0.01, capacity=60, max_bytes=64 * 2**20):
        super().__init__(budget, capacity)
        self.state = state
        self.max_bytes = int(max_bytes)
        self.index = state.input_index  # the input watched
        self.error = ""
        self._max_capacity = int(capacity)

    def watch(self, index: int) -> None:
        """Watch another input: the snapshots of the last one are dropped."""
        self.index = int(index)
        self.log.clear()
        self.log.capacity = self._capacity_for(None)

    def record(self, session, event: str):
        if session.model is not None and session.model is not self.state.model:
            return 0.0  # the session trains another model
        if event == "batch" and not self.log.due(session.step):
            return 0.0
        if event == "end" and self.log.steps()[-1:] == [session.step]:
            return 0.0
        start = time.perf_counter()
        try:
            shot = self.take()
        except Exception as err:  # noqa: BLE001 - no recording: said in the view
            self.error = str(err)
            return None
        self.error = ""
        self.log.capacity = self._capacity_for(shot)
        self.log.add(session.step, shot)
        self._choose_every(session, time.perf_counter() - start)
        return None

    def take(self) -> Snapshot:
        """The watched input's outputs with the weights as they are now."""
        record, out = self.state.activations.record(_one(self.state.inputs, self.index))
        outputs = {}
        for name, value in record.items():
            arr = np.asarray(_first(value))
            if arr.dtype.kind == "f":
                outputs[name] = arr[0].astype(np.float16)
        prediction = [np.asarray(t)[0].astype(np.float32) for t in _flat(out)]
        size = sum(a.nbytes for a in outputs.values()) + sum(p.nbytes for p in prediction)
        return Snapshot(outputs, prediction, size)

    def _capacity_for(self, shot) -> int:
        if shot is None or shot.nbytes == 0:
            return self.log.capacity
        fits = self.max_bytes // shot.nbytes
        return int(min(max(fits, 2), self._max_capacity))


def _one(inputs, index: int):
    from ..compute import data as _data

    return _data.take(inputs, index)


def _first(value):
    from ..compute import graph as _graph

    return _graph.flatten(value)[0]


def _flat(out):
    from ..compute import graph as _graph

    return _graph.flatten(out)


def probe_batch(state, size: int = 64) -> tuple:
    """``size`` samples of the state's data, evenly spread over it, and their labels
    (None without labels): the fixed batch the dynamics are measured on."""
    n = state.n_inputs
    if n == 0:
        raise ValueError("training dynamics need inputs: ModelState(model, inputs, labels)")
    index = np.unique(np.linspace(0, n - 1, min(int(size), n)).round().astype(int))
    x = state.inputs
    x = [a[index] for a in x] if isinstance(x, list) else x[index]
    labels = state.labels
    if labels is None:
        return x, None
    if isinstance(labels, list):
        return x, [None if a is None else np.asarray(a)[index] for a in labels]
    return x, np.asarray(labels)[index]


class DynamicsRecorder(HasTraits):
    """The probes of a :class:`~nnwidgets.TrainingDynamics`, added to a training
    session, and what its views follow: :attr:`updates` and :attr:`step`.

    Views redraw from the training thread (in a foreground ``fit`` no other thread
    runs), so redrawing is a probe too (:class:`Redraw`): at most every ``interval``
    seconds, within ``draw_budget`` of the training time, and at the end.

    >>> recorder = DynamicsRecorder(state, session)  # doctest: +SKIP
    >>> model.fit(x, y, callbacks=[session.callback])  # doctest: +SKIP
    >>> recorder.dynamics.log.steps()[-1] == session.step  # doctest: +SKIP
    True
    """

    updates = Int(0, read_only=True, help="Bumped when there is something new to draw.")
    step = Int(None, allow_none=True, help="The step shown (None: the newest).")

    def __init__(
        self,
        state,
        session,
        budget=0.04,
        probe_size=32,
        capacity=256,
        interval=1.0,
        draw_budget=0.02,
        warm_up=True,
    ):
        from .explanations import GradCamSnapshots

        super().__init__()
        x, y = probe_batch(state, probe_size)
        self.state, self.session, self.traces = state, session, Traces()
        self.dynamics = DynamicsProbe(
            state.model, x, y, budget * 3 / 4, capacity, traces=self.traces
        )
        self.snapshots = InputSnapshots(state, budget=budget / 8)
        self.explanations = GradCamSnapshots(
            state, self.snapshots, budget=budget / 8, traces=self.traces
        )
        self.redraw = Redraw(self, interval, draw_budget)
        for probe in self._probes:
            session.add_probe(probe)
        session.observe(self._on_phase, names="phase")
        self._warm = False
        if warm_up:
            self.warm_up()

    @property
    def _probes(self) -> tuple:
        return (self.dynamics, self.snapshots, self.explanations, self.redraw)

    def warm_up(self) -> None:
        """Compile the records' computations in the background now; while a fit runs,
        the first record compiles the dynamics' and the Grad-CAM maps are compiled when
        it ends (and recorded from the next fit)."""
        self._warm = True
        if not self.session.active:
            self.dynamics.warm_up()
            self.explanations.warm_up(self.session.step)

    def join(self) -> None:
        """Wait for the computations compiling in the background."""
        self.traces.join()

    def watch(self, index: int) -> None:
        """Watch another input: its snapshots and Grad-CAM maps start again."""
        self.snapshots.watch(index)
        self.explanations.watch(index)
        self.follow_layer()  # (without a label, its predicted class may need compiling)

    def _on_phase(self, change) -> None:
        if change["new"] == "training":
            self.traces.join()  # before fit traces its own step
            self.explanations.begin(self.session)
        elif change["new"] in ("done", "failed"):
            self.follow_layer()  # a layer picked while training

    def follow_layer(self) -> None:
        """Compile the Grad-CAM maps at the state's layer now, in the background, when
        the records were compiled before (:meth:`warm_up`) and no fit runs; while one
        runs, they stay at the layer compiled (the replay says so). The replay calls
        this when it draws, ``fit`` when it ends."""
        if self._warm and not self.session.active:
            self.explanations.warm_up(self.session.step)

    def _updates(self) -> int:
        return sum(p.log.updates for p in (self.dynamics, self.snapshots, self.explanations))

    @property
    def dirty(self) -> bool:
        """Whether records were added since the views last drew."""
        return self._updates() != self._drawn

    _drawn = 0

    def publish(self) -> None:
        """Tell the views to draw what was recorded."""
        self._drawn = self._updates()
        self.set_trait("updates", self.updates + 1)

    _closed = False

    def close(self) -> None:
        if self._closed:
            return
        self._closed = True
        for probe in self._probes:
            self.session.remove_probe(probe)
        self.session.unobserve(self._on_phase, names="phase")
        self.traces.join()


class Redraw(Probe):
    """Redraws a recorder's views when there are new records: at most every
    ``interval`` seconds within ``budget``, and always when training ends."""

    def __init__(self, recorder, interval: float = 1.0, budget: float = 0.02):
        super().__init__(every=1, budget=budget)
        self.recorder, self.interval = recorder, float(interval)

    def gap(self, session) -> float:
        return self.interval

    def record(self, session, event: str):
        if not self.recorder.dirty:
            return 0.0
        self.recorder.publish()
        return None
