"""One input sample drawn for what it is: a picture, words, lines or a table."""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as W
import numpy as np

from ..compute.display import nice_ticks
from ..compute.imaging import encode_png, finite_range, to_rgb, upscale_nearest
from ..compute.tokens import tokens_html

#: Lines drawn at most for a sequence (one per feature).
MAX_LINES = 8
#: Points per line sent at most (min/max decimation beyond).
MAX_POINTS = 1000
#: Rows of a table shown at most.
MAX_ROWS = 24
LINE_COLORS = [
    "#4c78a8",
    "#f58518",
    "#54a24b",
    "#e45756",
    "#72b7b2",
    "#b279a2",
    "#ff9da6",
    "#9d755d",
]


def sample_picture(x: np.ndarray) -> np.ndarray | None:
    """An image sample as an ``(h, w)`` or ``(h, w, 3)`` uint8 picture, or None when
    it is not an image (vectors, token ids).

    ``(h, w)`` and ``(h, w, 1|3|4)`` arrays are pictures; uint8 keeps 0..255, other
    dtypes are scaled to their finite range.

    >>> sample_picture(np.zeros((8, 8, 1))).shape
    (8, 8, 3)
    >>> sample_picture(np.arange(5)) is None
    True
    """
    x = np.asarray(x)
    if x.ndim == 3 and x.shape[-1] in (1, 3, 4):
        x = x[..., 0] if x.shape[-1] == 1 else x[..., :3]
    elif x.ndim != 2:
        return None
    if x.dtype == np.uint8:
        lo, hi = 0.0, 255.0
    else:
        lo, hi = finite_range(x)
    if x.ndim == 3:
        with np.errstate(all="ignore"):
            scaled = np.clip((np.nan_to_num(x.astype(np.float64)) - lo) / (hi - lo) * 255, 0, 255)
        return scaled.astype(np.uint8)
    return to_rgb(x, lo, hi, "gray")


def picture_png(x: np.ndarray, size: int) -> bytes:
    """An image sample as PNG bytes, its small side scaled up to about ``size``."""
    return encode_png(upscale_nearest(sample_picture(x), size))


def table_html(values, names=None, limit: int = MAX_ROWS) -> str:
    """Labelled values as a two-column table (first ``limit`` rows)."""
    flat = np.asarray(values).reshape(-1)
    rows = []
    for i, v in enumerate(flat[:limit]):
        name = names[i] if names is not None and i < len(names) else f"[{i}]"
        text = f"{v:.4g}" if np.asarray(v).dtype.kind == "f" else str(v)
        bad = not np.isfinite(float(v))
        style = ' style="color:#d0021b;font-weight:bold"' if bad else ""
        rows.append(
            f'<tr><td style="padding:0 10px 0 0;opacity:.8">{html.escape(str(name))}</td>'
            f'<td style="text-align:right"{style}>{html.escape(text)}</td></tr>'
        )
    more = ""
    if flat.size > limit:
        more = f'<div style="opacity:.6">\u2026 {flat.size - limit} more values</div>'
    return (
        '<div class="nnw-table" style="font-size:12px;max-height:220px;overflow-y:auto">'
        f'<table style="border-collapse:collapse">{"".join(rows)}</table>{more}</div>'
    )


def envelope(a: np.ndarray, max_points: int) -> tuple[np.ndarray, np.ndarray]:
    """``(steps, features)`` cut to at most ``max_points`` rows keeping each bucket's
    min and max of every feature, on one shared x (so several lines can share it).

    >>> x, y = envelope(np.r_[np.zeros(999), 5.0][:, None], 10)
    >>> float(y.max()), len(x) <= 10
    (5.0, True)
    """
    steps, n = a.shape
    if steps <= max_points:
        return np.arange(steps, dtype=np.float64), a
    k = -(-steps // max(max_points // 2, 1))
    rows = -(-steps // k)
    padded = np.concatenate([a, np.repeat(a[-1:], rows * k - steps, axis=0)]).reshape(rows, k, n)
    lo, hi = padded.min(axis=1), padded.max(axis=1)
    x = (np.arange(rows)[:, None] * k + np.array([0.0, k / 2])).reshape(-1)
    y = np.stack([lo, hi], axis=1).reshape(-1, n)
    return x, y


class SequenceLines:
    """A ``(steps, features)`` sample as lines, one per feature (the first few)."""

    def __init__(self, width: str = "360px", height: str = "200px"):
        self.x_scale = bq.LinearScale()
        self.y_scale = bq.LinearScale()
        self.lines = bq.Lines(
            x=np.zeros(1),
            y=np.zeros(1),
            scales={"x": self.x_scale, "y": self.y_scale},
            colors=LINE_COLORS,
            stroke_width=1.5,
        )
        self.x_axis = bq.Axis(scale=self.x_scale, label="step", tick_format="d")
        self.y_axis = bq.Axis(scale=self.y_scale, orientation="vertical", tick_format=".3~g")
        self.figure = bq.Figure(
            marks=[self.lines],
            axes=[self.x_axis, self.y_axis],
            fig_margin={"top": 10, "bottom": 36, "left": 50, "right": 10},
            layout=W.Layout(width=width, height=height),
            legend_location="top-right",
        )
        #: how many features were drawn
        self.features = 0

    def show(self, a: np.ndarray, names=None) -> str:
        """Draw ``a`` (``(steps,)`` or ``(steps, features)``); return a note."""
        a = np.asarray(a, dtype=np.float64)
        a = a[:, None] if a.ndim == 1 else a.reshape(a.shape[0], -1)
        steps, n = a.shape
        shown = min(n, MAX_LINES)
        xs, ys = envelope(np.nan_to_num(a[:, :shown]), MAX_POINTS)
        labels = [
            str(names[j]) if names is not None and j < len(names) else f"feature {j}"
            for j in range(shown)
        ]
        ticks = nice_ticks(0, max(steps - 1, 1), 6)
        self.x_axis.tick_values = ticks[(ticks >= 0) & (ticks <= steps - 1)].astype(int)
        with self.lines.hold_sync():
            self.lines.x = xs
            self.lines.y = ys.T if shown > 1 else ys[:, 0]
            self.lines.labels = labels
            self.lines.display_legend = 1 < shown <= 4
        self.features = shown
        note = f"{steps} steps \u00d7 {n} features"
        if shown < n:
            note += f" (first {shown} drawn)"
        return note


class SampleDisplay:
    """Draws one input sample for its kind; ``widget`` is what to lay out.

    ``shown`` says how it was drawn: ``"image"``, ``"tokens"``, ``"sequence"``,
    ``"tabular"`` or ``"values"``.
    """

    def __init__(self, picture_size: int = 128):
        self.picture_size = picture_size
        self.title = W.HTML()
        self.image = W.Image(
            format="png", layout=W.Layout(width="160px", height="160px", border="1px solid #888")
        )
        self.image.add_class("nnw-input-image")
        self.html = W.HTML()
        self.note = W.HTML()
        self._lines: SequenceLines | None = None
        self.widget = W.VBox([self.title, self.image, self.html, self.note])
        self.shown = ""

    @property
    def lines(self) -> SequenceLines:
        if self._lines is None:
            self._lines = SequenceLines()
            children = list(self.widget.children)
            self.widget.children = [*children[:3], self._lines.figure, children[3]]
        return self._lines

    def show(self, sample, kind: str, title: str = "", vocabulary=None, names=None) -> None:
        sample = np.asarray(sample)
        self.title.value = (
            f'<div style="font-size:12px;opacity:.8">{html.escape(title)}</div>' if title else ""
        )
        picture = sample_picture(sample) if kind == "image" else None
        shown = "image" if picture is not None else kind
        if kind == "image" and picture is None:
            shown = "values"
        note = ""
        if shown == "image":
            self.image.value = encode_png(upscale_nearest(picture, self.picture_size))
        elif shown == "tokens":
            self.html.value = tokens_html(sample, vocabulary)
            real = int(np.sum(sample != 0))
            note = f"{real} tokens of {sample.size} positions"
        elif shown == "sequence" and sample.ndim in (1, 2):
            note = self.lines.show(sample, names)
        else:
            shown = "tabular" if kind == "tabular" else "values"
            self.html.value = table_html(sample, names)
        bad = int(np.sum(~np.isfinite(sample.astype(np.float64)))) if sample.size else 0
        if bad:
            note += f' <b style="color:#d0021b">\u26a0 {bad} NaN/Inf values</b>'
        self.note.value = f'<div style="font-size:11px;opacity:.75">{note}</div>' if note else ""
        self.image.layout.display = None if shown == "image" else "none"
        self.html.layout.display = None if shown in ("tokens", "tabular", "values") else "none"
        if self._lines is not None or shown == "sequence":
            self.lines.figure.layout.display = None if shown == "sequence" else "none"
        self.shown = shown
