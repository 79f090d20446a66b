"""The one shared model state that every nnwidgets view observes."""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from contextlib import contextmanager

import numpy as np
from traitlets import HasTraits, Int, TraitError, Tuple, Unicode, validate

from . import data as _data
from . import graph as _graph

_CACHE_BYTES = 512 * 2**20


class ModelState(HasTraits):
    """The model, its inputs and what is selected, shared by every view.

    Parameters
    ----------
    model : keras.Model
        Any Keras 3 model: Sequential (with or without ``keras.Input``), functional,
        nested. Keras objects stay on the Python side; nothing here is synced.
    inputs : array-like, optional
        Samples the model accepts, batch axis first (a list of arrays for a model with
        several inputs).
    labels : array-like, optional
        One label per sample (class indices, one-hot rows or values).

    Attributes
    ----------
    layer : str
        Name of the selected layer (nested layers read ``outer/inner``).
    input_index : int
        Index of the selected sample in ``inputs``.
    layer_names : tuple of str
        Every layer a user can pick, in graph order (read-only).
    version : int
        Bumped by :meth:`refresh` whenever the weights may have changed (read-only).
    status : str
        A one-line message for the views (errors, what is computing).

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")])
    >>> state = ModelState(model, inputs=np.zeros((5, 4)))
    >>> state.layer_names
    ('d',)
    >>> state.activation("d").shape
    (3,)
    """

    layer = Unicode(help="Name of the selected layer.")
    input_index = Int(0, help="Index of the selected input sample.")
    layer_names = Tuple(read_only=True, help="Every pickable layer, in graph order.")
    version = Int(0, read_only=True, help="Bumped when the weights may have changed.")
    status = Unicode("", help="One-line status for the views.")

    def __init__(self, model, inputs=None, labels=None, **kwargs):
        if not _graph.is_model(model):
            raise TypeError(
                f"ModelState needs a keras.Model, got {type(model).__name__}; "
                "build one with keras.Sequential([...]) or keras.Model(inputs, outputs)"
            )
        super().__init__(**kwargs)
        self._model = model
        self._inputs = None
        self._labels = None
        self._lock = threading.RLock()
        self._deferred: list = []
        self._cache: OrderedDict = OrderedDict()
        self._recorder = _graph.Recorder(model)
        if inputs is not None:
            self.set_data(inputs, labels)
        elif labels is not None:
            raise ValueError("labels were given without inputs")
        self._set_layers()

    # -- data --------------------------------------------------------------
    @property
    def model(self):
        """The Keras model (read-only; make a new state for another model)."""
        return self._model

    @property
    def inputs(self):
        """The samples, as numpy arrays (a list for multi-input models), or None."""
        return self._inputs

    @property
    def labels(self):
        """One label per sample, or None."""
        return self._labels

    @property
    def n_inputs(self) -> int:
        """How many samples there are (0 without inputs)."""
        return 0 if self._inputs is None else _data.n_samples(self._inputs)

    def set_data(self, inputs, labels=None) -> None:
        """Replace the samples (and labels) after checking the model can take them.

        Raises ``TypeError`` or ``ValueError`` naming the problem; on error the state
        keeps its previous data.
        """
        x = _data.as_inputs(inputs, self._model)
        y = _data.as_labels(labels, _data.n_samples(x))
        try:
            _graph.ensure_built(self._model, _data.sample_shape(x))
            record, out = self._recorder(_data.take(x, 0))
        except Exception as err:  # noqa: BLE001 - any Keras error means a shape mismatch
            raise ValueError(
                f"the model cannot take inputs of shape {_data.describe(x)}: {err}"
            ) from err
        rebuilt = not getattr(self, "_table", None) or self._labels_stale()
        with self._lock, self.hold_trait_notifications():
            self._inputs, self._labels = x, y
            self._cache.clear()
            if self.input_index >= self.n_inputs:
                self.input_index = 0
            self._bump()
            self._store((self.weights_key(), 0), record, out)
        if rebuilt and hasattr(self, "_table"):
            self._set_layers()

    def _labels_stale(self) -> bool:
        return any(info.output_shape == "?" for info in self._table.values())

    # -- traits ------------------------------------------------------------
    def _set_layers(self) -> None:
        self._table = {info.name: info for info in _graph.layer_table(self._model)}
        self.set_trait("layer_names", tuple(self._table))
        if self.layer not in self._table:
            self.layer = self._default_layer_name()

    def _default_layer_name(self) -> str:
        with_weights = [n for n, info in self._table.items() if info.layer.weights]
        return (with_weights or list(self._table) or [""])[0]

    @validate("layer")
    def _validate_layer(self, proposal):
        name = proposal["value"]
        if name not in self._table and not (name == "" and not self._table):
            choices = ", ".join(repr(n) for n in list(self._table)[:20])
            more = " ..." if len(self._table) > 20 else ""
            raise TraitError(f"ModelState.layer must be one of {choices}{more}; got {name!r}")
        return name

    @validate("input_index")
    def _validate_input_index(self, proposal):
        index, n = proposal["value"], self.n_inputs
        if n == 0 and index == 0:
            return index
        if not 0 <= index < n:
            raise TraitError(
                f"ModelState.input_index must be in range 0..{n - 1} ({n} inputs); got {index}"
            )
        return index

    def layer_info(self, name: str | None = None) -> _graph.LayerInfo:
        """The :class:`~nnwidgets.graph.LayerInfo` of a layer (default: the selected)."""
        return self._table[self._check_name(name)]

    def _check_name(self, name: str | None) -> str:
        name = name or self.layer
        if name not in self._table:
            choices = ", ".join(repr(n) for n in list(self._table)[:20]) or "none"
            raise ValueError(f"no layer named {name!r}; the model has {choices}")
        return name

    def refresh(self) -> None:
        """Say that the weights changed (e.g. after an epoch): drop caches, redraw views."""
        with self._lock:
            self._cache.clear()
            self._bump()

    def _notify_observers(self, event) -> None:
        with self.drawing():
            super()._notify_observers(event)

    @contextmanager
    def drawing(self):
        """Hold this while drawing from the state. Views draw in the observers, and a
        background ``fit`` refreshes them from its own thread: one lock keeps two threads
        from drawing at once; within it the weights are read once (:meth:`weights_key`)
        and :meth:`defer` queues what can wait until every view has drawn."""
        with self._lock:
            outer = self._depth == 0
            if outer:
                self._key = None
            self._depth += 1
            try:
                yield
            finally:
                self._depth -= 1
            if outer:
                try:
                    self._run_deferred()
                finally:
                    self._key = None

    _depth = 0
    _key = None

    def defer(self, draw) -> None:
        """Run ``draw`` once every view has handled the current change (now, outside
        :meth:`drawing`): views draw their main picture first and the rest after, so
        that every main picture reaches the browser sooner."""
        with self._lock:
            if self._depth:
                self._deferred.append(draw)
                return
        draw()

    def _run_deferred(self) -> None:
        while self._deferred:
            pending, self._deferred = self._deferred, []
            for draw in pending:
                draw()

    def weights_key(self) -> tuple[int, int]:
        """``(version, optimizer steps)``: changes when :meth:`refresh` is called or when
        the model trains, even through another state or no callback at all. Caches of
        anything computed from the weights are keyed on it; it is read once per
        :meth:`drawing`, so that one click costs at most one forward pass."""
        with self._lock:
            if self._depth and self._key is not None:
                return self._key
            steps = getattr(getattr(self._model, "optimizer", None), "iterations", None)
            try:
                steps = int(steps.numpy()) if steps is not None else 0
            except Exception:  # noqa: BLE001 - an optimizer without a readable step count
                steps = 0
            key = (self.version, steps)
            if self._depth:
                self._key = key
            return key

    def _bump(self) -> None:
        self.set_trait("version", self.version + 1)

    # -- activations -------------------------------------------------------
    def activation(self, layer: str | None = None, index: int | None = None) -> np.ndarray:
        """A layer's output for one sample, batch axis removed (first tensor if several).

        The first request for a sample runs one forward pass recording every layer;
        every other layer of that sample then costs nothing.
        """
        name = self._check_name(layer)
        entry = self._entry(self.input_index if index is None else index)
        if name not in entry["record"]:
            if _graph.graph_of(self._model) is None:
                raise ValueError(
                    f"{type(self._model).__name__} is a subclassed model: its layers' outputs "
                    "cannot be recorded; build it with keras.Sequential or the functional API"
                )
            raise ValueError(f"layer {name!r} was not run for this input (not in the graph)")
        arr, _ = _graph.first_output(entry["record"][name])
        return arr[0] if arr.ndim > 0 and arr.shape[0] == 1 else arr

    def output_count(self, layer: str | None = None) -> int:
        """How many tensors a layer returns for the selected sample."""
        name = self._check_name(layer)
        record = self._entry(self.input_index)["record"]
        return _graph.first_output(record[name])[1] if name in record else 0

    def prediction(self, index: int | None = None) -> np.ndarray:
        """The model's output for one sample (first output, batch axis removed)."""
        entry = self._entry(self.input_index if index is None else index)
        arr, _ = _graph.first_output(entry["output"])
        return arr[0] if arr.ndim > 0 else arr

    def _entry(self, index: int) -> dict:
        if self._inputs is None:
            raise ValueError("this ModelState has no inputs; call set_data(inputs) first")
        if not 0 <= index < self.n_inputs:
            raise ValueError(f"input index must be in range 0..{self.n_inputs - 1}; got {index}")
        with self._lock:
            key = (self.weights_key(), index)
            if self._cache and next(reversed(self._cache))[0] != key[0]:
                self._cache.clear()  # the weights changed: older records are stale
            if key in self._cache:
                self._cache.move_to_end(key)
                return self._cache[key]
            self.status = f"computing every layer's output for input {index}\u2026"
            try:
                record, out = self._recorder(_data.take(self._inputs, index))
            finally:
                self.status = ""
            return self._store(key, record, out)

    def _store(self, key, record, out) -> dict:
        size = sum(math.prod(t.shape) * 4 for v in record.values() for t in _graph._flatten(v))
        entry = {"record": record, "output": out, "bytes": size}
        self._cache[key] = entry
        while len(self._cache) > 1 and sum(e["bytes"] for e in self._cache.values()) > _CACHE_BYTES:
            self._cache.popitem(last=False)
        return entry
