"""The one shared model state that every nnwidgets view observes: selection and data."""

from __future__ import annotations

import threading

import numpy as np
from traitlets import HasTraits, Int, TraitError, Tuple, Unicode, validate

from .compute import data as _data
from .compute import graph as _graph
from .compute.activations import ActivationCache


class ModelState(HasTraits):
    """The model, its inputs and what is selected, shared by every view.

    It holds the selection and the data, nothing else: recordings are cached by an
    :class:`~nnwidgets.compute.activations.ActivationCache`, and views schedule their
    drawing with :class:`~nnwidgets.views.scheduler.DrawScheduler`.

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
        self._table: dict = {}
        #: Held while the data or the weights' version change; views draw holding it
        #: too (a background ``fit`` redraws them from its own thread).
        self.lock = threading.RLock()
        self.activations = ActivationCache(model)
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
            record, out = self.activations.record(_data.take(x, 0))
        except Exception as err:  # noqa: BLE001 - any Keras error means a shape mismatch
            raise ValueError(
                f"the model cannot take inputs of shape {_data.describe(x)}: {err}"
            ) from err
        stale = not self._table or self._labels_stale()
        with self.lock, self.hold_trait_notifications():
            self._inputs, self._labels = x, y
            self.activations.clear()
            if self.input_index >= self.n_inputs:
                self.input_index = 0
            self._bump()
            self.activations.put(self.weights_key(), 0, record, out)
        if stale and self._table:
            self._set_layers()

    def _labels_stale(self) -> bool:
        return any(info.output_shape == "?" for info in self._table.values())

    # -- selection ---------------------------------------------------------
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
            raise TraitError(f"ModelState.layer must be one of {self._choices()}; got {name!r}")
        return name

    def _choices(self) -> str:
        names = list(self._table)
        text = ", ".join(repr(n) for n in names[:20]) or "none"
        return text + (" ..." if len(names) > 20 else "")

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
        """The :class:`~nnwidgets.compute.graph.LayerInfo` of a layer (default: the
        selected one)."""
        return self._table[self._check_name(name)]

    def _check_name(self, name: str | None) -> str:
        name = name or self.layer
        if name not in self._table:
            raise ValueError(f"no layer named {name!r}; the model has {self._choices()}")
        return name

    # -- weights -----------------------------------------------------------
    def refresh(self) -> None:
        """Say that the weights changed (e.g. after an epoch): views redraw."""
        with self.lock:
            self.activations.clear()
            self._bump()

    def weights_key(self) -> tuple[int, int]:
        """``(version, optimizer steps)``: changes when :meth:`refresh` is called or when
        the model trains, even through another state or no callback at all. Anything
        computed from the weights is cached on it."""
        steps = getattr(getattr(self._model, "optimizer", None), "iterations", None)
        try:
            steps = int(steps.numpy()) if steps is not None else 0
        except Exception:  # noqa: BLE001 - an optimizer without a readable step count
            steps = 0
        return (self.version, steps)

    def _bump(self) -> None:
        self.set_trait("version", self.version + 1)

    # -- what the model computes --------------------------------------------
    def activation(self, layer: str | None = None, index: int | None = None, key=None):
        """A layer's output for one sample, batch axis removed (first tensor if several).

        The first request for a sample runs one forward pass recording every layer;
        every other layer of that sample then costs nothing. ``key`` (default: read
        now) is the :meth:`weights_key` the answer must be computed with.
        """
        name = self._check_name(layer)
        record = self._recording(index, key)[0]
        if name not in record:
            if _graph.graph_of(self._model) is None:
                raise ValueError(
                    f"{type(self._model).__name__} is a subclassed model: its layers' outputs "
                    "cannot be recorded; build it with keras.Sequential or the functional API"
                )
            raise ValueError(f"layer {name!r} was not run for this input (not in the graph)")
        arr, _ = _graph.first_output(record[name])
        return arr[0] if arr.ndim > 0 and arr.shape[0] == 1 else arr

    def output_count(self, layer: str | None = None, key=None) -> int:
        """How many tensors a layer returns for the selected sample."""
        name = self._check_name(layer)
        record = self._recording(None, key)[0]
        return _graph.first_output(record[name])[1] if name in record else 0

    def prediction(self, index: int | None = None, key=None) -> np.ndarray:
        """The model's output for one sample (first output, batch axis removed)."""
        arr, _ = _graph.first_output(self._recording(index, key)[1])
        return arr[0] if arr.ndim > 0 else arr

    def _recording(self, index: int | None, key) -> tuple[dict, object]:
        index = self.input_index if index is None else index
        if self._inputs is None:
            raise ValueError("this ModelState has no inputs; call set_data(inputs) first")
        if not 0 <= index < self.n_inputs:
            raise ValueError(f"input index must be in range 0..{self.n_inputs - 1}; got {index}")
        key = self.weights_key() if key is None else key
        if (key, index) in self.activations:
            return self.activations.get(self._inputs, index, key)
        self.status = f"computing every layer's output for input {index}\u2026"
        try:
            return self.activations.get(self._inputs, index, key)
        finally:
            self.status = ""
