"""Pure computation from weights and activations to what a view draws.

Every function returns a :class:`Matrix` (a 2-D picture with axis names and a note)
or plain numpy arrays; none of them touches a widget.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from .imaging import block_reduce, reduction_factors

#: Largest picture sent to the browser, in cells; bigger ones are block-reduced.
MAX_PICTURE = (416, 352)  # rows, columns: about what a 460-px card can show
MAX_TILES = 64
#: A map whose finite values differ by less than this fraction of their magnitude is
#: constant (float32 rounding noise is not stretched into a pattern)
FLAT = 1e-6
#: Constant channels listed by value in a grid's note (the rest are counted)
MAX_LISTED = 4


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
    #: True for pictures of maps (channels, filters): their cells are square, reduced
    #: by the same factor on both axes and drawn square; False for matrices, whose
    #: cells are not pixels
    keep_aspect: bool = False

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
    """Block-reduce a picture to at most :data:`MAX_PICTURE` cells.

    Pictures of maps (``m.keep_aspect``) are reduced by the same factor on both axes,
    so that a round blob stays round; matrices each axis only as much as it needs (a
    1024x10 Dense kernel keeps its 10 columns instead of becoming 352x4). Gap cells of
    a grid do not darken the tiles they border.

    >>> grid = Matrix(np.ones((327, 647)), keep_aspect=True)
    >>> shrink_to_screen(grid).values.shape, shrink_to_screen(Matrix(np.ones((1024, 10)))).values.shape
    ((164, 324), (342, 10))
    """
    h, w = m.values.shape
    if reduction_factors((h, w), MAX_PICTURE, m.keep_aspect) == (1, 1):
        return m
    values = m.values
    if m.gap is not None and how == "mean":
        values = np.where(m.gap, np.nan, values)
    small = block_reduce(values, MAX_PICTURE, how=how, keep_aspect=m.keep_aspect)
    gap = None
    if m.gap is not None:
        gap = block_reduce(m.gap.astype(np.float64), MAX_PICTURE, keep_aspect=m.keep_aspect)
        gap = gap > 0.5
    note = f"{m.note} shown at {small.shape[0]}\u00d7{small.shape[1]} of {h}\u00d7{w}".strip()
    return replace(m, values=small, note=note, gap=gap, extent=m.size)


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
    m = Matrix(pic, label, "input channel", note, gap, extent=(n_out, n_in), keep_aspect=True)
    return shrink_to_screen(m, how="absmax")


def _filter_grid(k: np.ndarray) -> Matrix:
    """Filters of a one-channel input (``(kh, kw, cout)``) in a near-square grid."""
    kh, kw, cout = k.shape
    n = min(cout, MAX_TILES)
    pic, gap = tile(k[:, :, :n].transpose(2, 0, 1), cols=grid_columns(n))
    note = f"{n} of {cout} filters" if n < cout else f"{cout} filters"
    note = f"{note}, each {kh}\u00d7{kw}"
    return shrink_to_screen(Matrix(pic, "", "", note, gap, axes=False, keep_aspect=True), "absmax")


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
    ``per_channel``, see :func:`normalise_each`; constant channels are listed in the
    note), ``(steps, features)`` a matrix with a row per step, higher ranks
    ``(-1, last)``.
    """
    a = np.asarray(a, dtype=np.float64)
    if a.ndim <= 1:
        return None
    if a.ndim == 2:
        note = f"{a.shape[0]} steps \u00d7 {a.shape[1]} features"
        return shrink_to_screen(Matrix(a, "feature", "step", note))
    if a.ndim == 3:
        return _channel_grid(a, per_channel)
    flat = a.reshape(-1, a.shape[-1])
    return shrink_to_screen(Matrix(flat, "channel", f"axes 0..{a.ndim - 2} flattened"))


def channel_picture(a: np.ndarray, channel: int) -> Matrix:
    """One channel of an ``(h, w, c)`` activation as a picture with pixel axes and
    square pixels; a constant channel says so, with its value, in the note.

    >>> m = channel_picture(np.zeros((4, 6, 3)), 2)
    >>> m.values.shape, m.note
    ((4, 6), 'channel 2, 4×6, constant 0')
    """
    m = np.asarray(a[..., channel], dtype=np.float64)
    h, w = m.shape
    note = f"channel {channel}, {h}\u00d7{w}"
    flat = constant_maps(m[None])
    if flat:
        note += f", constant {flat[0]:.4g}"
    return shrink_to_screen(Matrix(m, "x", "y", note, keep_aspect=True))


def _channel_grid(a: np.ndarray, per_channel: bool) -> Matrix:
    h, w, c = a.shape
    n = min(c, MAX_TILES)
    maps = a[:, :, :n].transpose(2, 0, 1)
    flat = constant_maps(maps) if per_channel else {}
    if per_channel:
        maps = normalise_each(maps)
    pic, gap = tile(maps, cols=grid_columns(n))
    shown = f"first {n} of {c} channels" if n < c else f"{c} channels"
    note = f"{shown}, each {h}\u00d7{w}, in rows from the top left"
    if flat:
        note += f"; {constants_note(flat)}"
    return shrink_to_screen(Matrix(pic, "", "", note, gap, axes=False, keep_aspect=True))


def map_ranges(maps: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Min and max of each ``maps[i]`` over its finite values (``inf``, ``-inf`` for a
    map without any)."""
    finite = np.isfinite(maps)
    axes = tuple(range(1, maps.ndim))
    lo = np.where(finite, maps, np.inf).min(axis=axes, initial=np.inf)
    hi = np.where(finite, maps, -np.inf).max(axis=axes, initial=-np.inf)
    return lo, hi


def _flat(lo: np.ndarray, hi: np.ndarray) -> np.ndarray:
    with np.errstate(all="ignore"):
        return np.isfinite(lo) & (hi - lo <= FLAT * np.maximum(np.abs(lo), np.abs(hi)))


def constant_maps(maps: np.ndarray) -> dict[int, float]:
    """``{i: value}`` for each map whose finite values are all the same (within
    :data:`FLAT` of their magnitude), such as a saturated sigmoid or a dead ReLU.

    >>> constant_maps(np.stack([np.ones((2, 2)), np.eye(2), np.zeros((2, 2))]))
    {0: 1.0, 2: 0.0}
    """
    maps = np.asarray(maps, dtype=np.float64)
    lo, hi = map_ranges(maps)
    return {int(i): float(lo[i]) for i in np.flatnonzero(_flat(lo, hi))}


def constants_note(flat: dict[int, float], limit: int = MAX_LISTED) -> str:
    """``"3 constant channels (mid colour): #4 = 1, #7 = 0, …"``, listing ``limit``."""
    listed = [f"#{i} = {v:.4g}" for i, v in list(flat.items())[:limit]]
    more = ", \u2026" if len(flat) > limit else ""
    noun = "channel" if len(flat) == 1 else "channels"
    return f"{len(flat)} constant {noun} (mid colour): {', '.join(listed)}{more}"


def normalise_each(maps: np.ndarray) -> np.ndarray:
    """Scale each ``maps[i]`` to 0..1 over its finite values.

    A constant map (see :func:`constant_maps`) has no range to scale: it is drawn at
    0.5, the middle colour, so that it is told apart from a map of zeros (which
    elsewhere is the bottom colour) and from a map's peak; its value is not lost, as
    :func:`constant_maps` lists it for the caption. NaN and Inf stay as they are (drawn
    in the bad colour).

    >>> normalise_each(np.stack([np.ones((1, 2)), [[0.0, 2.0]]])).tolist()
    [[[0.5, 0.5]], [[0.0, 1.0]]]
    """
    maps = np.asarray(maps, dtype=np.float64)
    lo, hi = (r[:, None, None] for r in map_ranges(maps))
    flat = _flat(lo, hi)
    with np.errstate(all="ignore"):
        out = np.where(flat, 0.5, (maps - lo) / (hi - lo))
    return np.where(np.isfinite(maps), out, maps)


def channel_means(a: np.ndarray) -> np.ndarray | None:
    """Mean activation per channel (last axis) for rank >= 2, else ``None``."""
    a = np.asarray(a, dtype=np.float64)
    if a.ndim < 2:
        return None
    flat = np.where(np.isfinite(a), a, 0.0).reshape(-1, a.shape[-1])
    return flat.mean(axis=0)


def _nice_step(raw: float) -> float:
    """The smallest of 1, 2, 5 times a power of ten that is at least ``raw``."""
    exp = math.floor(math.log10(raw))
    steps = (float(f"{m}e{exp}") for m in (1, 2, 5, 10))  # decimal, so 5e29 is 5e29
    return next(step for step in steps if step >= raw * (1 - 1e-9))


def integer_ticks(lo: float, hi: float, n: int = 5) -> np.ndarray:
    """At most ``n`` distinct integer ticks within ``lo``..``hi``, a round step apart
    (1, 2, 5, 10, 20, ...), for axes that count channels, units, steps or pixels.

    >>> integer_ticks(0, 2).tolist(), integer_ticks(0, 9).tolist(), integer_ticks(0, 1279).tolist()
    ([0, 1, 2], [0, 2, 4, 6, 8], [0, 500, 1000])
    """
    if not (np.isfinite(lo) and np.isfinite(hi)):
        return np.zeros(0, dtype=np.int64)
    first, last = math.ceil(lo), math.floor(hi)
    if last < first:
        return np.zeros(0, dtype=np.int64)
    step = 1.0
    while (last - first) // step + 1 > max(n, 1):
        step = _nice_step(step * 1.5)
    step = int(step)
    start = -(-first // step) * step
    return np.arange(start, last + 1, step, dtype=np.int64)


def nice_ticks(lo: float, hi: float, n: int = 5, integer: bool = False) -> np.ndarray:
    """About ``n`` round tick values (steps of 1, 2 or 5 times a power of ten) that
    cover ``lo``..``hi``; steps of at least 1 when ``integer``.

    >>> nice_ticks(0, 0.363).tolist(), nice_ticks(0, 1, integer=True).tolist()
    ([0.0, 0.1, 0.2, 0.3, 0.4], [0.0, 1.0])
    >>> nice_ticks(-3e-30, 1e-30, 3).tolist()
    [-4e-30, -2e-30, 0.0, 2e-30]
    """
    if not (np.isfinite(lo) and np.isfinite(hi)) or not np.isfinite(hi - lo) or hi <= lo:
        return np.array([lo if np.isfinite(lo) else 0.0])
    step = _nice_step((hi - lo) / max(n - 1, 1))
    step = max(step, 1.0) if integer else step
    first, last = math.floor(lo / step + 1e-9), math.ceil(hi / step - 1e-9)
    # through 12 significant digits: no float noise (0.30000000000000004) at any scale
    return np.array([float(f"{k * step:.12g}") + 0.0 for k in range(first, last + 1)])
