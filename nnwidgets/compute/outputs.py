"""What an output means, by kind: class probabilities, labels, masks, values, text.

Pure functions from one sample's output (batch axis removed) to what a view shows.
An argmax is only ever taken over a class axis: the last axis of a ``"classes"``
vector or of a ``"segmentation"`` map.
"""

from __future__ import annotations

import html

import numpy as np

#: Distinct colours for class maps (tab10, then tab20's light half).
PALETTE = np.array(
    [
        (31, 119, 180),
        (255, 127, 14),
        (44, 160, 44),
        (214, 39, 40),
        (148, 103, 189),
        (140, 86, 75),
        (227, 119, 194),
        (127, 127, 127),
        (188, 189, 34),
        (23, 190, 207),
        (174, 199, 232),
        (255, 187, 120),
        (152, 223, 138),
        (255, 152, 150),
        (197, 176, 213),
        (196, 156, 148),
        (247, 182, 210),
        (199, 199, 199),
        (219, 219, 141),
        (158, 218, 229),
    ],
    dtype=np.uint8,
)


def _sigmoid(v: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(v, -60, 60)))


def _softmax(v: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(v - np.max(v, axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def probabilities(out, activation: str = "") -> np.ndarray:
    """Class probabilities of a ``"classes"`` output (one sample).

    A softmax or sigmoid output is taken as it is; logits go through a softmax (or a
    sigmoid for one unit). One unit gives two classes: ``[1 - p, p]``.

    >>> probabilities(np.array([0.8]), "sigmoid").tolist()
    [0.19999999999999996, 0.8]
    >>> probabilities(np.array([0.0, 0.0])).tolist()
    [0.5, 0.5]
    """
    v = np.asarray(out, dtype=np.float64).reshape(-1)
    if v.size == 1:
        p = v[0] if activation in ("sigmoid", "softmax") else float(_sigmoid(v)[0])
        return np.array([1.0 - p, p])
    if activation in ("softmax", "sigmoid"):
        return v
    return _softmax(v)


def unit_probabilities(out, activation: str = "") -> np.ndarray:
    """Per-label probabilities of a ``"multilabel"`` output (sigmoid of logits)."""
    v = np.asarray(out, dtype=np.float64).reshape(-1)
    return v if activation == "sigmoid" else _sigmoid(v)


def top_k(probs: np.ndarray, k: int = 5) -> np.ndarray:
    """Indices of the ``k`` largest probabilities, largest first (NaN last).

    >>> top_k(np.array([0.1, 0.7, 0.2]), 2).tolist()
    [1, 2]
    """
    p = np.where(np.isfinite(probs), probs, -np.inf)
    order = np.argsort(-p, kind="stable")
    return order[: max(1, min(k, p.size))]


def class_name(index: int, names=None) -> str:
    """``names[index]``, or the index as text."""
    if names is not None and 0 <= index < len(names):
        return str(names[index])
    return str(index)


def label_class(label) -> int | None:
    """The class index of one ``"classes"`` label: an index, a one-hot row or a 0/1."""
    y = np.asarray(label)
    if y.size == 0 or not np.all(np.isfinite(y.astype(np.float64))):
        return None
    if y.size > 1:
        return int(np.argmax(y.reshape(-1)))
    return int(round(float(y.reshape(-1)[0])))


def class_map(out, activation: str = "") -> np.ndarray:
    """The predicted class per pixel of a ``"segmentation"`` output ``(h, w, c)``: the
    argmax over classes, or ``p > 0.5`` for one channel."""
    v = np.asarray(out, dtype=np.float64)
    if v.shape[-1] == 1:
        p = v[..., 0] if activation == "sigmoid" else _sigmoid(v[..., 0])
        return (p > 0.5).astype(np.int64)
    return np.argmax(np.where(np.isfinite(v), v, -np.inf), axis=-1)


def mask_classes(label) -> np.ndarray:
    """A true mask ``(h, w)``, ``(h, w, 1)`` or one-hot ``(h, w, c)`` as class indices."""
    y = np.asarray(label)
    if y.ndim == 3 and y.shape[-1] > 1:
        return np.argmax(y, axis=-1)
    if y.ndim == 3:
        y = y[..., 0]
    return np.rint(np.nan_to_num(y.astype(np.float64))).astype(np.int64)


def colour_classes(classes: np.ndarray) -> np.ndarray:
    """A class map as an RGB picture (one palette colour per class)."""
    return PALETTE[np.mod(classes, len(PALETTE))]


def overlay(picture: np.ndarray, classes: np.ndarray, alpha: float = 0.45) -> np.ndarray:
    """A class map blended over an ``(h, w)``/``(h, w, 3)`` uint8 picture of the same size."""
    base = picture if picture.ndim == 3 else np.repeat(picture[..., None], 3, axis=-1)
    colours = colour_classes(classes).astype(np.float64)
    return (base * (1 - alpha) + colours * alpha).astype(np.uint8)


def class_shares(classes: np.ndarray, n: int) -> np.ndarray:
    """Share of pixels in each of ``n`` classes."""
    counts = np.bincount(classes.reshape(-1).clip(0, max(n - 1, 0)), minlength=n)[:n]
    return counts / max(classes.size, 1)


def legend_html(shares: np.ndarray, names=None, limit: int = 12) -> str:
    """Coloured swatches with class names and their pixel shares."""
    items = []
    for i in np.argsort(-shares, kind="stable")[:limit]:
        r, g, b = PALETTE[i % len(PALETTE)]
        items.append(
            f'<span style="white-space:nowrap"><span style="display:inline-block;width:10px;'
            f'height:10px;background:rgb({r},{g},{b});margin-right:3px"></span>'
            f"{html.escape(class_name(int(i), names))} {shares[i]:.0%}</span>"
        )
    return (
        '<div style="font-size:12px;display:flex;flex-wrap:wrap;gap:2px 10px">'
        + "".join(items)
        + "</div>"
    )


def number(v: float) -> str:
    """A value as short text; NaN and Inf spelled out."""
    return f"{v:.4g}" if np.isfinite(v) else str(v)


def summary(kind: str, out, label=None, names=None, activation: str = "") -> str:
    """One line saying what the model predicted for one sample (and the label), for
    its output kind. Never an argmax over an axis that is not a class axis.

    >>> summary("classes", np.array([0.1, 0.9]), 1, ["cat", "dog"], "softmax")
    'predicted dog (p=0.90) \u00b7 label dog \u2713'
    >>> summary("segmentation", np.zeros((4, 4, 3)), names=["bg", "a", "b"])
    'mask 4\u00d74: bg 100%'
    >>> summary("regression", np.array([2.5]), np.array([3.0]))
    'predicted 2.5 \u00b7 label 3'
    """
    v = np.asarray(out)
    bad = int(np.sum(~np.isfinite(v.astype(np.float64)))) if v.size else 0
    if bad:
        return f"\u26a0 non-finite output ({bad} NaN/Inf of {v.size})"
    if kind == "classes":
        probs = probabilities(v, activation)
        k = int(top_k(probs, 1)[0])
        text = f"predicted {class_name(k, names)} (p={probs[k]:.2f})"
        if label is not None and (true := label_class(label)) is not None:
            mark = "\u2713" if true == k else "\u2717"
            text += f" \u00b7 label {class_name(true, names)} {mark}"
        return text
    if kind == "multilabel":
        probs = unit_probabilities(v, activation)
        on = [class_name(i, names) for i in np.flatnonzero(probs > 0.5)]
        text = "predicted " + (", ".join(on[:6]) + (" \u2026" if len(on) > 6 else "") or "none")
        if label is not None:
            true = [
                class_name(i, names) for i in np.flatnonzero(np.asarray(label).reshape(-1) > 0.5)
            ]
            text += " \u00b7 label " + (", ".join(true[:6]) or "none")
        return text
    if kind == "segmentation":
        classes = class_map(v, activation)
        n = max(v.shape[-1], 2)
        shares = class_shares(classes, n)
        top = np.argsort(-shares, kind="stable")[:3]
        parts = ", ".join(f"{class_name(int(i), names)} {shares[i]:.0%}" for i in top if shares[i])
        return f"mask {classes.shape[0]}\u00d7{classes.shape[1]}: {parts}"
    if kind == "regression":
        flat = v.reshape(-1).astype(np.float64)
        shown = ", ".join(number(x) for x in flat[:4]) + (" \u2026" if flat.size > 4 else "")
        text = f"predicted {shown}"
        if label is not None:
            y = np.asarray(label, dtype=np.float64).reshape(-1)
            text += " \u00b7 label " + ", ".join(number(x) for x in y[:4])
            text += " \u2026" if y.size > 4 else ""
        return text
    shape = "\u00d7".join(str(n) for n in v.shape)
    if kind == "image":
        return f"image out {shape}"
    flat = v.reshape(-1).astype(np.float64)
    if 0 < flat.size <= 4:
        return "values " + ", ".join(number(x) for x in flat)
    return f"output {shape or 'scalar'}"
