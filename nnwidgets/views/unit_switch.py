"""Switching units off from an activation picture: which unit a click falls on, and
where the units switched off are crossed out.

The channel grid of :func:`~nnwidgets.compute.display.activation_picture` lays the
first :data:`~nnwidgets.compute.display.MAX_TILES` channels of an ``(h, w, c)`` output
out in rows from the top left, :func:`~nnwidgets.compute.display.grid_columns` tiles a
row, one gap cell between tiles; its axes count cells of that layout, whatever
the picture was reduced to. A matrix (a sequence's ``(steps, features)``, or a higher
rank's ``(-1, last)``) has a column per unit.
"""

from __future__ import annotations

import math

import numpy as np

from ..compute.display import MAX_TILES, Matrix, grid_columns

#: Colour of the crosses over units switched off (no colour map's, nor the gaps').
CROSS_COLOR = (245, 133, 24)


def clicked_unit(x: float, y: float, shape: tuple) -> int | None:
    """The unit (channel) drawn at ``(x, y)``, in the picture's axis units, of an output
    of ``shape`` (batch axis removed); None off the picture. A click on the gap between
    two tiles goes to the nearer one.

    >>> clicked_unit(10.2, 0.5, (4, 4, 16))  # tiles 4 wide + 1 gap: the third column
    2
    >>> clicked_unit(0.5, 5.5, (4, 4, 16)), clicked_unit(3.2, 0.0, (5, 7))
    (4, 3)
    """
    if not (math.isfinite(x) and math.isfinite(y)) or x < 0 or y < 0 or len(shape) < 2:
        return None
    if len(shape) != 3:
        unit = int(x)
        return unit if unit < shape[-1] else None
    h, w, c = shape
    n = min(c, MAX_TILES)
    cols = grid_columns(n)
    rows = -(-n // cols)
    col = min(int((x + 0.5) // (w + 1)), cols - 1)
    row = min(int((y + 0.5) // (h + 1)), rows - 1)
    if x > cols * (w + 1) or y > rows * (h + 1):
        return None
    unit = row * cols + col
    return unit if unit < n else None


def crossed(m: Matrix, shape: tuple, off, channel: int | None = None) -> np.ndarray | None:
    """Cells of picture ``m`` (of an output of ``shape``) that cross out the units in
    ``off``: an X over each tile of a channel grid (over the whole picture when it
    shows one ``channel``), a dotted column of a matrix; None when none is drawn.

    >>> m = Matrix(np.zeros((3, 7)), extent=(7, 3))
    >>> crossed(m, (3, 3, 2), (1,)).astype(int)
    array([[0, 0, 0, 0, 1, 0, 1],
           [0, 0, 0, 0, 0, 1, 0],
           [0, 0, 0, 0, 1, 0, 1]])
    """
    off = [u for u in off if u < shape[-1]] if len(shape) >= 2 else []
    if not off:
        return None
    mask = np.zeros(m.values.shape, dtype=bool)
    if channel is not None:
        if channel in off:
            _cross(mask, 0, m.values.shape[0], 0, m.values.shape[1])
        return mask if mask.any() else None
    fy, fx = (cells / extent for cells, extent in zip(m.values.shape, m.size[::-1], strict=True))
    if len(shape) == 3:
        _cross_tiles(mask, shape, off, fy, fx)
    else:
        for unit in off:
            c0, c1 = _span(unit, 1, fx)
            mask[::2, c0:c1] = True
    return mask if mask.any() else None


def _cross_tiles(mask: np.ndarray, shape: tuple, off, fy: float, fx: float) -> None:
    h, w, c = shape
    n = min(c, MAX_TILES)
    cols = grid_columns(n)
    for unit in off:
        if unit >= n:
            continue
        row, col = divmod(unit, cols)
        r0, r1 = _span(row * (h + 1), h, fy)
        c0, c1 = _span(col * (w + 1), w, fx)
        _cross(mask, r0, r1, c0, c1)


def _span(start: float, length: float, factor: float) -> tuple[int, int]:
    """Cells ``start .. start + length`` (axis units) cover in a picture reduced by
    ``factor`` cells per unit (at least one cell)."""
    lo = int(math.floor(start * factor))
    return lo, max(int(math.ceil((start + length) * factor)), lo + 1)


def _cross(mask: np.ndarray, r0: int, r1: int, c0: int, c1: int) -> None:
    """Both diagonals of the box ``[r0, r1) x [c0, c1)``."""
    rows, cols = r1 - r0, c1 - c0
    steps = max(rows, cols)
    t = np.arange(steps) / max(steps - 1, 1)
    r = r0 + np.round(t * (rows - 1)).astype(int)
    c = np.round(t * (cols - 1)).astype(int)
    mask[r, c0 + c] = True
    mask[r, c1 - 1 - c] = True


def off_note(off, what: str = "channels") -> str:
    """Caption text listing the units switched off ('' when none).

    >>> off_note((3, 5))
    'switched off (crossed out): channels 3, 5'
    """
    if not off:
        return ""
    listed = ", ".join(str(u) for u in off[:12]) + (", \u2026" if len(off) > 12 else "")
    return f"switched off (crossed out): {what} {listed}"
