"""What an attribution view explains: the methods that work for a model and an input,
Grad-CAM's layer, the classes to choose from, and one sample's map. Pure functions over
a model and numpy arrays (the computations are :mod:`nnwidgets.attribution`'s).
"""

from __future__ import annotations

import math
import threading
import time
from collections import OrderedDict

import numpy as np

from .. import attribution as A
from ..attribution import engine as _engine
from . import outputs as O

#: Every method, in the order they are offered.
METHODS = (
    "grad_cam",
    "grad_cam_plus_plus",
    "saliency",
    "smoothgrad",
    "gradient_x_embedding",
    "integrated_gradients",
    "occlusion",
)
LABELS = {
    "grad_cam": "Grad-CAM",
    "grad_cam_plus_plus": "Grad-CAM++",
    "saliency": "saliency",
    "smoothgrad": "SmoothGrad",
    "gradient_x_embedding": "gradient \u00d7 embedding",
    "integrated_gradients": "integrated gradients",
    "occlusion": "occlusion",
}
GRAD_CAM = ("grad_cam", "grad_cam_plus_plus")
#: Methods that run the model many times per map (SmoothGrad's samples, IG's steps).
HEAVY = ("smoothgrad", "integrated_gradients", "occlusion")


class Subject:
    """What there is to explain in a model: its spatial layers, whether input 0 is a
    float array or token ids read by an embedding, and its kind."""

    def __init__(self, model, kind: str, sample):
        self.kind = kind
        self.spatial = A.spatial_layers(model)
        prepared = _engine.prepare(model, sample)
        self.n_inputs = len(prepared)
        self.dtype = str(prepared[0].dtype)
        self.float_input = prepared[0].dtype.kind == "f"
        self.embedding = ""
        if not self.float_input:
            try:
                self.embedding = A.embedding_layer(model, 0)
            except ValueError:
                pass

    def why_not(self, method: str) -> str:
        """Why ``method`` does not work here ('' when it does)."""
        if method in GRAD_CAM and not self.spatial:
            return (
                "no layer has spatial output (a feature map or a sequence of steps), "
                "so Grad-CAM has nothing to weigh"
            )
        if method in ("saliency", "smoothgrad") and not self.float_input:
            if self.embedding:
                return "input 0 holds token ids (they cannot be nudged): use the embedding methods"
            return self._integers()
        if method == "integrated_gradients" and not (self.float_input or self.embedding):
            return self._integers()
        if method == "gradient_x_embedding" and not self.embedding:
            return "no Embedding layer reads input 0 (this method is for token inputs)"
        return ""

    def _integers(self) -> str:
        return (
            f"input 0 holds {self.dtype} values and no Embedding layer reads it: gradients "
            "need a float input (or an embedding); use occlusion"
        )

    def methods(self) -> tuple[str, ...]:
        """The methods that work, in :data:`METHODS` order."""
        return tuple(m for m in METHODS if not self.why_not(m))

    def layer(self, selected: str) -> tuple[str, str]:
        """Grad-CAM's layer for the selected one, and a note when it is another."""
        if not self.spatial:
            return "", ""
        if selected in self.spatial:
            return selected, ""
        used = self.spatial[-1]
        return used, f"layer {selected} has no spatial output; Grad-CAM uses {used}"


def attribute(model, x, method: str, *, kind: str, layer: str = "", **options) -> np.ndarray:
    """One sample's map by ``method`` at the method's own resolution (batch axis
    removed). ``x`` holds one sample (a list for several inputs); ``options``:
    ``class_index``, ``ablation``, ``smooth_samples``, ``steps``.

    >>> attribute(model, x[:1], "grad_cam", kind="image", layer="conv2").shape  # doctest: +SKIP
    (8, 8)
    """
    c, ablation = options.get("class_index"), options.get("ablation") or None
    steps, samples = options.get("steps", 50), options.get("smooth_samples", 20)
    if method in GRAD_CAM:
        a = A.grad_cam(model, x, layer, c, plus_plus=method != "grad_cam", ablation=ablation)
    elif method in ("saliency", "smoothgrad"):
        n = samples if method == "smoothgrad" else 0
        a = A.saliency(model, x, c, smooth_samples=n, seed=0, ablation=ablation)
    elif method == "gradient_x_embedding":
        a = A.token_attributions(model, x, c, method="gradient", ablation=ablation)
    elif method == "integrated_gradients" and kind == "tokens":
        a = A.token_attributions(model, x, c, method="integrated", steps=steps, ablation=ablation)
    elif method == "integrated_gradients":
        a = A.integrated_gradients(model, x, c, steps=steps, ablation=ablation)
    elif method == "occlusion":
        a = A.occlusion(model, x, c, patch=_patch(kind, x), ablation=ablation)
    else:
        raise ValueError(f"unknown method {method!r}; choose one of {METHODS}")
    return np.asarray(a)[0]


def _patch(kind: str, x) -> int | None:
    """Occlusion's window: the default for images, else at most 64 windows."""
    if kind == "image":
        return None
    first = x[0] if isinstance(x, (list, tuple)) else x
    steps = np.shape(first)[1] if np.ndim(first) > 1 else 1
    return max(1, math.ceil(steps / 64))


def plane(a: np.ndarray) -> np.ndarray:
    """An image map as one 2-D plane (integrated gradients' channels summed)."""
    a = np.asarray(a, dtype=np.float64)
    return a.sum(axis=-1) if a.ndim == 3 else a


def per_step(a: np.ndarray, steps: int) -> np.ndarray:
    """A sequence's (or tokens') map as one value per step: features summed, a coarser
    profile (Grad-CAM's steps, occlusion's windows) stretched bilinearly."""
    from .overlay import resample

    a = np.asarray(a, dtype=np.float64)
    a = a.sum(axis=-1) if a.ndim == 2 else a.reshape(-1)
    return resample(a, steps)


def bad_values(x) -> int:
    """How many NaN or Inf values a sample holds."""
    arrays = x if isinstance(x, (list, tuple)) else [x]
    return sum(int(np.sum(~np.isfinite(np.asarray(a, np.float64)))) for a in arrays if np.size(a))


# -- maps asked for, computed and kept ------------------------------------------------
class Request:
    """One map to compute: the method, its layer, the input (one sample, batch axis
    kept), the class (None: predicted), the weights' key, the options, the units
    switched off and the input's kind."""

    def __init__(self, method, layer, index, class_index, key, options, ablation, kind, sample):
        self.method, self.layer, self.index = method, layer, index
        self.class_index, self.weights, self.options = class_index, key, options
        self.ablation, self.kind, self.sample = ablation, kind, sample
        #: what a person chose (a newer key of the same is the same picture, updated)
        self.selection = (method, layer, index, class_index, options)
        self.key = (*self.selection, key)


class Maps:
    """Maps computed for one model, the last ``size`` kept (least recently used
    dropped), and how long the last of each (method, layer) took."""

    def __init__(self, model, size: int = 64):
        self.model, self.size = model, size
        self.computed = 0  # maps computed (not found)
        self._kept: OrderedDict = OrderedDict()
        self._took: dict = {}
        self._lock = threading.Lock()

    def get(self, request: Request):
        with self._lock:
            found = self._kept.get(request.key)
            if found is not None:
                self._kept.move_to_end(request.key)
            return found

    def took(self, request: Request) -> float:
        """Seconds the last map of this method and layer took (inf: none yet)."""
        return self._took.get((request.method, request.layer), math.inf)

    def compute(self, request: Request) -> np.ndarray:
        start = time.perf_counter()
        smooth_samples, steps = request.options
        a = attribute(
            self.model,
            request.sample,
            request.method,
            kind=request.kind,
            layer=request.layer,
            class_index=request.class_index,
            ablation=request.ablation,
            smooth_samples=smooth_samples,
            steps=steps,
        )
        with self._lock:
            self._took[(request.method, request.layer)] = time.perf_counter() - start
            self._kept[request.key] = a
            self.computed += 1
            while len(self._kept) > self.size:
                self._kept.popitem(last=False)
        return a


def one_sample(inputs, index: int):
    """One sample, batch axis kept (a list for several inputs)."""
    if isinstance(inputs, list):
        return [np.asarray(a[index : index + 1]) for a in inputs]
    return np.asarray(inputs[index : index + 1])


def first(sample):
    """Input 0 of a sample."""
    return sample[0] if isinstance(sample, list) else sample


# -- the classes to explain -----------------------------------------------------------
def predicted(out) -> int:
    """The class the engine explains for ``None``: the largest unit (the one most
    positions vote for, for a map).

    >>> predicted(np.array([0.1, 0.7, 0.2]))
    1
    """
    v = np.asarray(out, dtype=np.float64)
    units = v.shape[-1] if v.ndim else 1
    flat = np.where(np.isfinite(v), v, -np.inf).reshape(-1, units)
    return int(np.argmax(np.bincount(np.argmax(flat, axis=-1), minlength=units)))


def choices(kind: str, out, names=None, activation: str = "", k: int = 5):
    """``(index, label)`` of the ``k`` classes most worth explaining, best first: the
    most probable classes, a mask's largest classes, a regression's units."""
    v = np.asarray(out, dtype=np.float64)
    units = v.shape[-1] if v.ndim else 1
    if kind == "classes" and units == 1:
        p = O.probabilities(v, activation)[1]
        return [(0, f"{O.class_name(1, names)} (p={p:.2f})")]
    if kind == "classes":
        probs = O.probabilities(v, activation)
        return [
            (int(i), f"{O.class_name(int(i), names)} (p={probs[i]:.2f})") for i in O.top_k(probs, k)
        ]
    if kind == "multilabel":
        probs = O.unit_probabilities(v, activation)
        return [
            (int(i), f"{O.class_name(int(i), names)} (p={probs[i]:.2f})") for i in O.top_k(probs, k)
        ]
    if kind == "segmentation":
        shares = O.class_shares(O.class_map(v, activation), max(units, 2))[:units]
        top = O.top_k(shares, k)
        return [(int(i), f"{O.class_name(int(i), names)} ({shares[i]:.0%} of pixels)") for i in top]
    flat = v.reshape(-1, units).mean(axis=0) if v.ndim > 1 else v.reshape(-1)
    order = range(units) if units <= k else O.top_k(flat, k)
    return [(int(i), f"{_unit(int(i), names, units)} = {O.number(flat[i])}") for i in order]


def _unit(i: int, names, units: int) -> str:
    if names is not None and i < len(names):
        return str(names[i])
    return "value" if units == 1 else f"unit {i}"


def label(index: int, kind: str, out, names=None, activation: str = "") -> str:
    """A class's label as :func:`choices` writes it (for a class outside the top)."""
    for i, text in choices(kind, out, names, activation, k=10**6):
        if i == index:
            return text
    return O.class_name(index, names)


def what(kind: str, index: int, names=None, units: int = 0) -> str:
    """What the map explains, for the output's kind."""
    name = O.class_name(index, names)
    if kind == "regression":
        unit = f" (unit {index})" if units > 1 else ""
        return f"regression output: the map explains the predicted value{unit}"
    if kind == "segmentation":
        return f"segmentation output: the score of class {name} summed over every pixel"
    if kind == "classes" and units == 1:
        return f"one sigmoid unit: the logit of {O.class_name(1, names)} (red: for it)"
    if kind in ("classes", "multilabel"):
        return f"class {name}"
    return f"output unit {name}"
