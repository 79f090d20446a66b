"""Units switched off: an edit that sets chosen units of chosen layers to 0, and what
it changes in the model's predictions. The model's weights are never touched.

An *ablation* is a dict ``{layer name: tuple of units}``; a unit is an index on the
last axis of the layer's output (a Dense unit, a conv channel, a sequence feature).

>>> import keras, numpy as np
>>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(2, name="d")])
>>> x = np.ones((4, 3), "float32")
>>> predict_batches(model, x, {"d": (0, 1)}).tolist()
[[0.0, 0.0], [0.0, 0.0], [0.0, 0.0], [0.0, 0.0]]
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from . import graph as _graph
from . import outputs as _outputs
from .per_model import PerModel

#: Samples run through the model at once by :func:`predict_batches`.
BATCH_SIZE = 256


def layer_units(model, name: str, layer, recorded=None) -> int:
    """Units on the last axis of the output of ``layer`` (listed as ``name`` in
    ``model``): what can be switched off. Raises ``ValueError`` saying why there are
    none (a layer inside a composite layer's ``call()``, several output tensors, no
    last axis, a subclassed model). ``recorded()``, when given, returns the layer's
    recorded output (or None), for a layer whose symbolic output Keras does not keep
    (one called more than once).

    >>> import keras
    >>> model = keras.Sequential([keras.Input((3,)), keras.layers.Dense(5, name="d")])
    >>> layer_units(model, "d", model.layers[0])
    5
    """
    outer = _graph.inside_call(model, name)
    if outer is not None:
        raise ValueError(
            f"{name!r} runs inside the call() of {outer!r}: Keras does not give its output, "
            f"so it cannot be switched off (switch off units of {outer!r} instead)"
        )
    if _graph.graph_of(model) is None:
        raise ValueError(f"{type(model).__name__} is a subclassed model: its layers run unseen")
    try:
        out = layer.output
    except Exception as err:  # noqa: BLE001 - unbuilt or shared layers
        out = recorded() if recorded is not None else None
        if out is None:
            raise ValueError(f"the output of {name!r} is not known ({err})") from None
    return output_units(_graph.flatten(out), name)


def output_units(tensors: list, name: str) -> int:
    """Units on the last axis of a layer's single output tensor (batch axis first).

    >>> output_units([np.zeros((1, 4, 4, 8))], "conv")
    8
    """
    if len(tensors) != 1:
        raise ValueError(f"{name!r} returns {len(tensors)} tensors: it cannot be switched off")
    shape = tuple(tensors[0].shape)
    if len(shape) < 2 or shape[-1] is None:
        raise ValueError(f"the output of {name!r}, shape {shape}, has no axis of units")
    return int(shape[-1])


def normalise(ablation, units_of) -> dict[str, tuple[int, ...]]:
    """A checked ablation: each layer's units as a sorted tuple of distinct ints, layers
    without units left out. ``units_of(name)`` gives a layer's units (or raises
    ``ValueError`` saying why it has none). A lone int is read as one unit.

    >>> normalise({"d": [3, 1, 3], "e": ()}, lambda name: 4)
    {'d': (1, 3)}
    >>> normalise({"d": [4]}, lambda name: 4)
    Traceback (most recent call last):
    ...
    ValueError: units of 'd' must be in range 0..3 (4 units); got 4
    """
    if not isinstance(ablation, dict):
        raise TypeError(f"must be a dict {{layer name: tuple of units}}; got {type(ablation)}")
    checked = {}
    for name, units in ablation.items():
        if not isinstance(name, str):
            raise ValueError(f"layer names must be str; got {name!r}")
        off = _units(name, units, units_of(name))
        if off:
            checked[name] = off
    return checked


def _units(name: str, units, count: int) -> tuple[int, ...]:
    values = [units] if _is_int(units) else units
    if isinstance(values, (str, bytes, dict)) or not hasattr(values, "__iter__"):
        raise ValueError(f"units of {name!r} must be a tuple of ints; got {units!r}")
    values = list(values)
    for unit in values:
        if not _is_int(unit):
            raise ValueError(
                f"units of {name!r} must be ints in range 0..{count - 1}; got {unit!r} "
                f"({type(unit).__name__})"
            )
        if not 0 <= unit < count:
            raise ValueError(
                f"units of {name!r} must be in range 0..{count - 1} ({count} units); got {unit}"
            )
    return tuple(sorted({int(u) for u in values}))


def _is_int(value) -> bool:
    return isinstance(value, (int, np.integer)) and not isinstance(value, (bool, np.bool_))


def keep_masks(ablation: dict, units: dict[str, int]) -> dict[str, np.ndarray]:
    """``{name: bool mask}`` over each named layer's units: False where switched off.

    >>> keep_masks({"d": (1,)}, {"d": 3})["d"].tolist()
    [True, False, True]
    """
    masks = {}
    for name, off in ablation.items():
        keep = np.ones(units[name], dtype=bool)
        keep[list(off)] = False
        masks[name] = keep
    return masks


def switch_off(out, keep):
    """``out`` with the units where ``keep`` is False set to 0 (last axis), in
    ``keras.ops`` (inside ``tf.function`` too; gradients flow through the units kept).
    Exactly 0, even where ``out`` is Inf or NaN.

    >>> np.asarray(switch_off(np.array([[1.0, np.inf]]), np.array([True, False]))).tolist()
    [[1.0, 0.0]]
    """
    import keras

    return keras.ops.where(keep, out, keras.ops.zeros_like(out))


def masks_edit(masks):
    """An edit for :func:`~nnwidgets.compute.graph.run_recording` that switches off
    units by ``{layer name: bool mask}`` (masks may be tensors: arguments of a compiled
    function); None when there are no masks.

    >>> masks_edit({}) is None
    True
    """
    if not masks:
        return None
    return _edit_with(lambda name, out: masks.get(name))


def ablation_edit(ablation: dict):
    """An edit for :func:`~nnwidgets.compute.graph.run_recording` that sets the units
    in ``ablation`` (``{layer name: tuple of units}``) to 0; the masks are constants
    made from each output's last axis. None when nothing is switched off.

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="d")])
    >>> record = {}
    >>> out = _graph.run_recording(model, np.ones((1, 2)), record, edit=ablation_edit({"d": (0, 2)}))
    >>> np.asarray(out)[0, [0, 2]].tolist()
    [0.0, 0.0]
    >>> ablation_edit({}) is None
    True
    """
    if not ablation:
        return None

    def keep_of(name, out):
        off = ablation.get(name)
        return keep_masks({name: off}, {name: int(out.shape[-1])})[name] if off else None

    return _edit_with(keep_of)


def _edit_with(keep_of):
    """The edit that switches off, in each layer's output, the units where
    ``keep_of(name, output)`` is False (None: the layer is left as it is)."""

    def edit(name, layer, run, args):
        out = run()
        keep = keep_of(name, out)
        return out if keep is None else switch_off(out, keep)

    return edit


class _Predictor(PerModel):
    """The model's outputs through :func:`~nnwidgets.compute.graph.run_recording`,
    compiled once per model with ``tf.function`` (eager where that fails), masks as
    tensor arguments: toggling a unit does not retrace, a new set of layers does.
    Cached per model without keeping it alive."""

    def __init__(self, model):
        super().__init__(model)
        self._compiled = None
        self._tried = False

    def _eager(self, inputs, masks):
        return _graph.run_recording(self._model(), inputs, {}, cast=False, edit=masks_edit(masks))

    def __call__(self, inputs, masks: dict):
        if not self._tried:
            self._tried = True
            self._compiled = _compile(self._eager, self._model())
        if self._compiled is not None:
            try:
                return self._compiled(inputs, _tensors(masks))
            except Exception:  # noqa: BLE001 - bad data fails eagerly too, and is raised there
                self._compiled = None  # the model runs, but not compiled: stay eager
        return self._eager(inputs, masks)


def _compile(fn, model):
    """``tf.function(fn)`` on the TensorFlow backend for a functional model, else None."""
    import keras

    if keras.backend.backend() != "tensorflow" or _graph.graph_of(model) is None:
        return None
    import tensorflow as tf

    return tf.function(fn, reduce_retracing=True)


def _tensors(masks: dict) -> dict:
    import tensorflow as tf

    return {name: tf.convert_to_tensor(keep) for name, keep in masks.items()}


def predict_batches(model, x, ablation: dict | None = None, batch_size: int = BATCH_SIZE):
    """The model's outputs for every sample of ``x`` (an array, or a list of arrays in
    ``model.inputs`` order), with the units in ``ablation`` switched off, as numpy (a
    list for a model with several outputs, in ``model.outputs`` order).

    Without an ablation this is the model's own forward pass: the very same numbers
    whenever it is asked again, whatever was switched off in between.

    >>> import keras, numpy as np
    >>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2, name="d")])
    >>> x = np.ones((3, 2), "float32")
    >>> bool(np.array_equal(predict_batches(model, x), predict_batches(model, x, {})))
    True
    """
    masks = keep_masks(ablation or {}, _units_of(model, ablation or {}))
    run = _Predictor.of(model)
    n = _data_rows(x)
    parts = []
    for start in range(0, n, batch_size):
        batch = _graph.cast_inputs(model, _rows(x, start, start + batch_size))
        parts.append([np.asarray(t) for t in _graph.flatten(run(batch, masks))])
    outs = [np.concatenate(p, axis=0) for p in zip(*parts, strict=True)]
    return outs[0] if len(outs) == 1 else outs


def _units_of(model, ablation: dict) -> dict[str, int]:
    if not ablation:
        return {}
    table = {info.name: info.layer for info in _graph.layer_table(model)}
    unknown = [name for name in ablation if name not in table]
    if unknown:
        raise ValueError(f"no layer named {unknown[0]!r} in {model.name!r}")
    return {name: layer_units(model, name, table[name]) for name in ablation}


def _data_rows(x) -> int:
    return len(x[0]) if isinstance(x, list) else len(x)


def _rows(x, start: int, stop: int):
    return [a[start:stop] for a in x] if isinstance(x, list) else x[start:stop]


@dataclass(frozen=True)
class Effect:
    """What switching units off changed over a set of samples (first output).

    Attributes
    ----------
    n : int
        Samples compared.
    changed : int
        Predictions changed: the predicted class of a ``"classes"`` output, else
        samples whose output moved (beyond float32 rounding).
    mean_change : float
        Mean absolute change of the output's values.
    accuracy : tuple
        ``(before, after)`` share of samples predicted as labelled, for a
        ``"classes"`` output with labels; else ``()``.
    """

    n: int
    changed: int
    mean_change: float
    accuracy: tuple = ()


def compare(before, after, kind: str = "classes", labels=None, activation: str = "") -> Effect:
    """The :class:`Effect` of an ablation: ``before`` and ``after`` are one output for
    the same samples (batch axis first).

    >>> before, after = np.array([[0.9, 0.1], [0.2, 0.8]]), np.array([[0.4, 0.6], [0.2, 0.8]])
    >>> compare(before, after, "classes", labels=np.array([0, 1]))
    Effect(n=2, changed=1, mean_change=0.25, accuracy=(1.0, 0.5))
    """
    b, a = (np.asarray(v, dtype=np.float64) for v in (before, after))
    n = int(b.shape[0]) if b.ndim else 0
    with np.errstate(invalid="ignore"):
        mean_change = float(np.nanmean(np.abs(a - b))) if b.size else 0.0
    if kind != "classes":
        same = np.isclose(a, b, rtol=1e-5, atol=1e-6, equal_nan=True).reshape(n, -1).all(axis=1)
        return Effect(n, int(np.sum(~same)), mean_change)
    pb, pa = predicted_classes(b, activation), predicted_classes(a, activation)
    accuracy = ()
    truth = _label_classes(labels, n)
    if truth is not None:
        known = truth >= 0
        if known.any():
            accuracy = (_share(pb, truth, known), _share(pa, truth, known))
    return Effect(n, int(np.sum(pb != pa)), mean_change, accuracy)


def _share(predicted: np.ndarray, truth: np.ndarray, known: np.ndarray) -> float:
    return float(np.mean(predicted[known] == truth[known]))


def predicted_classes(out: np.ndarray, activation: str = "") -> np.ndarray:
    """The class each sample's ``"classes"`` output predicts (batch axis first), as
    :func:`~nnwidgets.compute.outputs.summary` says it: the top probability.

    >>> predicted_classes(np.array([[0.1, 0.7, 0.2], [0.5, 0.2, 0.3]])).tolist()
    [1, 0]
    """
    v = np.asarray(out, dtype=np.float64).reshape(len(out), -1)
    if v.shape[1] == 1:
        p = v[:, 0] if activation in ("sigmoid", "softmax") else 1 / (1 + np.exp(-v[:, 0]))
        return (p > 0.5).astype(np.int64)
    return np.argmax(np.where(np.isfinite(v), v, -np.inf), axis=1)


def _label_classes(labels, n: int) -> np.ndarray | None:
    """Each label's class (-1 where unknown), or None without labels."""
    if labels is None:
        return None
    classes = [_outputs.label_class(labels[i]) for i in range(n)]
    return np.array([-1 if c is None else c for c in classes], dtype=np.int64)
