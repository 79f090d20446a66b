"""Pure array-to-picture helpers: downsampling, decimation, colour maps and PNG.

Nothing here knows about Keras or widgets; every function takes and returns numpy
arrays or bytes, so the views can stay small and the tests can call these directly.
"""

from __future__ import annotations

import html
import struct
import zlib

import numpy as np

#: Colour used for NaN / Inf cells, so that they stand out in any colour map.
BAD_COLOR = (255, 0, 255)

_ANCHORS = {
    # viridis, sampled at 9 evenly spaced points
    "viridis": [
        (68, 1, 84),
        (71, 44, 122),
        (59, 81, 139),
        (44, 113, 142),
        (33, 144, 141),
        (39, 173, 129),
        (92, 200, 99),
        (170, 220, 50),
        (253, 231, 37),
    ],
    # a blue-white-red diverging map for signed values such as weights
    "rdbu": [
        (33, 102, 172),
        (67, 147, 195),
        (146, 197, 222),
        (209, 229, 240),
        (247, 247, 247),
        (253, 219, 199),
        (244, 165, 130),
        (214, 96, 77),
        (178, 24, 43),
    ],
    "gray": [(0, 0, 0), (255, 255, 255)],
}


def colormap_lut(name: str) -> np.ndarray:
    """Return a ``(256, 3)`` uint8 lookup table for colour map ``name``.

    >>> colormap_lut("viridis").shape
    (256, 3)
    """
    try:
        anchors = np.asarray(_ANCHORS[name], dtype=float)
    except KeyError:
        raise ValueError(f"unknown colour map {name!r}; choose one of {sorted(_ANCHORS)}") from None
    pos = np.linspace(0, 1, len(anchors))
    t = np.linspace(0, 1, 256)
    lut = np.stack([np.interp(t, pos, anchors[:, c]) for c in range(3)], axis=1)
    return np.round(lut).astype(np.uint8)


def css_gradient(name: str, steps: int = 9) -> str:
    """CSS ``linear-gradient`` of a colour map, for an HTML colour bar."""
    lut = colormap_lut(name)
    idx = np.linspace(0, 255, steps).astype(int)
    stops = ", ".join(f"rgb({r},{g},{b})" for r, g, b in lut[idx])
    return f"linear-gradient(to right, {stops})"


def finite_range(a: np.ndarray, symmetric: bool = False) -> tuple[float, float]:
    """Min and max over the finite values of ``a`` (``(0, 1)`` if there are none).

    With ``symmetric=True`` the range is ``(-m, m)`` with ``m`` the largest magnitude,
    so that zero sits in the middle of a diverging colour map.

    >>> finite_range(np.array([1.0, np.nan, -3.0]), symmetric=True)
    (-3.0, 3.0)
    """
    finite = np.asarray(a, dtype=np.float64)
    finite = finite[np.isfinite(finite)]
    if finite.size == 0:
        return 0.0, 1.0
    lo, hi = float(finite.min()), float(finite.max())
    if symmetric:
        m = max(abs(lo), abs(hi)) or 1.0
        return -m, m
    if lo == hi:
        return lo - 0.5, hi + 0.5
    return lo, hi


def block_reduce(
    a: np.ndarray, max_shape: tuple[int, int], how: str = "mean", keep_aspect: bool = False
) -> np.ndarray:
    """Shrink a 2-D array so that it fits in ``max_shape`` by reducing blocks.

    Blocks are reduced with a NaN-aware mean, or with the value of largest magnitude
    (``how="absmax"``) so that single strong cells survive. Arrays that already fit are
    returned unchanged. With ``keep_aspect`` the blocks are square (the larger of the
    two factors on both axes), so that a round blob in a picture stays round; without
    it each axis is reduced only as much as it needs (for matrices, whose cells are
    not pixels).

    >>> block_reduce(np.arange(16.0).reshape(4, 4), (2, 2)).tolist()
    [[2.5, 4.5], [10.5, 12.5]]
    >>> block_reduce(np.ones((4, 8)), (4, 4), keep_aspect=True).shape
    (2, 4)
    """
    a = np.asarray(a)
    if a.ndim != 2:
        raise ValueError(f"block_reduce expects a 2-D array, got shape {a.shape}")
    fy, fx = reduction_factors(a.shape, max_shape, keep_aspect)
    if fy == fx == 1:
        return a
    h, w = -(-a.shape[0] // fy) * fy, -(-a.shape[1] // fx) * fx
    dtype = np.float32 if a.dtype == np.float32 else np.float64
    if how == "absmax":
        return _absmax_blocks(a.astype(dtype, copy=False), h, w, fy, fx)
    padded = np.full((h, w), np.nan, dtype=dtype)
    padded[: a.shape[0], : a.shape[1]] = a
    blocks = padded.reshape(h // fy, fy, w // fx, fx)
    with np.errstate(all="ignore"):
        counts = np.sum(~np.isnan(blocks), axis=(1, 3))
        sums = np.nansum(blocks, axis=(1, 3))
        return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def reduction_factors(
    shape: tuple[int, int], max_shape: tuple[int, int], keep_aspect: bool = False
) -> tuple[int, int]:
    """The block sizes ``(fy, fx)`` that make ``shape`` fit in ``max_shape`` (1 if it
    fits); equal on both axes with ``keep_aspect``.

    >>> reduction_factors((327, 647), (416, 352)), reduction_factors((327, 647), (416, 352), True)
    ((1, 2), (2, 2))
    """
    fy = max(-(-shape[0] // max_shape[0]), 1)
    fx = max(-(-shape[1] // max_shape[1]), 1)
    return (max(fy, fx),) * 2 if keep_aspect else (fy, fx)


def _absmax_blocks(a: np.ndarray, h: int, w: int, fy: int, fx: int) -> np.ndarray:
    """Each block's value of largest magnitude (NaN counted as 0), without copies of
    the blocks: the block maximum or minimum, whichever is further from zero."""
    padded = np.pad(a, ((0, h - a.shape[0]), (0, w - a.shape[1])), mode="edge")
    if np.isnan(padded).any():
        padded = np.where(np.isnan(padded), 0.0, padded).astype(a.dtype)
    blocks = padded.reshape(h // fy, fy, w // fx, fx)
    hi, lo = blocks.max(axis=(1, 3)), blocks.min(axis=(1, 3))
    return np.where(-lo > hi, lo, hi)


def decimate_minmax(y: np.ndarray, max_points: int = 2000) -> tuple[np.ndarray, np.ndarray]:
    """Decimate a 1-D series to at most ``max_points`` keeping each bucket's min and max.

    Returns ``(index, values)``; spikes and dips survive, unlike random sampling.

    >>> x, v = decimate_minmax(np.r_[np.zeros(999), 5.0], max_points=10)
    >>> float(v.max()), len(v) <= 10
    (5.0, True)
    """
    y = np.asarray(y, dtype=np.float64).ravel()
    n = y.size
    if n <= max_points:
        return np.arange(n), y
    k = -(-n // max(max_points // 2, 1))
    rows = -(-n // k)
    padded = np.full(rows * k, np.nan)
    padded[:n] = y
    padded = padded.reshape(rows, k)
    lows = np.where(np.isnan(padded), np.inf, padded).argmin(axis=1)
    highs = np.where(np.isnan(padded), -np.inf, padded).argmax(axis=1)
    base = np.arange(rows) * k
    idx = np.unique(np.concatenate([base + lows, base + highs]))
    idx = idx[idx < n]
    return idx, y[idx]


def to_rgb(a: np.ndarray, vmin: float, vmax: float, cmap: str = "viridis") -> np.ndarray:
    """Colour-map a 2-D array to ``(h, w, 3)`` uint8; NaN and Inf get ``BAD_COLOR``."""
    a = np.asarray(a, dtype=np.float64)
    span = vmax - vmin if vmax > vmin else 1.0
    bad = ~np.isfinite(a)
    with np.errstate(all="ignore"):
        scaled = np.clip((np.where(bad, vmin, a) - vmin) / span, 0.0, 1.0)
    rgb = colormap_lut(cmap)[np.round(scaled * 255).astype(np.uint8)]
    rgb[bad] = BAD_COLOR
    return rgb


def encode_png(rgb: np.ndarray) -> bytes:
    """Encode a ``(h, w)`` grey, ``(h, w, 3)`` RGB or ``(h, w, 4)`` RGBA uint8 array as
    PNG bytes (no Pillow)."""
    rgb = np.ascontiguousarray(rgb, dtype=np.uint8)
    if rgb.ndim == 2:
        color_type, channels = 0, 1
    elif rgb.ndim == 3 and rgb.shape[2] in (3, 4):
        color_type, channels = (2, 3) if rgb.shape[2] == 3 else (6, 4)
    else:
        raise ValueError(f"encode_png expects (h, w), (h, w, 3) or (h, w, 4), got {rgb.shape}")
    h, w = rgb.shape[:2]
    rows = rgb.reshape(h, w * channels)
    raw = np.hstack([np.zeros((h, 1), np.uint8), rows]).tobytes()

    def chunk(tag: bytes, data: bytes) -> bytes:
        body = tag + data
        return struct.pack(">I", len(data)) + body + struct.pack(">I", zlib.crc32(body))

    header = struct.pack(">IIBBBBB", w, h, 8, color_type, 0, 0, 0)
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", header)
        + chunk(b"IDAT", zlib.compress(raw, 1))
        + chunk(b"IEND", b"")
    )


def upscale_nearest(rgb: np.ndarray, min_side: int = 64) -> np.ndarray:
    """Repeat pixels so that a tiny image (an 8x8 digit) is not blurred by the browser."""
    h, w = rgb.shape[:2]
    k = max(1, min_side // max(1, min(h, w)))
    k = min(k, max(1, 512 // max(h, w)))
    if k == 1:
        return rgb
    return np.repeat(np.repeat(rgb, k, axis=0), k, axis=1)


def colorbar_html(gradient: str, lo: float, hi: float, caption: str = "", width: int = 220) -> str:
    """HTML for a horizontal colour bar (a CSS ``gradient``, e.g. from
    :func:`css_gradient`) with its range and a caption."""
    bar = (
        f'<div style="height:10px;width:{width}px;background:{gradient};'
        'border:1px solid #888"></div>'
    )
    return (
        '<div class="nnw-colorbar" style="display:flex;align-items:center;gap:6px;'
        f'font-size:12px"><span>{lo:.3g}</span>{bar}<span>{hi:.3g}</span>'
        f'<span style="opacity:.75">{html.escape(caption)}</span></div>'
    )
