"""Training dynamics as pure functions: gradient norms, weight histograms, dead units.

Usable without any widget; :class:`~nnwidgets.TrainingDynamics` records them while a
model trains. Layers are named as in ``ModelState.layer_names`` (nested layers read
``outer/inner``); a container layer covers its sublayers' weights.

>>> import keras, numpy as np
>>> model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(3, activation="relu",
...     name="d"), keras.layers.Dense(2, name="out")])
>>> model.compile("sgd", "mse")
>>> x, y = np.ones((8, 4), "float32"), np.zeros((8, 2), "float32")
>>> sorted(gradient_norms(model, x, y))
['d', 'out']
>>> edges, counts = histogram(np.arange(10.0), bins=5)
>>> counts.tolist()
[2, 2, 2, 2, 2]
"""

from __future__ import annotations

import math

import numpy as np

from .compute import graph as _graph
from .compute.per_model import PerModel

#: TensorBoard's bucket count for histograms.
BINS = 30
#: TensorBoard's distribution bands, in basis points: min, -1.5σ, -σ, -σ/2, median,
#: σ/2, σ, 1.5σ, max of a normal distribution.
BAND_BPS = (0, 668, 1587, 3085, 5000, 6915, 8413, 9332, 10000)
#: Values histogrammed at once (bounds the temporary memory of :func:`histogram`).
CHUNK = 1 << 20


# -- histograms ---------------------------------------------------------------
def histogram(values, bins: int = BINS) -> tuple[np.ndarray, np.ndarray]:
    """TensorBoard's histogram of ``values``: ``bins`` equal-width buckets over
    [min, max], the last one closed; all values equal put every count in the last
    bucket. Returns ``(edges, counts)``: ``bins + 1`` edges, ``bins`` integer counts.

    Same buckets and counts as ``tensorboard.plugins.histogram.summary_v2.histogram_pb``
    (whose one-hot matrix needs ``n × bins`` bytes: gigabytes for a 100M-value kernel),
    in chunks of :data:`CHUNK` values, so the memory beyond ``values`` stays bounded.
    Only finite values are counted (TensorBoard's edges become NaN with a NaN); no
    finite value gives all-zero edges and counts.

    >>> histogram([1.0, 1.0, 1.0], bins=3)[1].tolist()
    [0, 0, 3]
    """
    if int(bins) < 1:
        raise ValueError(f"histogram needs bins >= 1, got {bins}")
    bins = int(bins)
    flat = np.asarray(values).reshape(-1)
    lo, hi, n = _finite_range(flat)
    if n == 0:
        return np.zeros(bins + 1), np.zeros(bins, dtype=np.int64)
    if hi == lo:
        counts = np.zeros(bins, dtype=np.int64)
        counts[-1] = n
        return np.full(bins + 1, lo), counts
    width = (hi - lo) / bins
    counts = np.zeros(bins, dtype=np.int64)
    for start in range(0, flat.size, CHUNK):
        chunk = flat[start : start + CHUNK].astype(np.float64)
        chunk = chunk[np.isfinite(chunk)]
        index = np.minimum(np.floor((chunk - lo) / width).astype(np.int64), bins - 1)
        counts += np.bincount(index, minlength=bins)
    return np.linspace(lo, hi, bins + 1), counts


def _finite_range(flat: np.ndarray) -> tuple[float, float, int]:
    """Min, max and count of the finite values (chunked)."""
    lo, hi, n = math.inf, -math.inf, 0
    for start in range(0, flat.size, CHUNK):
        chunk = flat[start : start + CHUNK].astype(np.float64)
        chunk = chunk[np.isfinite(chunk)]
        if chunk.size:
            lo, hi, n = min(lo, chunk.min()), max(hi, chunk.max()), n + chunk.size
    return float(lo), float(hi), n


def percentiles(edges, counts, bps=BAND_BPS) -> np.ndarray:
    """The values at basis points ``bps`` of a histogram, interpolated linearly within
    buckets as TensorBoard's distribution dashboard does
    (``tensorboard.plugins.distribution.compressor.compress_histogram``).

    >>> percentiles([0.0, 1.0, 2.0], [1, 1], bps=(0, 5000, 10000)).tolist()
    [0.0, 1.0, 2.0]
    """
    edges, counts = np.asarray(edges, float), np.asarray(counts, float)
    if counts.size == 0 or counts.sum() == 0:
        return np.zeros(len(bps))
    lo, hi = edges[0], edges[-1]
    right = edges[1:]
    weights = (counts * bps[-1] / counts.sum()).cumsum()
    out = np.full(len(bps), hi)
    for k, bp in enumerate(bps):
        i = int(np.searchsorted(weights, bp, side="right"))
        while i < len(weights):
            now, before = weights[i], weights[i - 1] if i > 0 else 0.0
            if now == before:
                i += 1
                continue
            left = lo if not i or not before else max(right[i - 1], lo)
            out[k] = _lerp(bp, before, now, left, min(right[i], hi))
            break
    return out


def _lerp(x, x0, x1, y0, y1):
    """Affine mapping of ``x`` from [x0, x1] to [y0, y1] (TensorBoard's ``_lerp``)."""
    return y0 + (x - x0) * float(y1 - y0) / (x1 - x0)


# -- which weights belong to which layer -------------------------------------------
def layer_parameters(model) -> dict[str, list]:
    """Per layer (names as in ``ModelState.layer_names``), the variables whose change
    says whether it learns: its trainable weights, or every weight of a frozen layer
    (which then never moves). Batch-norm statistics of a trainable layer are left out:
    they move without gradients. Layers without such weights are left out.
    """
    params = {}
    for info in _graph.layer_table(model):
        unique = layer_parameters_of(info.layer)
        if unique:
            params[info.name] = unique
    return params


def layer_parameters_of(layer) -> list:
    """One layer's parameters (see :func:`layer_parameters`)."""
    chosen = layer.weights if not layer.trainable else layer.trainable_weights
    return list({id(v): v for v in chosen}.values())


def trainable_layers(model) -> dict[str, list]:
    """Per layer, its trainable weights (a container's include its sublayers'); only
    layers that have some."""
    out = {}
    for info in _graph.layer_table(model):
        unique = list({id(v): v for v in info.layer.trainable_weights}.values())
        if unique:
            out[info.name] = unique
    return out


def by_layer(per_variable: dict, layers: dict[str, list]) -> dict[str, float]:
    """Per layer, the L2 norm over its variables from per-variable sums of squares
    (keyed by ``id(variable)``; a missing variable counts 0)."""
    return {
        name: math.sqrt(sum(float(per_variable.get(id(v), 0.0)) for v in variables))
        for name, variables in layers.items()
    }


# -- gradients ------------------------------------------------------------------
def gradient_norms(model, x, y, sample_weight=None) -> dict[str, float]:
    """Per layer, the L2 norm of the gradient of the model's loss (as
    ``model.compute_loss`` computes it, with ``model.losses``) on ``(x, y)`` in inference
    mode, over the layer's trainable weights. Only layers with trainable weights appear;
    a NaN or Inf gradient gives a NaN or Inf norm.

    Raises ``ValueError`` when the model has no loss (compile it with a ``loss``) or
    ``y`` is missing.

    >>> gradient_norms(model, x, y)["out"] > 0  # doctest: +SKIP
    True
    """
    squares = Gradients.of(model)(x, y, sample_weight)
    return by_layer(squares, trainable_layers(model))


class Gradients(PerModel):
    """The per-variable sums of squares of the loss gradient, compiled once per model
    (``tf.function``; eager where tracing fails). Calling it changes nothing in the
    model: not the weights, not the optimizer, not the loss trackers behind
    ``fit``'s logs.

    >>> squares = Gradients.of(model)(x, y)  # doctest: +SKIP
    """

    def __init__(self, model):
        super().__init__(model)
        self._compiled = None
        self._variables: list = []

    def __call__(self, x, y, sample_weight=None) -> dict[int, float]:
        x, y, variables = self._prepare(x, y)
        if not variables:
            return {}
        kept = _tracker_values(self.model)
        try:
            squares = self._run(x, y, sample_weight)
        finally:
            _restore(kept)
        return {id(v): float(s) for v, s in zip(variables, np.asarray(squares), strict=True)}

    def warm_up(self, x, y, sample_weight=None):
        """Make the compiled computation ready for ``(x, y)`` in two parts: build the
        compiled loss now, in this thread (an eager pass on one sample), and return a
        function that traces the computation and runs it once (its first run
        optimises the graph), to call in another thread while nothing else traces
        the model (Keras layers share Python lists while traced). No weight changes;
        the loss trackers of a model with several outputs would, so it is then only
        traced. Returns None when there is nothing to compile (no loss, no labels)."""
        try:
            x, y, variables = self._prepare(x, y)
        except (ValueError, RuntimeError):
            return None
        if not variables or self._compiled is None:
            return None
        self._build(x, y)
        run = not _trackers(self.model)
        return _tracer(self._compiled, x, y, sample_weight, run=run)

    def _build(self, x, y) -> None:
        """Build the compiled loss (its trackers are variables) on one sample, eagerly
        and in this thread, rather than inside a trace in another."""
        model = self.model
        one_x, one_y = _slice(x, 0, 1), _slice(y, 0, 1) if y is not None else None
        kept = _tracker_values(model)
        try:
            _loss(model, one_x, one_y, model(one_x, training=False), None)
        except Exception:  # noqa: BLE001 - the first real call says what is wrong
            pass
        finally:
            _restore(kept)

    def _prepare(self, x, y):
        model = self.model
        check_loss(model)
        if y is None:
            raise ValueError("gradients need labels: give y (or labels to the ModelState)")
        variables = list({id(v): v for v in model.trainable_weights}.values())
        if variables and [id(v) for v in variables] != [id(v) for v in self._variables]:
            self._variables = variables  # new or newly frozen layers: trace again
            self._compiled = _compile(self._squares)
        return _graph.cast_inputs(model, x), _labels_for(model, y), variables

    def _run(self, x, y, sample_weight):
        if self._compiled is not None:
            try:
                return self._compiled(x, y, sample_weight)
            except Exception:  # noqa: BLE001 - anything that fails compiled runs eagerly
                self._compiled = None
        return self._squares(x, y, sample_weight)

    def _squares(self, x, y, sample_weight):
        import tensorflow as tf

        model, variables = self.model, self._variables
        with tf.GradientTape() as tape:
            y_pred = model(x, training=False)
            loss = _loss(model, x, y, y_pred, sample_weight)
        grads = tape.gradient(loss, variables)
        zero = tf.zeros((), dtype="float32")
        return tf.stack(
            [
                zero if g is None else tf.reduce_sum(tf.square(tf.cast(_dense(g), "float32")))
                for g in grads
            ]
        )


def _tracer(compiled, *args, run: bool = True):
    """A function that traces ``compiled`` for ``args`` and, with ``run``, runs it."""

    def trace():
        try:
            compiled.get_concrete_function(*args)
            if run:
                compiled(*args)
        except Exception:  # noqa: BLE001 - the first real call compiles, or runs eagerly
            pass

    return trace


def check_loss(model) -> None:
    """``ValueError`` naming the fix when ``model`` has no loss to take gradients of."""
    if getattr(model, "_compile_loss", None) is None and not getattr(model, "losses", None):
        if type(model).compute_loss is _keras_compute_loss():
            raise ValueError(
                f"model {model.name!r} has no loss to take gradients of: compile it with "
                "model.compile(optimizer, loss=...) (a loss computed in a custom train_step "
                "is not seen)"
            )


def _keras_compute_loss():
    import keras

    return keras.Model.compute_loss


def _loss(model, x, y, y_pred, sample_weight):
    compute = getattr(model, "_compute_loss", None) or model.compute_loss
    try:
        return compute(x, y, y_pred, sample_weight, training=False)
    except TypeError:  # a user's compute_loss without ``training``
        return model.compute_loss(x, y, y_pred, sample_weight)


def _dense(g):
    import tensorflow as tf

    return tf.convert_to_tensor(g) if isinstance(g, tf.IndexedSlices) else g


def _labels_for(model, y):
    """Labels in the structure of the model's outputs (a list per output)."""
    if isinstance(y, list) and len(y) == 1:
        y = y[0]
    if isinstance(y, list) and all(item is None for item in y):
        raise ValueError("gradients need labels: every output's are missing")
    return y  # (an output without labels is fine where its loss is None)


def _trackers(model) -> list:
    compile_loss = getattr(model, "_compile_loss", None)
    metrics = getattr(compile_loss, "metrics", None) or []
    return [v for m in metrics for v in getattr(m, "variables", [])]


def _tracker_values(model) -> tuple:
    """The loss trackers' values: a multi-output ``compute_loss`` updates one per
    output, which ``fit`` logs; :func:`_restore` puts them back."""
    kept = {}
    for v in _trackers(model):
        value = np.array(v)
        if value.shape == tuple(v.shape):  # (not yet initialised: it starts at 0)
            kept[id(v)] = value
    return model, kept


def _restore(kept: tuple) -> None:
    """Put the trackers back; one made meanwhile (the loss built by this call) goes
    back to the zero it starts from."""
    model, values = kept
    for v in _trackers(model):
        value = values.get(id(v))
        v.assign(value if value is not None else np.zeros(v.shape, v.dtype))


def _compile(fn):
    import keras

    if keras.backend.backend() != "tensorflow":
        raise RuntimeError("training dynamics need Keras' TensorFlow backend")
    import tensorflow as tf

    return tf.function(fn, reduce_retracing=True)


# -- weights --------------------------------------------------------------------
def weight_norms(model) -> dict[str, float]:
    """Per layer, the L2 norm of its parameters (see :func:`layer_parameters`)."""
    values = {id(v): float(np.sum(np.square(np.asarray(v, np.float64)))) for v in _all(model)}
    return by_layer(values, layer_parameters(model))


def snapshot(model) -> dict[int, np.ndarray]:
    """A copy of every parameter, keyed by ``id(variable)``, for :func:`update_ratios`."""
    return {id(v): np.array(v, dtype=np.float32) for v in _all(model)}


def update_ratios(before: dict[int, np.ndarray], model) -> dict[str, float]:
    """Per layer, ‖W − W_before‖ / ‖W_before‖ over its parameters: how far one update
    moved them (about 1e-3 is the usual rule of thumb; 0 for a frozen layer)."""
    moved, size = {}, {}
    for v in _all(model):
        old = before.get(id(v))
        if old is None:
            continue
        now = np.asarray(v, dtype=np.float32)
        moved[id(v)] = float(np.sum(np.square(now.astype(np.float64) - old)))
        size[id(v)] = float(np.sum(np.square(old.astype(np.float64))))
    layers = layer_parameters(model)
    top, bottom = by_layer(moved, layers), by_layer(size, layers)
    return {name: _ratio(top[name], bottom[name]) for name in layers}


def _ratio(moved: float, size: float) -> float:
    if size == 0:
        return 0.0 if moved == 0 else math.inf
    return moved / size


def _all(model) -> list:
    seen = {}
    for variables in layer_parameters(model).values():
        for v in variables:
            seen[id(v)] = v
    return list(seen.values())


# -- dead units -------------------------------------------------------------------
def dead_units(model, x, batch_size: int = 64) -> dict[str, float]:
    """Per layer, the share of units (the output's last axis) whose output is exactly 0
    for every sample of ``x`` and every position, in inference mode. Layers whose
    output cannot be recorded (inside a subclassed model's ``call``), is not a float
    tensor, or has no axis beyond the batch are left out. Compiled once per model;
    each unit's "ever non-zero" is reduced in the graph, so no layer output is copied.

    >>> dead_units(model, x)["d"]  # doctest: +SKIP
    0.0
    """
    alive = None
    count = _data_len(x)
    if count == 0:
        raise ValueError("dead_units needs at least one sample")
    finder = AliveUnits.of(model)
    for start in range(0, count, int(batch_size)):
        batch = _slice(x, start, start + int(batch_size))
        found = finder(batch)
        alive = found if alive is None else {k: alive[k] | v for k, v in found.items()}
    return {name: float(1.0 - a.mean()) for name, a in (alive or {}).items()}


class AliveUnits(PerModel):
    """Per layer, which units were not exactly 0 somewhere in a batch (compiled once
    per model, like :class:`Gradients`)."""

    def __init__(self, model):
        super().__init__(model)
        self._compiled = None
        self._tried = False

    def _make(self) -> None:
        if not self._tried:
            self._tried = True
            try:
                self._compiled = _compile(self._alive) if _graph.graph_of(self.model) else None
            except RuntimeError:  # another backend: dead units are not recorded
                self._compiled = None

    def warm_up(self, batch):
        """A function that traces and runs the compiled computation for ``batch`` (see
        :meth:`Gradients.warm_up`), or None."""
        self._make()
        if self._compiled is None:
            return None
        return _tracer(self._compiled, _graph.cast_inputs(self.model, batch))

    def __call__(self, batch) -> dict[str, np.ndarray]:
        batch = _graph.cast_inputs(self.model, batch)
        self._make()
        if self._compiled is not None:
            try:
                found = self._compiled(batch)
            except Exception:  # noqa: BLE001 - anything that fails compiled runs eagerly
                self._compiled = None
                found = self._alive(batch)
        else:
            found = self._alive(batch)
        return {name: np.asarray(a, dtype=bool) for name, a in found.items()}

    def _alive(self, batch):
        import tensorflow as tf

        record: dict = {}
        if _graph.graph_of(self.model) is None:
            return {}
        _graph.run_recording(self.model, batch, record, cast=False)
        out = {}
        for name, value in record.items():
            t = _graph.flatten(value)[0]
            if not tf.is_tensor(t) or not t.dtype.is_floating or len(t.shape) < 2:
                continue
            axes = list(range(len(t.shape) - 1))
            out[name] = tf.reduce_any(tf.not_equal(t, 0), axis=axes)
        return out


def _data_len(x) -> int:
    first = (
        x[0]
        if isinstance(x, (list, tuple))
        else next(iter(x.values()))
        if isinstance(x, dict)
        else x
    )
    return int(np.shape(first)[0])


def _slice(x, start: int, stop: int):
    if isinstance(x, dict):
        return {k: np.asarray(v)[start:stop] for k, v in x.items()}
    if isinstance(x, (list, tuple)):
        return [np.asarray(v)[start:stop] for v in x]
    return np.asarray(x)[start:stop]
