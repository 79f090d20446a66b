"""The one shared model state that every nnwidgets view observes: selection and data."""

from __future__ import annotations

import threading

import numpy as np
from traitlets import Int, TraitError, Tuple, Unicode, validate

from .compute import data as _data
from .compute import graph as _graph
from .compute import kinds as _kinds
from .compute.activations import ActivationCache
from .compute.tokens import as_vocabulary
from .state_units import UnitsOff


class ModelState(UnitsOff):
    """The model, its inputs and what is selected, shared by every view.

    It holds the selection and the data, nothing else: recordings are cached by an
    :class:`~nnwidgets.compute.activations.ActivationCache`, and views schedule their
    drawing with :class:`~nnwidgets.views.scheduler.DrawScheduler`.

    Parameters
    ----------
    model : keras.Model
        Any Keras 3 model: Sequential (with or without ``keras.Input``), functional,
        nested. Keras objects stay on the Python side; nothing here is synced.
    inputs : array-like, dict, DataFrame, tf.data.Dataset, PyDataset or generator, optional
        Samples the model accepts, batch axis first: an array, a list of arrays (one per
        input, in ``model.inputs`` order), a dict or a pandas DataFrame keyed by input
        name. From a dataset or generator the first ``max_samples`` samples are read
        (labels too, when its elements are ``(x, y)``); :attr:`data_note` says so.
    labels : array-like, list or dict, optional
        One label per sample (class indices, one-hot rows, masks or values); for a model
        with several outputs, a dict keyed by output name or a list with one entry per
        output.
    input_kinds, output_kinds : str, sequence or dict, optional
        Override the inferred kinds (see :mod:`nnwidgets.compute.kinds`): one kind per
        input / output, or a dict by name (the others are inferred).
    class_names : list or dict, optional
        Names of the classes of the first class output (a list), or a dict keyed by
        output name.
    vocabulary : list, dict or callable, optional
        Token id to text, for ``"tokens"`` inputs: a list, a dict (id to word or word to
        id) or a function.
    max_samples : int
        Samples read at most from a dataset or generator (default 1000; also at most
        256 MB are read).

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
    input_kinds, output_kinds : tuple of str
        What each input (``"image"``, ``"tokens"``, ``"sequence"``, ``"tabular"``,
        ``"other"``) and each output (``"classes"``, ``"multilabel"``,
        ``"regression"``, ``"segmentation"``, ``"image"``, ``"other"``) is (read-only).
    data_note : str
        Where the samples came from when they were read from a stream (read-only).
    class_index : int or None
        The class (or output unit) the explanations are about; None means each
        input's predicted class.
    selection : tuple of int
        A set of inputs (indices into ``inputs``, sorted, once each; ``()`` = none)
        that views of several inputs read and write: a brushed group of points, a
        confusion-matrix cell. Checked when set (an index out of range or not an int
        raises ``TraitError`` and leaves it as it was); emptied by :meth:`set_data`.
    ablation : dict
        Units switched off, ``{layer name: tuple of units}`` (default ``{}``): their
        output is set to 0 in every recording and prediction the views draw; the
        weights are never touched, and ``ablation = {}`` gives back the model's own
        outputs exactly. A unit is an index on the last axis of the layer's output
        (a Dense unit, a conv channel). Checked when set: a layer that is not in
        :attr:`layer_names` or that runs inside a composite layer's ``call()``, a unit
        out of range or not an int raise ``TraitError`` and leave it as it was.
        Normalised: units sorted, once each; layers with none left out. A change
        bumps :attr:`version`. See :meth:`toggle_unit` and :meth:`restore`.

    Examples
    --------
    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, name="d")])
    >>> state = ModelState(model, inputs=np.zeros((5, 4)))
    >>> state.layer_names
    ('d',)
    >>> state.activation("d").shape
    (3,)
    >>> state.toggle_unit("d", 1)
    True
    >>> state.ablation, float(state.activation("d")[1])
    ({'d': (1,)}, 0.0)
    """

    layer = Unicode(help="Name of the selected layer.")
    input_index = Int(0, help="Index of the selected input sample.")
    layer_names = Tuple(read_only=True, help="Every pickable layer, in graph order.")
    version = Int(0, read_only=True, help="Bumped when the weights may have changed.")
    status = Unicode("", help="One-line status for the views.")
    input_kinds = Tuple(read_only=True, help="Kind of each model input.")
    output_kinds = Tuple(read_only=True, help="Kind of each model output.")
    data_note = Unicode("", read_only=True, help="Where streamed samples came from.")
    class_index = Int(
        None, allow_none=True, help="The class explained (None: the predicted class)."
    )
    selection = Tuple(help="A set of inputs (sorted indices; () = none).")

    def __init__(
        self,
        model,
        inputs=None,
        labels=None,
        *,
        input_kinds=None,
        output_kinds=None,
        class_names=None,
        vocabulary=None,
        max_samples: int = _data.MAX_SAMPLES,
        **kwargs,
    ):
        if not _graph.is_model(model):
            raise TypeError(
                f"ModelState needs a keras.Model, got {type(model).__name__}; "
                "build one with keras.Sequential([...]) or keras.Model(inputs, outputs)"
            )
        if int(max_samples) < 1:
            raise ValueError(f"max_samples must be at least 1, got {max_samples}")
        super().__init__(**kwargs)
        self._model = model
        self._inputs = None
        self._labels = None
        self._table: dict = {}
        self.max_samples = int(max_samples)
        self.vocabulary = as_vocabulary(vocabulary)
        _kinds.check_values(input_kinds, _kinds.INPUT_KINDS, "input_kinds")
        _kinds.check_values(output_kinds, _kinds.OUTPUT_KINDS, "output_kinds")
        self._given_kinds = (input_kinds, output_kinds)
        self._class_names = _check_class_names(class_names)
        self._feature_names: dict[int, tuple] = {}
        self._activations: tuple = ()
        self._init_units_off()
        #: Held while the data or the weights' version change; views draw holding it
        #: too (a background ``fit`` redraws them from its own thread).
        self.lock = threading.RLock()
        self.activations = ActivationCache(model)
        if inputs is not None:
            self.set_data(inputs, labels)
        elif labels is not None:
            raise ValueError("labels were given without inputs")
        else:
            self._set_kinds()
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
        """One label per sample, or None; for a model with several outputs a list with
        one entry (array or None) per output."""
        if self._labels is None:
            return None
        return self._labels[0] if len(self._labels) == 1 else list(self._labels)

    def label(self, index: int | None = None, output: int = 0):
        """The label of one sample for one output, or None."""
        if self._labels is None or output >= len(self._labels) or self._labels[output] is None:
            return None
        return self._labels[output][self.input_index if index is None else index]

    @property
    def input_names(self) -> tuple[str, ...]:
        """The model inputs' names, in ``model.inputs`` order."""
        names = _kinds.input_names(self._model)
        return names or tuple(f"input_{i}" for i in range(len(self.input_kinds)))

    @property
    def output_names(self) -> tuple[str, ...]:
        """The model outputs' names, in ``model.outputs`` order."""
        names = _kinds.output_names(self._model)
        return names or tuple(f"output_{i}" for i in range(len(self.output_kinds)))

    def class_names(self, output: int = 0) -> tuple[str, ...] | None:
        """The class names of an output, or None."""
        names = self._class_names
        if isinstance(names, dict):
            return names.get(self.output_names[output]) if output < len(self.output_names) else None
        takes = [i for i, k in enumerate(self.output_kinds) if k in _NAMED_KINDS]
        return names if takes and output == takes[0] else None

    def feature_names(self, input: int = 0) -> tuple[str, ...] | None:
        """Names of a tabular input's features (a DataFrame's columns), or None."""
        return self._feature_names.get(input)

    def output_activation(self, output: int = 0) -> str:
        """The name of the activation that makes an output ('' if unknown)."""
        return self._activations[output] if output < len(self._activations) else ""

    @property
    def n_inputs(self) -> int:
        """How many samples there are (0 without inputs)."""
        return 0 if self._inputs is None else _data.n_samples(self._inputs)

    def set_data(self, inputs, labels=None) -> None:
        """Replace the samples (and labels) after checking the model can take them.

        Raises ``TypeError`` or ``ValueError`` naming the problem; on error the state
        keeps its previous data.
        """
        note = ""
        if _data.is_stream(inputs):
            if labels is not None:
                raise ValueError(
                    "labels were given beside a dataset or generator: its elements carry "
                    "them as (x, y); pass labels=None"
                )
            inputs, labels, note = _data.read_stream(inputs, self._model, self.max_samples)
        x = _data.as_inputs(inputs, self._model)
        try:
            _graph.ensure_built(self._model, _data.sample_shape(x))
            record, out = self.activations.record(_data.take(x, 0), self._ablations[-1][2])
        except Exception as err:  # noqa: BLE001 - any Keras error means a shape mismatch
            raise ValueError(
                f"model expects {_data.expects(self._model)}; got {_data.describe(x)}: {err}"
            ) from err
        y = _data.as_labels(labels, _data.n_samples(x), self._label_names(out))
        stale = not self._table or self._labels_stale()
        with self.lock, self.hold_trait_notifications():
            self._inputs, self._labels = x, y
            self._feature_names = _feature_names(inputs, x)
            self.set_trait("data_note", note)
            self.activations.clear()
            if self.input_index >= self.n_inputs:
                self.input_index = 0
            self.selection = ()
            self._bump()
            self.activations.put(self.weights_key(), 0, record, out)
            self._set_kinds(out)
        if stale and self._table:
            self._set_layers()

    def _label_names(self, out) -> tuple[str, ...]:
        names = _kinds.output_names(self._model)
        return names or tuple(f"output_{i}" for i in range(len(_graph.flatten(out))))

    def _set_kinds(self, out=None) -> None:
        """Infer each input's and output's kind (the constructor's overrides win)."""
        model, x = self._model, self._inputs
        given_in, given_out = self._given_kinds
        inferred_in = _kinds.model_input_kinds(model, x)
        labels = self._labels
        inferred_out = _kinds.model_output_kinds(model, labels)
        if not inferred_out and out is not None:  # a subclassed model: its output's shape
            inferred_out = tuple(
                _kinds.output_kind(tuple(np.shape(t))[1:]) for t in _graph.flatten(out)
            )
        in_names = _kinds.input_names(model) or tuple(f"input_{i}" for i in range(len(inferred_in)))
        ins = _merge(given_in, inferred_in, in_names, "input_kinds")
        outs = _merge(
            given_out,
            inferred_out,
            self._label_names(out) if out is not None else _kinds.output_names(model),
            "output_kinds",
        )
        self._activations = _kinds.output_activations(model)
        self.set_trait("input_kinds", ins)
        self.set_trait("output_kinds", outs)

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

    @validate("selection")
    def _validate_selection(self, proposal):
        try:
            checked = _data.check_indices(proposal["value"], self.n_inputs, "ModelState.selection")
        except ValueError as err:
            raise TraitError(str(err)) from None
        return tuple(sorted(set(checked)))

    @validate("class_index")
    def _validate_class_index(self, proposal):
        index, units = proposal["value"], self.output_units()
        if isinstance(index, bool):
            raise TraitError(f"ModelState.class_index must be an int or None; got {index!r}")
        index = None if index is None else int(index)
        if index is not None and units and not 0 <= index < units:
            raise TraitError(
                f"ModelState.class_index must be None (the predicted class) or in range "
                f"0..{units - 1} ({units} output units); got {index}"
            )
        return index

    def output_units(self, output: int = 0) -> int:
        """Units on the last axis of an output (the classes of a classifier; 0 when
        unknown)."""
        try:
            shape = tuple(self._model.outputs[output].shape)
        except (AttributeError, IndexError, ValueError):
            return 0
        return int(shape[-1]) if len(shape) > 1 and shape[-1] is not None else 0

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
        """Say that the weights changed (e.g. after an epoch): views redraw.

        The lock is not held while they do (a background ``fit`` calls this from its
        thread, and a click meanwhile must not wait for its forward pass); recordings
        of older weights go stale with the new :meth:`weights_key`."""
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
            outer = _graph.inside_call(self._model, name)
            if outer is not None:
                raise ValueError(
                    f"{name!r} runs inside the call() of {outer!r}, so Keras does not give "
                    f"its output; its weights are shown, and {outer!r} shows the block's output"
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
        return self.predictions(index, key)[0]

    def predictions(self, index: int | None = None, key=None) -> list[np.ndarray]:
        """Every output of the model for one sample, batch axis removed, in
        ``model.outputs`` order."""
        out = self._recording(index, key)[1]
        arrays = [np.asarray(t) for t in _graph.flatten(out)]
        return [a[0] if a.ndim > 0 else a for a in arrays]

    def _recording(self, index: int | None, key) -> tuple[dict, object]:
        index = self.input_index if index is None else index
        if self._inputs is None:
            raise ValueError("this ModelState has no inputs; call set_data(inputs) first")
        if not 0 <= index < self.n_inputs:
            raise ValueError(f"input index must be in range 0..{self.n_inputs - 1}; got {index}")
        key = self.weights_key() if key is None else key
        masks = self._masks_at(key)
        if (key, index) in self.activations:
            return self.activations.get(self._inputs, index, key, masks)
        self.status = f"computing every layer's output for input {index}\u2026"
        try:
            return self.activations.get(self._inputs, index, key, masks)
        finally:
            self.status = ""


_NAMED_KINDS = ("classes", "multilabel", "segmentation")


def _check_class_names(names):
    if names is None:
        return None
    if isinstance(names, dict):
        return {str(k): tuple(str(n) for n in v) for k, v in names.items()}
    if isinstance(names, str) or not hasattr(names, "__len__"):
        raise TypeError(
            f"class_names must be a list of names (or a dict of lists keyed by output name); "
            f"got {type(names).__name__}"
        )
    return tuple(str(n) for n in names)


def _merge(given, inferred: tuple, names: tuple, what: str) -> tuple:
    allowed = _kinds.INPUT_KINDS if what == "input_kinds" else _kinds.OUTPUT_KINDS
    if given is None:
        return tuple(inferred)
    if not names:
        names = tuple(f"{what.split('_')[0]}_{i}" for i in range(len(inferred)))
    chosen = _kinds.check_kinds(given, names, allowed, what)
    return tuple(c or (inferred[i] if i < len(inferred) else "other") for i, c in enumerate(chosen))


def _feature_names(given, x) -> dict[int, tuple]:
    """Column names of a DataFrame given for a single input."""
    if hasattr(given, "columns") and not isinstance(x, list):
        return {0: tuple(str(c) for c in given.columns)}
    return {}
