"""Many samples in one picture: thumbnails tiled into a sprite, sparklines rasterised.

A gallery sends one PNG per page, never one widget per sample. Everything here is
numpy in, numpy out: :func:`thumbnail` fits a picture in a tile, :func:`tile_sprite`
lays tiles out on a grid (and says where each went, so a click can be traced back),
:func:`sparkline` and :func:`sparkline_rgb` draw a series as a small picture.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from .imaging import finite_range

#: The frame drawn around the selected tile (orange, seen on white and on black).
FRAME_COLOR = (245, 133, 24)


class Tiling(NamedTuple):
    """Where :func:`tile_sprite` put the tiles, in sprite pixels.

    ``positions`` is ``(k, 2)``: each tile's top-left ``(row, column)``; ``tile`` the
    tiles' ``(height, width)``; ``pitch`` the distance between two cells' origins
    (a cell holds a tile and the band under it); ``pad`` the gap around cells.
    """

    positions: np.ndarray
    tile: tuple[int, int]
    pitch: tuple[int, int]
    pad: int
    columns: int

    def at(self, x: float, y: float) -> int:
        """The tile whose cell holds sprite pixel ``(x, y)`` (half the gap around it
        included), or -1.

        >>> _, tiling = tile_sprite(np.zeros((5, 8, 8, 3), np.uint8), columns=3, pad=2)
        >>> tiling.at(1, 1), tiling.at(12, 3), tiling.at(3, 12), tiling.at(25, 12)
        (0, 1, 3, -1)
        """
        if not (np.isfinite(x) and np.isfinite(y)):
            return -1
        col = int(np.floor((x - self.pad / 2) / self.pitch[1]))
        row = int(np.floor((y - self.pad / 2) / self.pitch[0]))
        pos = row * self.columns + col
        ok = 0 <= col < self.columns and row >= 0 and pos < len(self.positions)
        return pos if ok else -1


def thumbnail(picture: np.ndarray, size: int = 48, max_size: int = 64) -> np.ndarray:
    """A ``(h, w, 3)`` uint8 picture about ``size`` pixels on its long side, never more
    than ``max_size``: small ones repeated pixel by pixel (no blur), big ones shrunk by
    a whole factor (block means).

    >>> [thumbnail(np.zeros((s, s, 3), np.uint8)).shape[0] for s in (8, 28, 32, 48)]
    [48, 56, 64, 48]
    >>> thumbnail(np.zeros((224, 150, 3), np.uint8)).shape
    (45, 30, 3)
    """
    picture = np.asarray(picture)
    h, w = picture.shape[:2]
    side = max(h, w, 1)
    if side <= max_size:
        k = max(1, min(round(size / side), max_size // side))
        return np.repeat(np.repeat(picture, k, axis=0), k, axis=1) if k > 1 else picture
    f = -(-side // size)
    ph, pw = -(-h // f) * f, -(-w // f) * f
    padded = np.pad(picture, ((0, ph - h), (0, pw - w), (0, 0)), mode="edge")
    blocks = padded.reshape(ph // f, f, pw // f, f, -1).astype(np.float32)
    return np.round(blocks.mean(axis=(1, 3))).astype(np.uint8)


def tile_sprite(
    pictures: np.ndarray,
    columns: int,
    pad: int = 4,
    frame: int | None = None,
    below: int = 0,
    cell_width: int = 0,
    background=(255, 255, 255),
    frame_color=FRAME_COLOR,
) -> tuple[np.ndarray, Tiling]:
    """Tile ``(k, h, w, 3)`` uint8 pictures row by row, ``columns`` to a row, into one
    ``(H, W, 3)`` picture; return it and the :class:`Tiling`.

    Cells are ``pad`` pixels apart; each has a band ``below`` pixels high under its
    tile (for a caption) and is at least ``cell_width`` wide (the tile centred in
    it). The tile at position ``frame`` gets a frame of ``min(pad, 2)`` pixels in
    ``frame_color``, drawn in the gap around it.

    >>> rgb, tiling = tile_sprite(np.zeros((5, 8, 8, 3), np.uint8), columns=3, pad=2)
    >>> rgb.shape, tiling.positions.tolist()
    ((22, 32, 3), [[2, 2], [2, 12], [2, 22], [12, 2], [12, 12]])
    >>> rgb, _ = tile_sprite(np.zeros((1, 4, 4, 3), np.uint8), 1, pad=3, frame=0)
    >>> rgb[:, 5, 1].tolist()  # down a column: the gap, the frame, the tile, the frame, the gap
    [255, 133, 133, 0, 0, 0, 0, 133, 133, 255]
    """
    pictures = np.asarray(pictures, dtype=np.uint8)
    if pictures.ndim != 4 or pictures.shape[-1] != 3:
        raise ValueError(f"tile_sprite expects (k, h, w, 3) pictures, got {pictures.shape}")
    k, h, w = pictures.shape[:3]
    columns = max(1, min(int(columns), max(k, 1)))
    rows = max(1, -(-k // columns))
    cw = max(w, int(cell_width))
    pitch = (h + below + pad, cw + pad)
    rgb = np.empty((pad + rows * pitch[0], pad + columns * pitch[1], 3), np.uint8)
    rgb[:] = np.asarray(background, np.uint8)
    row, col = np.divmod(np.arange(k), columns)
    positions = np.stack([pad + row * pitch[0], pad + col * pitch[1] + (cw - w) // 2], axis=1)
    for (top, left), picture in zip(positions, pictures, strict=True):
        rgb[top : top + h, left : left + w] = picture
    if frame is not None and 0 <= frame < k:
        draw_frame(rgb, positions[frame], (h, w), min(pad, 2), frame_color)
    return rgb, Tiling(positions, (h, w), pitch, pad, columns)


def draw_frame(rgb: np.ndarray, top_left, size, width: int, color=FRAME_COLOR) -> np.ndarray:
    """Draw (in place) a frame ``width`` pixels wide just outside the box of ``size``
    at ``top_left``; return ``rgb``."""
    (top, left), (h, w) = top_left, size
    if width <= 0:
        return rgb
    t, b = max(top - width, 0), min(top + h + width, rgb.shape[0])
    le, r = max(left - width, 0), min(left + w + width, rgb.shape[1])
    color = np.asarray(color, np.uint8)
    rgb[t:top, le:r] = color
    rgb[top + h : b, le:r] = color
    rgb[t:b, le:left] = color
    rgb[t:b, left + w : r] = color
    return rgb


def column_extents(y: np.ndarray, width: int) -> tuple[np.ndarray, np.ndarray]:
    """The lowest and highest value a line through ``y`` reaches in each of ``width``
    columns (min/max decimation, joined to the column before so the line has no
    breaks); NaN where a column has no finite value.

    >>> lo, hi = column_extents(np.array([0.0, 5.0, 1.0, 2.0]), 2)
    >>> lo.tolist(), hi.tolist()
    ([0.0, 1.0], [5.0, 5.0])
    >>> [v.tolist() for v in column_extents(np.array([0.0, 2.0]), 4)]
    [[0.0, 0.5, 1.0, 1.5], [0.5, 1.0, 1.5, 2.0]]
    """
    y = np.asarray(y, dtype=np.float64).reshape(-1)
    y = np.where(np.isfinite(y), y, np.nan)
    n = y.size
    if n == 0 or width <= 0:
        return np.full(max(width, 0), np.nan), np.full(max(width, 0), np.nan)
    if n >= width:
        starts = (np.arange(width) * n) // width
        with np.errstate(invalid="ignore"):
            lo, hi = np.fmin.reduceat(y, starts), np.fmax.reduceat(y, starts)
        before = y[starts[1:] - 1]
        lo[1:], hi[1:] = np.fmin(lo[1:], before), np.fmax(hi[1:], before)
        return lo, hi
    # fewer samples than columns: the line between samples, at each column's edges
    edges = np.interp(np.linspace(0, n - 1, width + 1), np.arange(n), y)
    lo, hi = np.fmin(edges[:-1], edges[1:]), np.fmax(edges[:-1], edges[1:])
    where = np.minimum((np.arange(n) * width) // max(n - 1, 1), width - 1)
    np.fmin.at(lo, where, y)
    np.fmax.at(hi, where, y)
    return lo, hi


def sparkline(values, height: int, width: int, span=None) -> np.ndarray:
    """A series (``(T,)``, or ``(T, F)``: every feature) rasterised as a ``(height,
    width)`` uint8 mask, 255 where a line passes: each column is filled between the
    min and the max of its values. ``span`` is the ``(lo, hi)`` drawn from bottom to
    top (default: the finite range); NaN and Inf leave gaps.

    >>> (sparkline(np.arange(8.0), 4, 4) > 0).astype(int).tolist()
    [[0, 0, 0, 1], [0, 0, 1, 1], [0, 1, 1, 0], [1, 1, 0, 0]]
    >>> int(sparkline([np.nan] * 5, 4, 4).sum())
    0
    """
    v = np.asarray(values, dtype=np.float64)
    v = v.reshape(len(v), -1) if v.ndim > 1 else v.reshape(-1, 1)
    lo_s, hi_s = span if span is not None else finite_range(v)
    scale = (height - 1) / (hi_s - lo_s) if hi_s > lo_s else 0.0
    r = np.arange(height)[:, None]
    mask = np.zeros((height, width), dtype=bool)
    for j in range(v.shape[1]):
        lo, hi = column_extents(v[:, j], width)
        ok = np.isfinite(lo) & np.isfinite(hi)
        with np.errstate(invalid="ignore"):
            top = np.round((hi_s - np.clip(np.where(ok, hi, 0), lo_s, hi_s)) * scale)
            bottom = np.round((hi_s - np.clip(np.where(ok, lo, 0), lo_s, hi_s)) * scale)
        mask |= ok[None, :] & (r >= top[None, :]) & (r <= bottom[None, :])
    return mask.astype(np.uint8) * 255


def sparkline_rgb(
    values, height: int, width: int, colors, background=(255, 255, 255)
) -> np.ndarray:
    """A ``(T,)`` or ``(T, F)`` series as an ``(height, width, 3)`` uint8 picture: the
    first ``len(colors)`` features, each in its colour, on one shared scale (their
    finite range).

    >>> pic = sparkline_rgb(np.c_[np.zeros(9), np.ones(9)], 5, 6, [(255, 0, 0), (0, 0, 255)])
    >>> pic[0, 0].tolist(), pic[-1, 0].tolist(), pic[2, 0].tolist()
    ([0, 0, 255], [255, 0, 0], [255, 255, 255])
    """
    v = np.asarray(values, dtype=np.float64)
    v = v.reshape(len(v), -1) if v.ndim > 1 else v.reshape(-1, 1)
    v = v[:, : len(colors)]
    span = finite_range(v)
    rgb = np.empty((height, width, 3), np.uint8)
    rgb[:] = np.asarray(background, np.uint8)
    for j in range(v.shape[1]):
        rgb[sparkline(v[:, j], height, width, span) > 0] = np.asarray(colors[j], np.uint8)
    return rgb
