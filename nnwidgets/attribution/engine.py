"""The one computation behind every attribution: a class score and its gradient.

:class:`Engine` runs a model on a batch with its final softmax or sigmoid left out, takes
each sample's score for a class (summed over the positions of a map output) and returns
the gradient of that score with respect to an input or to one layer's output. It is
compiled once per (model, target) on the TensorFlow backend, and only the watched
tensor is differentiated (no weight gradients are made). The model is never changed.
"""

from __future__ import annotations

import functools
import threading

import numpy as np

from ..compute import data as _data
from ..compute import graph as _graph
from ..compute import kinds as _kinds
from ..compute.per_model import PerModel

#: Activations left out of the score (tf-keras-vis' ``ReplaceToLinear``), unless the
#: output's layer is also called elsewhere in the model (then the score is after them).
SQUASHING = ("softmax", "sigmoid")

#: Input values per batch at most (a SmoothGrad or IG batch is cut into such pieces).
BATCH_VALUES = 2**22
#: Layer output values per batch at most (about 1 GB of float32 kept for the gradient).
ACTIVATION_VALUES = 2**28
MAX_BATCH = 128


def activation_values(model) -> int:
    """Values of every layer's output for one sample (0 when unknown)."""
    total = 0
    for info in _graph.layer_table(model):
        try:
            shape = tuple(_graph.flatten(info.layer.output)[0].shape[1:])
        except Exception:  # noqa: BLE001 - shared or unbuilt layers
            continue
        if all(d is not None for d in shape):
            total += int(np.prod(shape))
    return total


def _keras():
    import keras

    return keras


# -- the model's inputs and outputs --------------------------------------------
def prepare(model, x) -> list[np.ndarray]:
    """The samples as a list of arrays in ``model.inputs`` order, cast to the model's
    dtypes; a ``TypeError`` or ``ValueError`` names what does not fit."""
    arrays = _data.as_inputs(x, model)
    arrays = arrays if isinstance(arrays, list) else [arrays]
    cast = _graph.cast_inputs(model, list(arrays))
    cast = (
        cast
        if isinstance(cast, list)
        else list(cast.values())
        if isinstance(cast, dict)
        else [cast]
    )
    return [np.asarray(a) for a in cast]


def n_outputs(model) -> int:
    try:
        return len(model.outputs)
    except (AttributeError, ValueError):
        return 1


def output_shape(model, output: int) -> tuple:
    """One sample's shape of an output (None-free where known)."""
    try:
        return tuple(model.outputs[output].shape[1:])
    except (AttributeError, IndexError, ValueError):
        return ()


def final_layer(model, output: int = 0) -> str | None:
    """The recorded name (``outer/inner`` inside nested models) of the layer that makes
    an output, or None (subclassed models)."""
    try:
        tensor = model.outputs[output]
    except (AttributeError, IndexError, ValueError):
        return None
    prefix = ""
    while True:
        found = _kinds._producer(tensor)
        if found is None:
            return None
        layer, index = found
        inner = _kinds._safe_outputs(layer) if hasattr(layer, "layers") else None
        if not inner:
            return prefix + layer.name
        prefix += layer.name + "/"
        tensor = inner[min(index, len(inner) - 1)]


def squashing(layer) -> bool:
    """Whether ``layer`` ends in a softmax or sigmoid (left out of scores)."""
    if type(layer).__name__ == "Softmax":
        return True
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", "") or str(activation or "")
    return name.lower() in SQUASHING


# -- leaving the final activation out -----------------------------------------------
def linear_twin(layer):
    """A twin of ``layer`` (same variables, same settings) without its softmax or
    sigmoid; ``layer`` itself is never changed (a background ``fit`` or a save may use it
    meanwhile)."""
    import keras

    twin = object.__new__(type(layer))
    twin.__dict__.update(layer.__dict__)
    object.__setattr__(twin, "activation", keras.activations.linear)  # (not tracked)
    return twin


def linear_call(layer, run, args):
    """``layer``'s output without its softmax or sigmoid."""
    if type(layer).__name__ in ("Softmax", "Activation"):
        return args[0]
    return run(linear_twin(layer))


def _shared(layer) -> bool:
    return len(getattr(layer, "_inbound_nodes", ())) > 1


# -- classes ------------------------------------------------------------------------
def class_weights(class_index, n: int, units: int) -> np.ndarray:
    """``(n, units)`` one-hot rows for the classes asked for; a zero row means "the
    predicted class" (worked out inside the computation, from the same pass)."""
    weights = np.zeros((n, max(units, 1)), "float32")
    if class_index is None:
        return weights
    if isinstance(class_index, (list, tuple, np.ndarray)):
        classes = list(np.asarray(class_index).reshape(-1))
        if len(classes) != n:
            raise ValueError(f"class_index lists {len(classes)} classes for {n} inputs")
    else:
        classes = [class_index] * n
    for i, c in enumerate(classes):
        if c is None:
            continue
        if not isinstance(c, (int, np.integer)) or isinstance(c, bool):
            raise TypeError(f"class_index must be an int, a list of ints or None; got {c!r}")
        if not 0 <= int(c) < units:
            raise ValueError(
                f"class_index must be in range 0..{units - 1} ({units} units); got {c}"
            )
        weights[i, int(c)] = 1.0
    return weights


def batches(n: int, per_sample: int, activations: int = 0):
    """``(start, stop)`` pieces of ``n`` rows of ``per_sample`` input values and
    ``activations`` layer output values each (kept for the gradient)."""
    size = min(BATCH_VALUES // max(per_sample, 1), ACTIVATION_VALUES // max(activations, 1))
    size = int(max(1, min(MAX_BATCH, size)))
    for start in range(0, n, size):
        yield start, min(n, start + size)


# -- the computation --------------------------------------------------------------------
class Engine(PerModel):
    """Scores and gradients of one model, compiled once per target.

    ``target`` is ``None`` (scores only), ``("input", k)`` or ``("layer", name)``.
    ``masks`` (``{layer name: bool array over its units}``, optional) switch units off;
    they are arguments of the compiled computation, so other units of the same layers
    need no new trace.

    >>> engine = Engine.of(model)  # doctest: +SKIP
    >>> scores, classes, value, grad = engine.run(inputs, weights, ("input", 0))  # doctest: +SKIP
    """

    def __init__(self, model):
        super().__init__(model)
        self._fns: dict = {}
        self._ready: set = set()  # keys traced and run once
        self._tracing = threading.Lock()
        self._activations: int | None = None

    @property
    def activations(self) -> int:
        """Layer output values per sample (what a batch keeps for its gradient)."""
        if self._activations is None:
            self._activations = activation_values(self.model)
        return self._activations

    def run(self, inputs: list, weights, target=None, output=0, scale=None, masks=None):
        """``(scores, classes, value, gradient)`` as numpy: each sample's score and the
        class it is about, and the target's value and the gradient of the score."""
        n = len(inputs[0])
        scale = np.ones(n, "float32") if scale is None else np.asarray(scale, "float32")
        masks = {name: np.asarray(m, bool) for name, m in (masks or {}).items()}
        key = (target, output, tuple(sorted(masks)))
        args = ([np.asarray(a) for a in inputs], np.asarray(weights, "float32"), scale, masks)
        if key in self._ready:
            found = self._call(key, args)
        else:
            with self._tracing:  # one trace at a time: Keras layers are not thread-safe then
                found = self._call(key, args)
                self._ready.add(key)
        return tuple(None if t is None else np.asarray(t) for t in found)

    def _call(self, key, args):
        fn = self._fns.get(key)
        if fn is None:
            fn = self._fns[key] = self._compile(key, args)
        if not self._compiled(key):
            return fn(*args)
        try:
            fn.get_concrete_function(*fn.input_signature)
        except Exception:  # noqa: BLE001 - a model that cannot be traced runs eagerly
            fn = self._fns[key] = self._body(*key[:2])
        return fn(*args)

    def _compiled(self, key) -> bool:
        return hasattr(self._fns.get(key), "get_concrete_function")

    def _compile(self, key, args):
        """The computation, traced once for any batch size (and any length where the
        model's inputs leave it open); eager on other backends and subclassed models."""
        body = self._body(*key[:2])
        keras = _keras()
        model = self.model
        if keras.backend.backend() != "tensorflow" or _graph.graph_of(model) is None:
            return body
        import tensorflow as tf

        inputs, weights, scale, masks = args
        shapes = _input_shapes(model, inputs)
        signature = (
            [
                tf.TensorSpec(shape, tf.as_dtype(a.dtype))
                for shape, a in zip(shapes, inputs, strict=True)
            ],
            tf.TensorSpec((None, weights.shape[1]), tf.float32),
            tf.TensorSpec((None,), tf.float32),
            {name: tf.TensorSpec(m.shape, tf.bool) for name, m in masks.items()},
        )
        # (a partial: TensorFlow counts traces per code object, and every target's body
        # shares one; each is traced once, which is no retracing to warn about)
        return tf.function(functools.partial(body), input_signature=signature)

    def _body(self, target, output):
        import tensorflow as tf

        model_ref = self._model
        final = final_layer(model_ref(), output)

        def body(inputs, weights, scale, masks):
            model = model_ref()
            held = {}
            switch = _masks_edit(masks)

            def make(name, layer, run, args):
                if name == final and squashing(layer) and not _shared(layer):
                    inner = lambda other=None: linear_call(layer, run, args)  # noqa: E731
                else:
                    inner = run
                out = switch(name, layer, inner, args) if switch is not None else inner()
                if target is not None and target[0] == "layer" and name == target[1]:
                    if "value" in held:
                        raise ValueError(
                            f"layer {name!r} is called more than once in the model: an "
                            "attribution to its output is ambiguous"
                        )
                    out = _watched(out, scale, tape)
                    held["value"] = _graph.flatten(out)[0]
                return out

            with tf.GradientTape(watch_accessed_variables=False) as tape:
                if target is not None and target[0] == "input":
                    inputs = list(inputs)
                    inputs[target[1]] = tf.convert_to_tensor(inputs[target[1]])
                    tape.watch(inputs[target[1]])
                    held["value"] = inputs[target[1]]
                packed = _graph.pack_inputs(model, list(inputs))
                packed = packed[0] if isinstance(packed, list) and len(packed) == 1 else packed
                out = _graph.run_recording(model, packed, {}, cast=False, edit=make)
                logits = tf.cast(_graph.flatten(out)[output], tf.float32)
                scores, classes = _scores(logits, weights)
            if target is None:
                return scores, classes, None, None
            if "value" not in held:
                raise ValueError(f"{target[1]!r} is not run by this model (not in its graph)")
            grad = tape.gradient(scores, held["value"])
            if grad is None:
                grad = tf.zeros_like(held["value"])
            return scores, classes, held["value"], grad

        return body


def _masks_edit(masks):
    from ..compute.ablation import masks_edit

    return masks_edit(masks)


def _input_shapes(model, inputs) -> list[tuple]:
    """Each input's shape with the batch axis (and what the model leaves open) None."""
    try:
        declared = [tuple(t.shape) for t in model.inputs]
    except (AttributeError, ValueError):
        declared = []
    if len(declared) != len(inputs):
        return [(None, *a.shape[1:]) for a in inputs]
    return [(None, *d[1:]) for d in declared]


def _watched(out, scale, tape):
    """The layer's first output times ``scale`` (one factor per sample), watched; the
    Keras mask (padding) is kept."""
    import tensorflow as tf

    flat = _graph.flatten(out)
    first = flat[0]
    mask = _get_mask(first)
    shape = [-1] + [1] * (len(first.shape) - 1)
    scaled = first * tf.reshape(tf.cast(scale, first.dtype), shape)
    tape.watch(scaled)
    if mask is not None:
        _set_mask(scaled, mask)
    if len(flat) == 1:
        return scaled
    return [scaled, *flat[1:]] if isinstance(out, list) else (scaled, *flat[1:])


def _get_mask(t):
    try:
        from keras.src.backend import get_keras_mask

        return get_keras_mask(t)
    except (ImportError, AttributeError):
        return getattr(t, "_keras_mask", None)


def _set_mask(t, mask) -> None:
    try:
        from keras.src.backend import set_keras_mask

        set_keras_mask(t, mask)
    except (ImportError, AttributeError):
        t._keras_mask = mask


def _scores(logits, weights):
    """Each sample's score: its logits dotted with a one-hot class row (summed over the
    positions of a map), the predicted class where the row is zero; and the classes."""
    import tensorflow as tf

    if len(logits.shape) == 1:  # one value per sample
        logits = logits[:, None]
    units = tf.shape(logits)[-1]
    flat = tf.reshape(logits, [tf.shape(logits)[0], -1, units])
    votes = tf.reduce_sum(tf.one_hot(tf.argmax(flat, axis=-1), units), axis=1)
    predicted = tf.one_hot(tf.argmax(votes, axis=-1), units)
    given = tf.reduce_any(weights != 0, axis=-1, keepdims=True)
    chosen = tf.where(given, weights, predicted)
    scores = tf.reduce_sum(flat * chosen[:, None, :], axis=[1, 2])
    return scores, tf.argmax(chosen, axis=-1)
