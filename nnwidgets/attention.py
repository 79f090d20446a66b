"""Attention scores of a Keras model's attention layers, as numpy (no widgets).

A ``keras.layers.MultiHeadAttention`` (or a subclass, or a
``keras.layers.GroupQueryAttention``) returns its scores only when asked with
``return_attention_scores=True``. :func:`attention_scores` asks it, on the very tensors,
masks and keyword arguments it gets inside the model, without changing the model:

* a layer in the model's functional graph (nested functional models included) is reached
  by running the graph with :func:`~nnwidgets.compute.graph.run_recording`: that one call
  of the layer is made with ``return_attention_scores=True`` added to its own arguments,
  and its plain output is passed on. Keras' implicit masks (``Embedding(mask_zero=True)``)
  ride on the tensors, so the layer sees them as it does in ``model(x)``.
* a layer the graph does not reach (inside a user's composite layer such as a keras-io
  ``TransformerBlock``, or in a subclassed model) is reached by wrapping its ``call`` for
  the time of an eager ``model(x, training=False)``: the wrapper is an instance attribute,
  set under a module lock and deleted in ``finally``, so that ``type(layer).call`` is what
  is left (other threads calling that layer meanwhile would see the wrapper too; it
  returns what the layer would).

Keras is imported lazily so that ``import nnwidgets`` stays quick.
"""

from __future__ import annotations

import threading

import numpy as np

from .compute.graph import graph_of, is_model, layer_table, pack_inputs, run_recording

#: Inputs run through the model this many at a time (scores of 512 tokens take
#: heads x 1 MB per input).
BATCH = 32

_LOCK = threading.RLock()


def _attention_types() -> tuple:
    import keras

    kinds = [keras.layers.MultiHeadAttention]
    gqa = getattr(keras.layers, "GroupQueryAttention", None)  # Keras' exported name
    if gqa is not None:
        kinds.append(gqa)
    return tuple(kinds)


def attention_layers(model) -> list[str]:
    """Names of the model's attention layers, as :func:`~nnwidgets.compute.graph.layer_table`
    names them (``inner/mha`` in a nested model, ``block/att`` in a composite layer), in
    graph order.

    Attention layers are ``keras.layers.MultiHeadAttention`` (and subclasses) and
    ``keras.layers.GroupQueryAttention``: those that can return their scores.

    Parameters
    ----------
    model : keras.Model

    Returns
    -------
    list of str

    >>> import keras
    >>> x = keras.Input((5, 8))
    >>> y = keras.layers.MultiHeadAttention(2, 4, name="mha")(x, x)
    >>> attention_layers(keras.Model(x, y))
    ['mha']
    """
    _check_model(model)
    kinds = _attention_types()
    return [info.name for info in layer_table(model) if isinstance(info.layer, kinds)]


def attention_calls(model, x, layer: str) -> int:
    """How many times one pass of the model calls the attention layer ``layer`` (more
    than once for a shared layer); counted by running the model on the first input of
    ``x``.

    >>> import keras, numpy as np
    >>> x = keras.Input((5, 8))
    >>> mha = keras.layers.MultiHeadAttention(2, 4, name="mha")
    >>> model = keras.Model(x, mha(mha(x, x), x))
    >>> attention_calls(model, np.zeros((1, 5, 8)), "mha")
    2
    """
    target = _find(model, layer)
    capture = _Capture(target, wanted=-1)
    _run(model, _take(x, 0, 1), layer, capture)
    return capture.count


def attention_scores(model, x, layer: str, *, call: int = 0, masks=None) -> np.ndarray:
    """The attention scores of ``layer`` for inputs ``x``: what the layer returns with
    ``return_attention_scores=True`` on the tensors it gets inside the model.

    Parameters
    ----------
    model : keras.Model
        Functional, Sequential or subclassed; left unchanged (no new nodes, no weights
        touched, nothing patched left behind).
    x : array, list or dict of arrays
        Inputs in any structure the model accepts; run :data:`BATCH` at a time.
    layer : str
        A name from :func:`attention_layers`.
    call : int
        Which call of a layer that one pass calls several times (a shared layer), counted
        in the order the model runs them (:func:`attention_calls` says how many there
        are; a plain layer has one, ``call=0``).
    masks : dict, optional
        Units switched off, ``{layer name: bool mask over its units}`` (what
        ``ModelState.ablation`` makes, see :mod:`~nnwidgets.compute.ablation`): the
        scores are those of the model with those units off. Only for layers the
        functional graph reaches (a ``ValueError`` says so otherwise).

    Returns
    -------
    numpy.ndarray
        float32 ``(n, heads, T, S)``: for each input, each head's weights from the ``T``
        query positions over the ``S`` key positions. Rows of padded queries (Keras mask)
        are all 0; other rows sum to 1, with 0 at masked keys.

    Raises
    ------
    TypeError
        ``model`` is not a Keras model.
    ValueError
        ``layer`` is not one of its attention layers (the message lists them), or
        ``call`` is out of range (the message says how many calls there are). Data the
        model refuses raises Keras' own error, and the model is left unchanged; so does a
        layer using flash attention (which cannot return scores).

    >>> import keras, numpy as np
    >>> x = keras.Input((5, 8))
    >>> model = keras.Model(x, keras.layers.MultiHeadAttention(2, 4, name="mha")(x, x))
    >>> scores = attention_scores(model, np.ones((3, 5, 8)), "mha")
    >>> scores.shape, bool(np.allclose(scores.sum(-1), 1))
    ((3, 2, 5, 5), True)
    """
    target = _find(model, layer)
    call = int(call)
    if isinstance(x, list):  # a list in model.inputs order, for a model built on a dict
        x = pack_inputs(model, x)
    if masks and not _in_graph(model, layer):
        raise ValueError(
            f"units cannot be switched off for {layer!r}: it is called from a layer's "
            "own code (or a subclassed model), where Keras keeps no graph"
        )
    parts = []
    for start in range(0, _count(x), BATCH):
        capture = _Capture(target, wanted=call)
        _run(model, _take(x, start, start + BATCH), layer, capture, masks)
        if capture.scores is None:
            raise _call_error(layer, call, capture.count)
        parts.append(np.asarray(capture.scores, dtype="float32"))
    if not parts:
        raise ValueError("x holds no inputs")
    return np.concatenate(parts, axis=0)


class _Capture:
    """Counts the calls of ``layer`` and keeps the scores of call number ``wanted``."""

    def __init__(self, layer, wanted: int):
        self.layer, self.wanted = layer, wanted
        self.count = 0
        self.scores = None

    def __call__(self, fn, kwargs: dict):
        """Run ``fn(**extra)`` (the layer's call) for this call, keeping its scores."""
        index, self.count = self.count, self.count + 1
        if index != self.wanted:
            return fn()
        asked = bool(kwargs.get("return_attention_scores"))
        flag = vars(self.layer).get("_return_attention_scores")
        try:
            out, scores = fn(return_attention_scores=True)
        finally:
            if flag is not None:  # GroupQueryAttention keeps the last request on itself
                self.layer._return_attention_scores = flag
        self.scores = scores
        return (out, scores) if asked else out


def _check_model(model) -> None:
    if not is_model(model):
        raise TypeError(f"model must be a Keras model; got {type(model).__name__}")


def _find(model, name: str):
    """The attention layer called ``name`` (checked)."""
    _check_model(model)
    kinds = _attention_types()
    found = [info for info in layer_table(model) if isinstance(info.layer, kinds)]
    for info in found:
        if info.name == name:
            return info.layer
    have = ", ".join(repr(info.name) for info in found)
    listing = f"its attention layers are {have}" if found else "it has no attention layers"
    raise ValueError(
        f"{name!r} is not an attention layer of model {model.name!r}: {listing} "
        "(MultiHeadAttention or GroupQueryAttention)"
    )


def _call_error(name: str, call: int, count: int) -> ValueError:
    if count == 0:
        return ValueError(f"attention layer {name!r} was not called by the model's pass")
    return ValueError(
        f"call={call} is out of range: one pass of the model calls {name!r} "
        f"{count} time{'s' if count != 1 else ''} (call 0..{count - 1})"
    )


def _in_graph(model, name: str) -> bool:
    """True when every model on the way to ``name`` is functional (so that
    :func:`run_recording` reaches the layer's own node)."""
    import keras

    node = model
    for part in name.split("/")[:-1]:
        if graph_of(node) is None:
            return False
        node = next((la for la in node.layers if la.name == part), None)
        if not isinstance(node, keras.Model):
            return False
    return graph_of(node) is not None


def _run(model, x, name: str, capture: _Capture, masks=None) -> None:
    if _in_graph(model, name):
        _run_graph(model, x, capture, masks)
    else:
        _run_wrapped(model, x, capture)


class _Discard(dict):
    """A record that keeps nothing (only the scores are wanted)."""

    def setdefault(self, key, value=None):
        return value


def _run_graph(model, x, capture: _Capture, masks=None) -> None:
    from .compute.ablation import masks_edit

    ablate = masks_edit(masks)

    def edit(name, layer, run, args):
        if layer is capture.layer:
            scored = lambda other=None: capture(run, run.kwargs)  # noqa: E731
            return ablate(name, layer, scored, args) if ablate else scored()
        return ablate(name, layer, run, args) if ablate else run()

    run_recording(model, x, _Discard(), cast=False, edit=edit)


def _run_wrapped(model, x, capture: _Capture) -> None:
    layer = capture.layer
    with _LOCK:
        own = vars(layer)
        had, before = "call" in own, own.get("call")
        original = layer.call

        def call(*args, **kwargs):
            return capture(lambda **extra: original(*args, **kwargs, **extra), kwargs)

        layer.call = call
        try:
            model(x, training=False)
        finally:
            if had:
                layer.call = before
            else:
                del layer.call


def _count(x) -> int:
    if isinstance(x, dict):
        return _count(next(iter(x.values())))
    if isinstance(x, (list, tuple)):
        return _count(x[0])
    return len(x)


def _take(x, start: int, stop: int):
    if isinstance(x, dict):
        return {key: _take(value, start, stop) for key, value in x.items()}
    if isinstance(x, (list, tuple)):
        return type(x)(_take(value, start, stop) for value in x)
    return x[start:stop]
