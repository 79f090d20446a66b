"""Attribution methods: numpy in, numpy out, for any Keras model the engine can run."""

from __future__ import annotations

import math

import numpy as np

from ..compute import kinds as _kinds
from . import engine as E
from .layers import check_spatial, embedding_layer


# -- shared steps ------------------------------------------------------------------
def _masks(model, ablation) -> dict:
    """``{layer: bool mask of the units kept}`` for the units switched off."""
    if not ablation:
        return {}
    from ..compute import ablation as _ablation
    from ..compute import graph as _graph

    table = {info.name: info.layer for info in _graph.layer_table(model)}
    units = {}
    for name in ablation:
        if name not in table:
            raise ValueError(f"ablation names {name!r}, which is not a layer of {model.name}")
        units[name] = _ablation.layer_units(model, name, table[name])
    return _ablation.keep_masks(ablation, units)


def _units(model, output: int, inputs=None) -> int:
    """Units on the output's last axis (a subclassed model's, from one sample)."""
    count = E.n_outputs(model)
    if not 0 <= output < count:
        raise ValueError(f"output must be in range 0..{count - 1}; got {output}")
    shape = E.output_shape(model, output)
    if not shape and inputs is not None:  # no symbolic outputs: run one sample
        from ..compute import graph as _graph

        packed = _graph.pack_inputs(model, [a[:1] for a in inputs])
        single = isinstance(packed, list) and len(packed) == 1
        out = model(packed[0] if single else packed, training=False)
        flat = _graph.flatten(out)
        if not 0 <= output < len(flat):
            raise ValueError(f"output must be in range 0..{len(flat) - 1}; got {output}")
        shape = tuple(flat[output].shape[1:])
    return int(shape[-1]) if shape and shape[-1] is not None else 1


def _rows(model, inputs, class_index, target, output, ablation, make=None, count=None):
    """Run the engine over ``count`` rows made by ``make(start, stop) -> (inputs,
    weights, scale)`` (default: the inputs themselves), in batches; yields
    ``(start, stop, (scores, classes, value, gradient))``."""
    n = len(inputs[0])
    weights = E.class_weights(class_index, n, _units(model, output, inputs))
    masks = _masks(model, ablation)
    engine = E.Engine.of(model)
    per_sample = sum(int(np.prod(a.shape[1:])) for a in inputs)
    if make is None:

        def make(a, b):
            return [x[a:b] for x in inputs], weights[a:b], None

    for a, b in E.batches(count or n, per_sample, engine.activations):
        rows, w, scale = make(a, b)
        yield a, b, engine.run(rows, w, target, output, scale, masks)


def _all(model, inputs, class_index, target, output, ablation):
    """The engine's four results over all inputs (batched, concatenated)."""
    parts = [r for *_, r in _rows(model, inputs, class_index, target, output, ablation)]
    return tuple(
        None if parts[0][i] is None else np.concatenate([p[i] for p in parts]) for i in range(4)
    )


def _float_input(model, inputs, input: int, method: str) -> np.ndarray:
    if not 0 <= input < len(inputs):
        raise ValueError(f"input must be in range 0..{len(inputs) - 1}; got {input}")
    x = inputs[input]
    if x.dtype.kind not in "f":
        raise ValueError(
            f"{method} needs a float input; input {input} holds {x.dtype} values (token ids "
            "cannot be nudged): use token_attributions(), which works on the embedding"
        )
    return x


def _input_kind(model, inputs, input: int) -> str:
    kinds = _kinds.model_input_kinds(model, inputs)
    return kinds[input] if input < len(kinds) else "other"


def scores(model, x, class_index=None, *, output=0, ablation=None):
    """Each input's score for a class and the class it is for.

    The score is the output *before* a final softmax or sigmoid, summed over the
    positions of a map output (a segmentation's pixels); ``class_index=None`` takes each
    input's predicted class (the most predicted one of a map). Where the final
    activation cannot be left out, the score is taken after it: in a subclassed model
    (its layers run unseen) and when the output's layer is also called elsewhere.

    Returns
    -------
    scores : ndarray, shape (n,)
    classes : ndarray of int, shape (n,)

    >>> s, c = scores(model, x[:2])  # doctest: +SKIP
    """
    return _scores(model, E.prepare(model, x), class_index, output, ablation)


def _scores(model, inputs, class_index, output, ablation):
    found = _all(model, inputs, class_index, None, output, ablation)
    return found[0], found[1].astype(int)


def _resolved(model, inputs, class_index, output, ablation):
    """The classes to explain, fixed before the inputs are changed (noise, paths)."""
    if class_index is not None and not isinstance(class_index, (list, tuple, np.ndarray)):
        return class_index
    classes = _scores(model, inputs, class_index, output, ablation)[1]
    return [int(c) for c in classes]


# -- Grad-CAM -------------------------------------------------------------------------
def grad_cam(model, x, layer=None, class_index=None, *, plus_plus=False, output=0, ablation=None):
    """Grad-CAM: the ReLU of the layer's channels weighted by the mean gradient of the
    class score over each channel (Selvaraju et al. 2017).

    Parameters
    ----------
    model : keras.Model
    x : array-like, list or dict
        Inputs, batch axis first (as the model takes them).
    layer : str, optional
        A layer with spatial output (``(n, h, w, c)``, or ``(n, steps, c)`` for 1-D
        convolutions); default the last one. Nested layers read ``outer/inner``.
    class_index : int, list of int or None
        The class (or unit) explained: one for all inputs, one per input, or None for
        each input's predicted class.
    plus_plus : bool
        Grad-CAM++ (Chattopadhay et al. 2018) weights instead, as tf-keras-vis
        computes them.
    output : int
        Which model output to explain.
    ablation : dict, optional
        Units switched off, ``{layer: (unit, ...)}`` (see ``ModelState.ablation``).

    Returns
    -------
    ndarray, shape (n, h, w) (or (n, steps))
        At the layer's own resolution and not normalised.

    Examples
    --------
    >>> import keras, numpy as np
    >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(4, 3, name="c"),
    ...     keras.layers.GlobalAveragePooling2D(), keras.layers.Dense(3, activation="softmax")])
    >>> grad_cam(m, np.ones((2, 8, 8, 1), "float32")).shape
    (2, 6, 6)
    """
    inputs = E.prepare(model, x)
    name = check_spatial(model, layer)
    s, _, a, g = _all(model, inputs, class_index, ("layer", name), output, ablation)
    a, g = a.astype("float64"), g.astype("float64")
    if plus_plus:
        return _plus_plus(a, g, s.astype("float64")).astype("float32")
    axes = tuple(range(1, a.ndim - 1))
    weights = g.mean(axis=axes, keepdims=True)
    return np.maximum((a * weights).sum(axis=-1), 0).astype("float32")


def _plus_plus(a, g, s):
    """Grad-CAM++'s closed form with an exponential score (tf-keras-vis' arithmetic)."""
    axes = tuple(range(1, a.ndim - 1))
    e = np.exp(s).reshape((-1,) + (1,) * (a.ndim - 1))
    first, second = e * g, e * g**2
    third = second * g
    total = a.sum(axis=axes, keepdims=True)
    denom = 2.0 * second + third * total
    alphas = second / (denom + (second == 0))
    norm = alphas.sum(axis=axes, keepdims=True)
    alphas = alphas / (norm + (norm == 0))
    weights = (np.maximum(first, 0) * alphas).sum(axis=axes, keepdims=True)
    return np.maximum((weights * a).sum(axis=-1), 0)


# -- gradients of the input ---------------------------------------------------------------
def saliency(
    model,
    x,
    class_index=None,
    smooth_samples=0,
    noise=0.2,
    seed=None,
    *,
    input=0,
    output=0,
    ablation=None,
):
    """Vanilla saliency |∂score/∂x| (Simonyan et al. 2013), or SmoothGrad (Smilkov et
    al. 2017) when ``smooth_samples > 0``: the mean of |∂score/∂x| over that many copies
    of each input with Gaussian noise of standard deviation ``noise × (max − min)`` of
    the input, all copies run in batches.

    Returns
    -------
    ndarray
        ``(n, H, W)`` for image inputs (the maximum over channels); the input's own
        shape otherwise (per step and feature for sequences).

    >>> saliency(model, images, smooth_samples=20, seed=0).shape  # doctest: +SKIP
    (1, 96, 96)
    """
    inputs = E.prepare(model, x)
    xi = _float_input(model, inputs, input, "saliency")
    if smooth_samples and int(smooth_samples) > 0:
        grads = _smooth(
            model, inputs, input, class_index, int(smooth_samples), noise, seed, output, ablation
        )
    else:
        grads = np.abs(_all(model, inputs, class_index, ("input", input), output, ablation)[3])
    grads = _undefined_where_not_finite(grads, xi)
    if _input_kind(model, inputs, input) == "image" and xi.ndim == 4:
        return grads.max(axis=-1)
    return grads


def _undefined_where_not_finite(values: np.ndarray, x: np.ndarray) -> np.ndarray:
    """NaN where the input is NaN or infinite: no attribution is defined there (the
    model may have hidden it, e.g. a ReLU turns NaN into 0)."""
    bad = ~np.isfinite(x)
    if bad.any():
        values = np.where(bad, np.nan, values).astype(values.dtype)
    return values


def _smooth(model, inputs, input, class_index, samples, noise, seed, output, ablation):
    classes = _resolved(model, inputs, class_index, output, ablation)
    xi, n = inputs[input].astype("float32"), len(inputs[input])
    axes = tuple(range(1, xi.ndim))
    finite = np.where(np.isfinite(xi), xi, np.nan)
    with np.errstate(all="ignore"):  # (an input with no finite value: no noise)
        spread = np.nanmax(finite, axis=axes, keepdims=True) - np.nanmin(
            finite, axis=axes, keepdims=True
        )
    sigma = float(noise) * np.nan_to_num(spread)
    rng = np.random.default_rng(seed)
    weights = E.class_weights(classes, n, _units(model, output, inputs))
    total = np.zeros_like(xi)

    def make(a, b):
        rows = np.arange(a, b) % n
        batch = [np.asarray(v)[rows] for v in inputs]
        batch[input] = (
            xi[rows] + rng.normal(size=batch[input].shape).astype("float32") * sigma[rows]
        )
        return batch, weights[rows], None

    for a, b, found in _rows(
        model, inputs, classes, ("input", input), output, ablation, make, n * samples
    ):
        np.add.at(total, np.arange(a, b) % n, np.abs(found[3]))
    return total / samples


def integrated_gradients(
    model, x, class_index=None, baseline=None, steps=50, *, input=0, output=0, ablation=None
):
    """Integrated gradients (Sundararajan et al. 2017): ``(x − baseline)`` times the mean
    gradient of the class score along the straight path from the baseline to ``x``
    (midpoint rule, ``steps`` points, all run in batches). Complete: the sum over the
    input equals ``score(x) − score(baseline)`` up to the Riemann error.

    ``baseline`` defaults to zeros; one sample's shape or the inputs' shape.

    >>> ig = integrated_gradients(model, x[:1], steps=64)  # doctest: +SKIP
    >>> ig.sum() - (scores(model, x[:1])[0] - scores(model, 0 * x[:1])[0])  # doctest: +SKIP
    """
    inputs = E.prepare(model, x)
    xi = _float_input(model, inputs, input, "integrated gradients").astype("float32")
    base = (
        np.zeros_like(xi)
        if baseline is None
        else np.broadcast_to(np.asarray(baseline, "float32"), xi.shape)
    )
    steps = _check_steps(steps)
    classes = _resolved(model, inputs, class_index, output, ablation)
    n = len(xi)
    alphas = ((np.arange(steps) + 0.5) / steps).astype("float32")
    weights = E.class_weights(classes, n, _units(model, output, inputs))
    total = np.zeros_like(xi)

    def make(a, b):
        rows, k = np.arange(a, b) % n, np.arange(a, b) // n
        batch = [np.asarray(v)[rows] for v in inputs]
        shape = (-1,) + (1,) * (xi.ndim - 1)
        batch[input] = base[rows] + alphas[k].reshape(shape) * (xi[rows] - base[rows])
        return batch, weights[rows], None

    for a, b, found in _rows(
        model, inputs, classes, ("input", input), output, ablation, make, n * steps
    ):
        np.add.at(total, np.arange(a, b) % n, found[3])
    return _undefined_where_not_finite((xi - base) * total / steps, xi)


def _check_steps(steps) -> int:
    if not isinstance(steps, (int, np.integer)) or steps < 1:
        raise ValueError(f"steps must be a positive int; got {steps!r}")
    return int(steps)


# -- tokens -----------------------------------------------------------------------------------
def token_attributions(
    model, x, class_index=None, method="gradient", steps=50, *, input=0, output=0, ablation=None
):
    """Per token: ``"gradient"`` × embedding (summed over the embedding's features), or
    ``"integrated"`` gradients over the embedding output (from an all-zero embedding;
    complete over the tokens).

    Returns
    -------
    ndarray, shape (n, T)

    >>> token_attributions(text_model, ids[:1], method="integrated").shape  # doctest: +SKIP
    (1, 40)
    """
    if method not in ("gradient", "integrated"):
        raise ValueError(f"method must be 'gradient' or 'integrated'; got {method!r}")
    inputs = E.prepare(model, x)
    name = embedding_layer(model, input)
    target = ("layer", name)
    _, classes, emb, grad = _all(model, inputs, class_index, target, output, ablation)
    if method == "gradient":
        return _per_token(emb * grad)
    steps, n = _check_steps(steps), len(inputs[0])
    classes = [int(c) for c in classes]
    alphas = ((np.arange(steps) + 0.5) / steps).astype("float32")
    weights = E.class_weights(classes, n, _units(model, output, inputs))
    total = np.zeros_like(emb)

    def make(a, b):
        rows = np.arange(a, b) % n
        return [np.asarray(v)[rows] for v in inputs], weights[rows], alphas[np.arange(a, b) // n]

    for a, b, found in _rows(model, inputs, classes, target, output, ablation, make, n * steps):
        np.add.at(total, np.arange(a, b) % n, found[3])
    return _per_token(emb * total / steps)


def _per_token(values: np.ndarray) -> np.ndarray:
    return values.reshape(values.shape[0], values.shape[1], -1).sum(axis=-1)


# -- occlusion ---------------------------------------------------------------------------------
def occlusion(
    model,
    x,
    class_index=None,
    patch=None,
    stride=None,
    value=0.0,
    *,
    input=0,
    output=0,
    ablation=None,
):
    """The drop of the class score when a patch of the input is set to ``value``
    (Zeiler & Fergus 2014), for every patch position, all run in batches.

    Images are covered by ``patch × patch`` squares moved by ``stride`` pixels;
    sequences, token ids (set to ``value``, i.e. padding) and tabular features by
    windows of ``patch`` steps. Defaults: ``patch`` an eighth of the side (at least 1),
    ``stride = patch``.

    Returns
    -------
    ndarray
        ``(n, H', W')`` for images, ``(n, T')`` otherwise: positive where hiding the
        patch lowers the score.

    >>> occlusion(model, images, patch=4, stride=4).shape  # doctest: +SKIP
    (1, 2, 2)
    """
    inputs = E.prepare(model, x)
    if not 0 <= input < len(inputs):
        raise ValueError(f"input must be in range 0..{len(inputs) - 1}; got {input}")
    xi = inputs[input]
    image = _input_kind(model, inputs, input) == "image" and xi.ndim >= 3
    sides = xi.shape[1:3] if image else xi.shape[1:2]
    patch, stride = _patching(sides, patch, stride)
    grid = [(s - patch) // stride + 1 for s in sides]
    starts = [tuple(i * stride for i in idx) for idx in np.ndindex(*grid)]
    classes = _resolved(model, inputs, class_index, output, ablation)
    base = _scores(model, inputs, classes, output, ablation)[0]
    n, m = len(xi), len(starts)
    weights = E.class_weights(classes, n, _units(model, output, inputs))
    drops = np.zeros((n, m), "float64")

    def make(a, b):
        rows, pos = np.arange(a, b) % n, np.arange(a, b) // n
        batch = [np.asarray(v)[rows] for v in inputs]
        hidden = batch[input].copy()
        for r, p in enumerate(pos):
            cut = tuple(slice(s, s + patch) for s in starts[p])
            hidden[(r, *cut)] = value
        batch[input] = hidden
        return batch, weights[rows], None

    for a, b, found in _rows(model, inputs, classes, None, output, ablation, make, n * m):
        rows, pos = np.arange(a, b) % n, np.arange(a, b) // n
        drops[rows, pos] = base[rows] - found[0]
    return drops.reshape(n, *grid).astype("float32")


def _patching(sides, patch, stride) -> tuple[int, int]:
    patch = int(patch) if patch is not None else max(1, math.ceil(min(sides) / 8))
    stride = int(stride) if stride is not None else patch
    if patch < 1 or stride < 1:
        raise ValueError(f"patch and stride must be positive; got patch={patch}, stride={stride}")
    if patch > min(sides):
        raise ValueError(f"patch {patch} is larger than the input ({' × '.join(map(str, sides))})")
    return patch, stride
