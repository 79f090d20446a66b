"""Pure computation from weights and activations to what a view draws.

Every function returns a :class:`Matrix` (a 2-D picture with axis names and a note)
or plain numpy arrays; none of them touches a widget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from .imaging import block_reduce

#: Largest picture sent to the browser, in cells; bigger ones are block-reduced.
MAX_PICTURE = (416, 352)  # rows, columns: about what a 460-px card can show
MAX_TILES = 64


@dataclass
class Matrix:
    """A 2-D picture: ``values`` (NaN gaps allowed via ``gap``), axis names and a note."""

    values: np.ndarray
    x_label: str = ""
    y_label: str = ""
    note: str = ""
    gap: np.ndarray | None = field(default=None, repr=False)
    #: ``(width, height)`` in axis units (default: the array's shape); tiles of a grid
    #: span one unit each, so the axes count channels, not pixels
    extent: tuple[float, float] | None = None
    #: False for pictures whose axes mean nothing (a grid of channel maps)
    axes: bool = True

    @property
    def size(self) -> tuple[float, float]:
        """``(width, height)`` in axis units."""
        return self.extent or (self.values.shape[1], self.values.shape[0])


def stats(a: np.ndarray) -> dict:
    """Summary of an array: shape, min / max / mean / std over finite values, NaN and Inf.

    >>> stats(np.array([1.0, np.nan, 3.0]))["nan"]
    1
    """
    a = np.asarray(a)
    flat = a.ravel() if a.dtype.kind == "f" else a.astype(np.float64).ravel()
    ok = np.isfinite(flat)
    finite = flat if ok.all() else flat[ok]
    nan = int(np.isnan(flat).sum()) if finite.size < flat.size else 0
    out = {
        "shape": tuple(a.shape),
        "size": int(a.size),
        "nan": nan,
        "inf": int(flat.size - finite.size - nan),
    }
    if finite.size:
        out.update(
            min=float(finite.min()),
            max=float(finite.max()),
            mean=float(finite.mean(dtype=np.float64)),
            std=float(finite.std(dtype=np.float64)),
            zeros=float(np.count_nonzero(finite == 0) / finite.size),
        )
    else:
        out.update(min=math.nan, max=math.nan, mean=math.nan, std=math.nan, zeros=math.nan)
    return out


def histogram(a: np.ndarray, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
    """Bin centres and counts over the finite values of ``a``."""
    flat = np.asarray(a).ravel()
    ok = np.isfinite(flat)
    flat = flat if ok.all() else flat[ok]
    if flat.size == 0:
        return np.zeros(0), np.zeros(0)
    lo, hi = float(flat.min()), float(flat.max())
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    counts, edges = np.histogram(flat, bins=bins, range=(lo, hi))
    return (edges[:-1] + edges[1:]) / 2, counts


def tile(maps: np.ndarray, cols: int, pad: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """Lay ``(n, h, w)`` maps out in a grid of ``cols`` columns with ``pad`` gaps.

    Returns the picture and a boolean mask of the gap cells.

    >>> pic, gap = tile(np.ones((3, 2, 2)), cols=2)
    >>> pic.shape, int(gap.sum())
    ((5, 5), 13)
    """
    n, h, w = maps.shape
    rows = -(-n // cols)
    pic = np.zeros((rows * (h + pad) - pad, cols * (w + pad) - pad), dtype=np.float64)
    gap = np.ones(pic.shape, dtype=bool)
    for i in range(n):
        r, c = divmod(i, cols)
        y, x = r * (h + pad), c * (w + pad)
        pic[y : y + h, x : x + w] = maps[i]
        gap[y : y + h, x : x + w] = False
    return pic, gap


def shrink_to_screen(m: Matrix, how: str = "mean") -> Matrix:
    """Block-reduce a picture to at most :data:`MAX_PICTURE` cells."""
    h, w = m.values.shape
    small = block_reduce(m.values, MAX_PICTURE, how=how)
    if small.shape == (h, w):
        return m
    gap = None
    if m.gap is not None:
        gap = block_reduce(m.gap.astype(np.float64), MAX_PICTURE) > 0.5
    note = f"{m.note} shown at {small.shape[0]}\u00d7{small.shape[1]} of {h}\u00d7{w}".strip()
    return Matrix(small, m.x_label, m.y_label, note, gap, m.size, m.axes)


def weight_picture(w: np.ndarray, conv: bool = False) -> Matrix:
    """A weight array as a picture.

    Dense kernels are an ``input × output`` matrix; conv kernels a grid of filters
    (a row per input channel, a column per output channel); 1x1 convs a matrix;
    vectors a strip; other shapes ``axis 0 × the rest``.
    """
    w = np.asarray(w, dtype=np.float64)
    if w.ndim == 0:
        return Matrix(w.reshape(1, 1), "value", "")
    if w.ndim == 1:
        return Matrix(w.reshape(1, -1), "index", "")
    if conv and w.ndim in (3, 4):
        return _conv_picture(w if w.ndim == 4 else w[:, None])
    if w.ndim == 2:
        return shrink_to_screen(Matrix(w, "output unit", "input unit"), how="absmax")
    flat = w.reshape(w.shape[0], -1)
    return shrink_to_screen(Matrix(flat, f"axes 1..{w.ndim - 1} flattened", "axis 0"), how="absmax")


def _conv_picture(k: np.ndarray) -> Matrix:
    kh, kw, cin, cout = k.shape
    if kh * kw == 1:
        m = Matrix(k[0, 0], "output channel", "input channel", "1\u00d71 kernel")
        return shrink_to_screen(m, how="absmax")
    if cin == 1:
        return _filter_grid(k[:, :, 0, :])
    n_in, n_out = min(cin, 16), min(cout, 32)
    note = ""
    if (n_in, n_out) != (cin, cout):
        note = f"first {n_in} of {cin} input and {n_out} of {cout} output channels"
    maps = k[:, :, :n_in, :n_out].transpose(2, 3, 0, 1).reshape(n_in * n_out, kh, kw)
    pic, gap = tile(maps, cols=n_out)
    label = f"output channel (each {kh}\u00d7{kw})"
    m = Matrix(pic, label, "input channel", note, gap, extent=(n_out, n_in))
    return shrink_to_screen(m, how="absmax")


def _filter_grid(k: np.ndarray) -> Matrix:
    """Filters of a one-channel input (``(kh, kw, cout)``) in a near-square grid."""
    kh, kw, cout = k.shape
    n = min(cout, MAX_TILES)
    pic, gap = tile(k[:, :, :n].transpose(2, 0, 1), cols=grid_columns(n))
    note = f"{n} of {cout} filters" if n < cout else f"{cout} filters"
    return shrink_to_screen(
        Matrix(pic, "", "", f"{note}, each {kh}\u00d7{kw}", gap, axes=False), "absmax"
    )


def grid_columns(n: int) -> int:
    """Columns for a near-square grid of ``n`` tiles, preferring no empty cells.

    >>> grid_columns(32), grid_columns(16), grid_columns(7)
    (8, 4, 3)
    """
    root = math.sqrt(n)
    for cols in range(math.ceil(root), int(2 * root) + 1):
        if n % cols == 0:
            return cols
    return math.ceil(root)


def activation_picture(a: np.ndarray, per_channel: bool = True) -> Matrix | None:
    """An activation (batch axis removed) as a picture, or ``None`` for vectors.

    ``(h, w, c)`` maps become a grid of channels (each scaled to its own range when
    ``per_channel``), ``(steps, features)`` a matrix, higher ranks ``(-1, last)``.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim <= 1:
        return None
    if a.ndim == 2:
        return shrink_to_screen(Matrix(a, "feature", "step"))
    if a.ndim == 3:
        return _channel_grid(a, per_channel)
    flat = a.reshape(-1, a.shape[-1])
    return shrink_to_screen(Matrix(flat, "channel", f"axes 0..{a.ndim - 2} flattened"))


def channel_picture(a: np.ndarray, channel: int) -> Matrix:
    """One channel of an ``(h, w, c)`` activation as a picture with pixel axes.

    >>> channel_picture(np.zeros((4, 6, 3)), 2).values.shape
    (4, 6)
    """
    m = np.asarray(a[..., channel], dtype=np.float64)
    h, w = m.shape
    return shrink_to_screen(Matrix(m, "x", "y", f"channel {channel}, {h}\u00d7{w}"))


def _channel_grid(a: np.ndarray, per_channel: bool) -> Matrix:
    h, w, c = a.shape
    n = min(c, MAX_TILES)
    maps = a[:, :, :n].transpose(2, 0, 1)
    if per_channel:
        maps = normalise_each(maps)
    pic, gap = tile(maps, cols=grid_columns(n))
    shown = f"first {n} of {c} channels" if n < c else f"{c} channels"
    note = f"{shown}, each {h}\u00d7{w}, in rows from the top left"
    return shrink_to_screen(Matrix(pic, "", "", note, gap, axes=False))


def normalise_each(maps: np.ndarray) -> np.ndarray:
    """Scale each ``maps[i]`` to 0..1 over its finite values (flat maps become 0)."""
    out = np.empty_like(maps, dtype=np.float64)
    for i, m in enumerate(maps):
        finite = m[np.isfinite(m)]
        lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        with np.errstate(all="ignore"):
            out[i] = (m - lo) / (hi - lo) if hi > lo else np.where(np.isfinite(m), 0.0, m)
    return out


def channel_means(a: np.ndarray) -> np.ndarray | None:
    """Mean activation per channel (last axis) for rank >= 2, else ``None``."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim < 2:
        return None
    flat = np.where(np.isfinite(a), a, 0.0).reshape(-1, a.shape[-1])
    return flat.mean(axis=0)


def nice_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """About ``n`` round tick values (steps of 1, 2 or 5 times a power of ten) that
    cover ``lo``..``hi``.

    >>> nice_ticks(0, 0.363).tolist()
    [0.0, 0.1, 0.2, 0.3, 0.4]
    """
    if not (np.isfinite(lo) and np.isfinite(hi)) or hi <= lo:
        return np.array([lo if np.isfinite(lo) else 0.0])
    raw = (hi - lo) / max(n - 1, 1)
    power = 10.0 ** np.floor(np.log10(raw))
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    first, last = np.floor(lo / step), np.ceil(hi / step)
    return np.round(np.arange(first, last + 1) * step, 12)
