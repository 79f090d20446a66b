"""Checking and slicing user data: inputs (one array or several) and labels."""

from __future__ import annotations

import numpy as np


def _as_array(a, what: str) -> np.ndarray:
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{what} could not be turned into an array: {err}") from err
    if arr.dtype == object:
        raise TypeError(f"{what} must be numeric arrays, got ragged or object data")
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
    return arr


def as_inputs(inputs, model) -> np.ndarray | list[np.ndarray]:
    """Turn user inputs into a numpy array (or a list, for multi-input models)."""
    if inputs is None:
        raise TypeError("inputs must be an array of samples (batch axis first), got None")
    if isinstance(inputs, dict):
        raise TypeError("dict inputs are not supported yet; pass a list in model.inputs order")
    if isinstance(inputs, (list, tuple)) and _several_inputs(inputs, model):
        arrays = [_as_array(a, f"inputs[{i}]") for i, a in enumerate(inputs)]
        if len({len(a) for a in arrays}) != 1:
            raise ValueError(
                f"all inputs need the same number of samples, got {[len(a) for a in arrays]}"
            )
        x: np.ndarray | list = arrays
    else:
        x = _as_array(inputs, "inputs")
        if x.ndim == 0:
            raise ValueError("inputs must have a batch axis first, got a scalar")
    if n_samples(x) == 0:
        raise ValueError("inputs are empty: give at least one sample")
    return x


def _several_inputs(inputs, model) -> bool:
    """Whether a list is one array per model input (not a list of samples)."""
    try:
        known = len(model.inputs) if model.built else None
    except (AttributeError, ValueError):
        known = None
    if known is not None:
        return known > 1
    arrays = [a for a in inputs if isinstance(a, np.ndarray)]
    return len(arrays) == len(inputs) > 1 and len({a.shape[1:] for a in arrays}) > 1


def as_labels(labels, n: int) -> np.ndarray | None:
    """Check labels: one per sample."""
    if labels is None:
        return None
    y = _as_array(labels, "labels")
    if y.ndim == 0 or len(y) != n:
        got = "a scalar" if y.ndim == 0 else f"{len(y)} labels"
        raise ValueError(f"labels must have one entry per input ({n}), got {got}")
    return y


def n_samples(x) -> int:
    return len(x[0]) if isinstance(x, list) else len(x)


def sample_shape(x) -> tuple:
    return tuple((x[0] if isinstance(x, list) else x).shape[1:])


def take(x, index: int):
    """A batch of one sample, as the model takes it."""
    if isinstance(x, list):
        return [a[index : index + 1] for a in x]
    return x[index : index + 1]


def describe(x) -> str:
    if isinstance(x, list):
        return "[" + ", ".join(f"{a.shape} {a.dtype}" for a in x) + "]"
    return f"{x.shape} {x.dtype}"


def label_text(y) -> str:
    """A label as short text: class index for one-hot rows, the value otherwise."""
    y = np.asarray(y)
    if y.ndim >= 1 and y.size > 1:
        return str(int(np.argmax(y)))
    value = y.reshape(-1)[0] if y.size else y
    return str(int(value)) if np.asarray(value).dtype.kind in "biu" else f"{float(value):.4g}"


def prediction_text(out: np.ndarray) -> str:
    """The model's output as text: the top class and its probability, or the value."""
    out = np.asarray(out, dtype=np.float64).reshape(-1)
    if out.size == 0:
        return "no output"
    if not np.all(np.isfinite(out)):
        return f"\u26a0 non-finite output ({int(np.sum(~np.isfinite(out)))} NaN/Inf)"
    if out.size == 1:
        return f"{out[0]:.4g}"
    probs = out
    if np.any(out < 0) or np.any(out > 1) or abs(out.sum() - 1) > 1e-3:
        e = np.exp(out - out.max())
        probs = e / e.sum()
    k = int(np.argmax(probs))
    return f"{k} (p={probs[k]:.2f})"
