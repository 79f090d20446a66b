"""What the model computes over every input of a :class:`~nnwidgets.state.ModelState`:
the outputs, the predicted and true classes, one layer's features. Batched, compiled
once per model (and per layer), with the units of ``state.ablation`` switched off,
cached on the weights they were computed with.

>>> import nnwidgets as nw
>>> x, y = nw.datasets.load_digits(30)
>>> state = nw.ModelState(nw.datasets.demo_model(), x, y)
>>> pop = Population.of(state)
>>> pop.truth().shape, pop.predicted().shape, pop.features("dense").values.shape
((30,), (30,), (30, 64))
"""

from __future__ import annotations

import functools
import threading
from dataclasses import dataclass

import numpy as np

from . import graph as _graph
from . import outputs as _outputs
from .ablation import BATCH_SIZE, _compile, _rows, _tensors, keep_masks, masks_edit
from .ablation import predicted_classes as _predicted_classes
from .per_model import PerModel

#: Features kept per input at most: bigger maps are mean-pooled over space to fit.
MAX_FEATURES = 4096
#: Answers kept per state (outputs, a few layers' features): 10,000 inputs x 4,096
#: features are 164 MB, so a person browsing layers keeps the last few only.
KEPT = 6


@dataclass(frozen=True)
class Features:
    """One layer's output for a set of inputs, one row each.

    Attributes
    ----------
    values : numpy.ndarray
        ``(n, d)`` float32, one row per input of :attr:`indices`.
    indices : tuple of int
        The inputs, in row order.
    shape : tuple
        The layer's output shape for one input.
    note : str
        How the output was reduced to fit :data:`MAX_FEATURES` ('' when it was not).
    """

    values: np.ndarray
    indices: tuple
    shape: tuple
    note: str = ""

    @property
    def finite(self) -> np.ndarray:
        """A bool per row: every feature is finite."""
        return np.all(np.isfinite(self.values), axis=1)


class _LayerRun(PerModel):
    """One layer's output and the model's outputs for a batch, with units switched off:
    one ``tf.function`` per layer (eager where that fails)."""

    def __init__(self, model):
        super().__init__(model)
        self._compiled: dict = {}
        self._lock = threading.Lock()

    def _eager(self, name, inputs, masks):
        record: dict = {}
        out = _graph.run_recording(self.model, inputs, record, cast=False, edit=masks_edit(masks))
        return (_graph.flatten(record[name])[0] if name else None), out

    def __call__(self, name: str, inputs, masks: dict):
        with self._lock:
            if name not in self._compiled:
                fn = _compile(functools.partial(self._eager, name), self.model)
                self._compiled[name] = fn
            fn = self._compiled[name]
        if fn is not None:
            try:
                return fn(inputs, _tensors(masks))
            except Exception:  # noqa: BLE001 - bad data fails eagerly too, and is raised there
                self._compiled[name] = None  # the model runs, but not compiled: stay eager
        return self._eager(name, inputs, masks)


class Population(PerModel):
    """The model over every input of one state; ``Population.of(state)`` (one per
    state, held weakly, as :class:`~nnwidgets.compute.per_model.PerModel` holds one
    per model).

    Every answer is cached on ``state.weights_key()`` (weights and units switched
    off): asking again after a click costs nothing, a new epoch or a unit switched
    off computes again. Thread-safe (a projection runs in the background).
    """

    def __init__(self, state):
        super().__init__(state)
        self._lock = threading.RLock()
        self._cache: dict = {}  # (what, key) -> value, newest weights only

    @property
    def state(self):
        return self.model

    def _cached(self, what, key, make):
        key = self.state.weights_key() if key is None else key
        with self._lock:
            hit = self._cache.get((what, key))
            if hit is not None:
                return hit
        value = make(key)
        with self._lock:
            newest = max((k[1] for k in self._cache), default=key)
            if key < newest:  # a job on older weights: answer it, keep the newer entries
                return value
            kept = [(k, v) for k, v in self._cache.items() if k[1] == key]
            self._cache = dict(kept[-(KEPT - 1) :]) if KEPT > 1 else {}
            self._cache[(what, key)] = value
        return value

    # -- outputs -------------------------------------------------------------
    def outputs(self, key=None) -> list[np.ndarray]:
        """Every output of the model for every input (a list in ``model.outputs``
        order), with the units of ``state.ablation`` switched off."""
        return self._cached("outputs", key, lambda k: self._run("", None, k)[1])

    def predicted(self, output: int = 0, key=None) -> np.ndarray | None:
        """The predicted class of every input, ``(n,)`` for a ``"classes"`` output,
        ``(n, h, w)`` for a ``"segmentation"`` one; None for other kinds."""
        state = self.state
        kind = state.output_kinds[output] if output < len(state.output_kinds) else "other"
        if kind not in ("classes", "segmentation"):
            return None
        out = self.outputs(key)[output]
        act = state.output_activation(output)
        if kind == "classes":
            return _predicted_classes(out, act)
        return np.stack([_outputs.class_map(o, act) for o in out]) if len(out) else out

    def truth(self, output: int = 0) -> np.ndarray | None:
        """The true class of every input from the labels (``-1`` where a label says
        none), ``(n,)`` or ``(n, h, w)`` like :meth:`predicted`; None without labels
        or for other kinds."""
        state = self.state
        kind = state.output_kinds[output] if output < len(state.output_kinds) else "other"
        labels = state._labels[output] if state._labels and output < len(state._labels) else None
        if labels is None or kind not in ("classes", "segmentation"):
            return None
        if kind == "classes":
            classes = [_outputs.label_class(label) for label in labels]
            return np.array([-1 if c is None else c for c in classes], dtype=np.int64)
        return np.stack([_outputs.mask_classes(label) for label in labels]).astype(np.int64)

    # -- features ------------------------------------------------------------
    def features(self, layer: str, indices=None, key=None) -> Features:
        """A layer's output for ``indices`` (default: every input), one flat row each
        (mean-pooled over space when bigger than :data:`MAX_FEATURES`)."""
        state = self.state
        state.activation(layer)  # a layer whose output cannot be recorded says why
        rows = tuple(range(state.n_inputs)) if indices is None else tuple(indices)
        return self._cached(
            ("features", layer, rows), key, lambda k: self._features(layer, rows, k)
        )

    def _features(self, layer: str, rows: tuple, key) -> Features:
        values, shape, note = [], (), ""
        for part in self._batches(layer, rows, key):
            shape = part.shape[1:]
            flat, note = reduce_features(part)
            values.append(flat)
        d = values[0].shape[1] if values else 0
        stacked = np.concatenate(values) if values else np.zeros((0, d), np.float32)
        return Features(stacked, rows, shape, note)

    def unit_values(self, layer: str, how: str = "mean", key=None) -> np.ndarray:
        """``(n, units)``: each unit's (channel's) output for every input, its mean or
        its maximum over the other axes (space, time); a Dense unit's own value."""
        if how not in ("mean", "max"):
            raise ValueError(f"how must be 'mean' or 'max'; got {how!r}")
        state = self.state
        state.activation(layer)
        rows = tuple(range(state.n_inputs))

        def make(k):
            parts = []
            for part in self._batches(layer, rows, k):
                a = part.astype(np.float32).reshape(len(part), -1, part.shape[-1])
                parts.append(a.mean(axis=1) if how == "mean" else a.max(axis=1))
            return np.concatenate(parts) if parts else np.zeros((0, 0), np.float32)

        return self._cached(("units", layer, how), key, make)

    def _batches(self, layer: str, rows: tuple, key):
        """The layer's output for ``rows``, one batch at a time (memory stays bounded)."""
        for start in range(0, len(rows), BATCH_SIZE):
            part = np.asarray(self._run(layer, rows[start : start + BATCH_SIZE], key)[0])
            yield part if part.ndim > 1 else part[:, None]

    def _run(self, layer: str, rows, key):
        """``(layer output, [outputs])`` for ``rows`` (None: every input), batched."""
        state = self.state
        ablation = state.ablation_at(key)
        masks = keep_masks(ablation, {name: state.units(name) for name in ablation})
        model, x = state.model, state.inputs
        if rows is not None:
            x = _take(x, np.asarray(rows, dtype=np.int64))
        n = len(x[0]) if isinstance(x, list) else len(x)
        run = _LayerRun.of(model)
        feats, outs = [], []
        for start in range(0, n, BATCH_SIZE):
            batch = _graph.cast_inputs(model, _rows(x, start, start + BATCH_SIZE))
            f, out = run(layer, batch, masks)
            if layer:
                feats.append(np.asarray(f))
            outs.append([np.asarray(t) for t in _graph.flatten(out)])
        outputs = [np.concatenate(p, axis=0) for p in zip(*outs, strict=True)] if outs else []
        return (np.concatenate(feats) if feats else None), outputs


def _take(x, rows: np.ndarray):
    return [a[rows] for a in x] if isinstance(x, list) else x[rows]


def reduce_features(batch: np.ndarray, max_features: int = MAX_FEATURES) -> tuple:
    """Flatten a batch of layer outputs to ``(n, d)`` float32, mean-pooling the spatial
    axes of maps bigger than ``max_features`` (channels kept); returns the rows and a
    note saying what was pooled ('' when nothing was).

    >>> rows, note = reduce_features(np.ones((2, 32, 32, 8)), max_features=512)
    >>> rows.shape, note
    ((2, 512), 'mean-pooled 32×32 → 8×8 per channel')
    """
    a = np.asarray(batch, dtype=np.float32)
    n = a.shape[0]
    if a[0].size <= max_features or a.ndim < 3:
        return a.reshape(n, -1), ""
    space, channels = a.shape[1:-1], a.shape[-1]
    factor = 1
    while int(np.prod([-(-s // factor) for s in space])) * channels > max_features:
        factor *= 2
        if all(-(-s // factor) == 1 for s in space):
            break
    pooled = _mean_pool(a, factor)
    before = "×".join(str(s) for s in space)
    after = "×".join(str(s) for s in pooled.shape[1:-1])
    return pooled.reshape(n, -1), f"mean-pooled {before} → {after} per channel"


def _mean_pool(a: np.ndarray, factor: int) -> np.ndarray:
    """Mean over blocks of ``factor`` along each spatial axis (edges padded by their
    own mean: NaN-free for finite input)."""
    for axis in range(1, a.ndim - 1):
        size = a.shape[axis]
        blocks = -(-size // factor)
        pad = blocks * factor - size
        if pad:
            edge = np.take(a, [size - 1], axis=axis)
            a = np.concatenate([a, np.repeat(edge, pad, axis=axis)], axis=axis)
        shape = a.shape[:axis] + (blocks, factor) + a.shape[axis + 1 :]
        a = a.reshape(shape).mean(axis=axis + 1)
    return a
