"""Confusion matrices: counts of (true class, predicted class), per input or per pixel,
and the inputs behind one cell.

>>> truth, predicted = np.array([0, 1, 1, 2]), np.array([0, 2, 1, 2])
>>> confusion(truth, predicted, 3).tolist()
[[1, 0, 0], [0, 1, 1], [0, 0, 1]]
>>> cell_inputs(truth, predicted, 1, 2)
(1,)
"""

from __future__ import annotations

import numpy as np


def confusion(truth: np.ndarray, predicted: np.ndarray, k: int) -> np.ndarray:
    """``(k, k)`` counts, rows the true class, columns the predicted one (as
    ``sklearn.metrics.confusion_matrix(truth, predicted, labels=range(k))``).

    ``truth`` and ``predicted`` are ``(n,)`` classes, or ``(n, h, w)`` class maps
    (every pixel counts). Unknown truths (``< 0``) and classes outside ``0..k-1`` are
    left out.
    """
    t = np.asarray(truth, dtype=np.int64).reshape(-1)
    p = np.asarray(predicted, dtype=np.int64).reshape(-1)
    if t.shape != p.shape:
        raise ValueError(
            f"truth and predictions differ in shape: {np.shape(truth)} and {np.shape(predicted)}"
        )
    ok = (t >= 0) & (t < k) & (p >= 0) & (p < k)
    return np.bincount(t[ok] * k + p[ok], minlength=k * k).reshape(k, k)


def cell_inputs(truth: np.ndarray, predicted: np.ndarray, true: int, pred: int) -> tuple:
    """The inputs in the cell (``true``, ``pred``): those labelled ``true`` and
    predicted ``pred``; for class maps, those with at least one such pixel."""
    t, p = np.asarray(truth), np.asarray(predicted)
    hit = (t == true) & (p == pred)
    if hit.ndim > 1:
        hit = hit.reshape(len(hit), -1).any(axis=1)
    return tuple(np.flatnonzero(hit).tolist())


def shown_classes(matrix: np.ndarray, limit: int) -> np.ndarray:
    """The classes to show when there are more than ``limit``: those with the most
    inputs (labelled or predicted), in class order.

    >>> shown_classes(np.diag([5, 0, 9, 1]), 2).tolist()
    [0, 2]
    """
    k = len(matrix)
    if k <= limit:
        return np.arange(k)
    support = matrix.sum(axis=0) + matrix.sum(axis=1)
    return np.sort(np.argsort(-support, kind="stable")[:limit])


def row_shares(matrix: np.ndarray) -> np.ndarray:
    """Each row divided by its sum (rows without inputs stay 0).

    >>> row_shares(np.array([[3, 1], [0, 0]])).tolist()
    [[0.75, 0.25], [0.0, 0.0]]
    """
    m = np.asarray(matrix, dtype=np.float64)
    sums = m.sum(axis=1, keepdims=True)
    return np.divide(m, sums, out=np.zeros_like(m), where=sums > 0)
