"""Pure computation over Keras models: the layer table and activation extraction.

Keras is imported lazily so that ``import nnwidgets`` stays quick.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


def _keras():
    import keras

    return keras


@dataclass(frozen=True)
class LayerInfo:
    """One pickable layer: ``name`` is unique, nested layers read ``outer/inner``."""

    name: str
    layer: object
    depth: int

    @property
    def type_name(self) -> str:
        return type(self.layer).__name__

    @property
    def output_shape(self) -> str:
        try:
            out = self.layer.output
        except Exception:  # noqa: BLE001 - unbuilt or multiply-called layers
            return "?"
        shapes = [tuple(t.shape) for t in flatten(out)]
        text = ", ".join(str(s).replace("None", "N") for s in shapes)
        return text if len(shapes) == 1 else f"[{text}]"

    @property
    def param_count(self) -> int:
        return int(sum(int(np.prod(w.shape)) for w in self.layer.weights))

    def label(self) -> str:
        """Text for pickers: ``conv2d · Conv2D · (N, 6, 6, 16) · 160 params``."""
        indent = "\u2003" * self.depth
        return (
            f"{indent}{self.name} \u00b7 {self.type_name} \u00b7 {self.output_shape}"
            f" \u00b7 {self.param_count:,} params"
        )


def owner_of(layer, variable):
    """The innermost sublayer of ``layer`` that holds ``variable`` (``layer`` itself
    when it has no sublayers): the Conv2D inside a custom block or a nested stem.

    >>> import keras
    >>> stem = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3)])
    >>> type(owner_of(stem, stem.weights[0])).__name__
    'Conv2D'
    """
    best, best_count = layer, len(layer.weights)
    try:
        subs = list(layer._flatten_layers(include_self=False, recursive=True))
    except AttributeError:
        subs = []
    for sub in subs:
        weights = sub.weights
        if len(weights) <= best_count and any(w is variable for w in weights):
            best, best_count = sub, len(weights)
    return best


def flatten(x):
    if isinstance(x, dict):
        return [v for k in sorted(x) for v in flatten(x[k])]
    if isinstance(x, (list, tuple)):
        return [v for item in x for v in flatten(item)]
    return [x]


def is_model(obj) -> bool:
    """True for any Keras 3 model (Sequential, functional or subclassed)."""
    return isinstance(obj, _keras().Model)


def layer_table(model, prefix: str = "", depth: int = 0) -> list[LayerInfo]:
    """Every layer a user can pick, in graph order, nested models' layers included.

    Input layers are left out (the input picker shows the input).

    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, name="d")])
    >>> [info.name for info in layer_table(m)]
    ['d']
    """
    keras = _keras()
    layers = [la for la in model.layers if not isinstance(la, keras.layers.InputLayer)]
    return _rows(layers, prefix, depth)


def _rows(layers, prefix: str, depth: int) -> list[LayerInfo]:
    """Rows for ``layers`` and, below each, what it holds."""
    keras = _keras()
    rows: list[LayerInfo] = []
    for layer in layers:
        name = prefix + layer.name
        rows.append(LayerInfo(name, layer, depth))
        if isinstance(layer, keras.Model):
            rows.extend(layer_table(layer, prefix=name + "/", depth=depth + 1))
        else:
            rows.extend(_sublayers(layer, name + "/", depth + 1))
    return rows


def _sublayers(layer, prefix: str, depth: int) -> list[LayerInfo]:
    """The layers inside a composite layer: a user's own layer (a ``TransformerBlock``)
    or a wrapper (``Bidirectional``, ``TimeDistributed``); Keras' own layers are not
    opened (an ``LSTM``'s cell, a ``MultiHeadAttention``'s projections)."""
    if not (_is_users(layer) or type(layer).__name__ in ("Bidirectional", "TimeDistributed")):
        return []
    try:
        subs = list(layer._flatten_layers(include_self=False, recursive=False))
    except AttributeError:
        return []
    return _rows(subs, prefix, depth)


def _is_users(layer) -> bool:
    return not type(layer).__module__.startswith("keras.")  # (keras_hub blocks are opened)


def inside_call(model, name: str) -> str | None:
    """For a layer listed inside a composite layer, the composite layer that calls it
    (its output is not in the model's graph), else None."""
    keras = _keras()
    parts = name.split("/")
    node = model
    for i, part in enumerate(parts[:-1]):
        found = next((sub for sub in _children(node) if sub.name == part), None)
        if found is None:
            return None
        if not isinstance(found, keras.Model):
            return "/".join(parts[: i + 1])
        node = found
    return None


def _children(layer) -> list:
    if hasattr(layer, "layers"):
        return list(layer.layers)
    try:
        return list(layer._flatten_layers(include_self=False, recursive=False))
    except AttributeError:
        return []


def ensure_built(model, sample_shape: tuple) -> None:
    """Build a Sequential model given without ``keras.Input`` from one sample's shape.

    The shape is tried on a clone first: a wrong shape raises and leaves ``model``
    unbuilt, so that correct data can still be given later.
    """
    keras = _keras()
    if model.built or not isinstance(model, keras.Sequential):
        return
    probe = keras.models.clone_model(model)
    probe.build((None, *sample_shape))
    probe(np.zeros((1, *sample_shape), dtype=probe.inputs[0].dtype))
    model.build((None, *sample_shape))


def graph_of(model):
    """The functional graph behind a model, or ``None`` (subclassed, unbuilt)."""
    keras = _keras()
    if isinstance(model, keras.Sequential):
        return getattr(model, "_functional", None)
    if hasattr(model, "_run_through_graph") and hasattr(model, "_nodes_by_depth"):
        return model
    return None


def _call_layer(layer, args, kwargs):
    if "training" in getattr(layer, "_call_context_args", ()):
        kwargs = {**kwargs, "training": False}
    return layer(*args, **kwargs)


def run_recording(model, inputs, record: dict, prefix: str = "", cast: bool = True, edit=None):
    """Run ``model`` on ``inputs`` eagerly, storing every layer's output in ``record``.

    Keys are the names from :func:`layer_table`. Nested models are entered, so their
    inner layers are recorded too; the whole run costs one forward pass.

    ``edit(name, layer, run, args)``, when given, makes each layer's output: ``run()``
    calls the layer as the model would (``args`` are its positional inputs; ``run(other)``
    calls another layer, e.g. a twin without the activation, with the same arguments;
    ``run(**extra)`` adds keyword arguments to the layer's own, e.g.
    ``return_attention_scores=True``, and ``run.kwargs`` are the layer's own; a nested
    model's ``run`` has neither),
    and what ``edit`` returns is recorded and passed on. Units switched off, a final softmax
    left out or a substituted embedding are edits; the model itself is never changed.
    """
    keras = _keras()
    graph = graph_of(model)

    def op_fn(op):
        def call(*args, **kwargs):
            if isinstance(op, keras.Model) and graph_of(op) is not None:
                sub_in = args[0] if len(args) == 1 else list(args)

                def run(layer=None):
                    return run_recording(op, sub_in, record, prefix + op.name + "/", edit=edit)
            else:

                def run(layer=None, **extra):
                    return _call_layer(layer or op, args, {**kwargs, **extra})

                run.kwargs = kwargs

            if edit is not None and isinstance(op, keras.layers.Layer):
                out = edit(prefix + op.name, op, run, args)
            else:
                out = run()
            if isinstance(op, keras.layers.Layer):
                record.setdefault(prefix + op.name, out)
            return out

        return call

    if cast and not prefix:
        inputs = cast_inputs(model, inputs)
    if graph is None:
        out = _call_layer(model, (inputs,), {})
        return out
    if hasattr(graph, "_standardize_inputs"):  # rank and structure, as model(x) does
        inputs = graph._standardize_inputs(inputs)
    elif isinstance(model, keras.Sequential) and not isinstance(inputs, (list, tuple, dict)):
        inputs = [inputs]
    out = graph._run_through_graph(inputs, operation_fn=op_fn)
    return out[0] if isinstance(out, (list, tuple)) and len(out) == 1 else out


class Recorder:
    """Runs a model on one batch and returns ``(record, output)``: every layer's output
    by name, and the model's output.

    On the TensorFlow backend the recording pass is compiled once with ``tf.function``
    (a few seconds for MobileNetV2, then several times faster than an eager
    ``model(x)``); anything that cannot be compiled runs eagerly instead.

    ``masks`` (``{layer name: bool mask over its units}``, see
    :mod:`~nnwidgets.compute.ablation`) switch units off. Without them the pass is the
    plain one above; with them it runs in a second compiled function that takes the
    masks as tensor arguments: switching other units of the same layers off reuses
    its trace, a new set of layer names traces it again (about as long as the first
    trace).
    """

    def __init__(self, model, compile: bool = True):
        self.model = model
        self.compiled = None
        self.compiled_masked = None
        self._try_compile = compile

    def __call__(self, inputs, masks: dict | None = None) -> tuple[dict, object]:
        inputs = cast_inputs(self.model, inputs)
        if self._try_compile:
            self._try_compile = False
            self.compiled = self._compile()
            self.compiled_masked = self._compile(self._eager_masked)
        if masks:
            return self._masked(inputs, masks)
        if self.compiled is None:
            return self._eager(inputs)
        try:
            return self.compiled(inputs)
        except Exception:  # noqa: BLE001 - bad data fails eagerly too, and is raised there
            result = self._eager(inputs)
            self.compiled = None  # the model runs, but not compiled: stay eager
            return result

    def _eager(self, inputs):
        record: dict = {}
        out = run_recording(self.model, inputs, record, cast=False)
        return record, out

    def _masked(self, inputs, masks: dict) -> tuple[dict, object]:
        if self.compiled_masked is not None:
            import tensorflow as tf

            tensors = {name: tf.convert_to_tensor(keep) for name, keep in masks.items()}
            try:
                return self.compiled_masked(inputs, tensors)
            except Exception:  # noqa: BLE001 - as in __call__: stay eager
                self.compiled_masked = None
        return self._eager_masked(inputs, masks)

    def _eager_masked(self, inputs, masks: dict):
        from .ablation import masks_edit

        record: dict = {}
        out = run_recording(self.model, inputs, record, cast=False, edit=masks_edit(masks))
        return record, out

    def _compile(self, fn=None):
        import keras

        if keras.backend.backend() != "tensorflow" or graph_of(self.model) is None:
            # a subclassed model runs eagerly: a failed trace of its call() can leave
            # Keras' name scope pushed, prefixing every variable made afterwards
            return None
        import tensorflow as tf

        return tf.function(fn or self._eager, reduce_retracing=True)


def cast_inputs(model, inputs):
    """Cast numpy inputs to the dtypes the model's inputs declare (as ``model(x)`` does)."""
    try:
        dtypes = [str(t.dtype) for t in model.inputs]
    except (AttributeError, ValueError):
        return inputs
    if isinstance(inputs, list):
        cast = [np.asarray(a, dtype=d) for a, d in zip(inputs, dtypes, strict=False)]
        return pack_inputs(model, cast)
    return np.asarray(inputs, dtype=dtypes[0]) if dtypes else inputs


def pack_inputs(model, arrays: list):
    """Arrays in ``model.inputs`` order in the structure the model was built with (a
    dict for ``keras.Model({"a": ..., "b": ...}, ...)``)."""
    struct = getattr(model, "_inputs_struct", None)
    if isinstance(struct, dict):
        import keras

        return keras.tree.pack_sequence_as(struct, arrays)
    return arrays


def first_output(out) -> tuple[np.ndarray, int]:
    """The first tensor of a layer output as numpy, and how many tensors there were."""
    flat = flatten(out)
    return np.asarray(flat[0]), len(flat)
