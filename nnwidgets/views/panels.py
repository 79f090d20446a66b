"""Small drawing blocks shared by the views: a picture panel, bars and a stats line."""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as W
import numpy as np

from ..compute.display import Matrix, integer_ticks, nice_ticks
from ..compute.imaging import (
    colorbar_html,
    css_gradient,
    decimate_minmax,
    encode_png,
    finite_range,
    to_rgb,
)

GAP_COLOR = (128, 128, 128)
MARGIN = {"top": 48, "bottom": 50, "left": 60, "right": 20}
#: Figure titles in px (bqplot's default, "large", clips a layer name and a shape)
TITLE_PX = 14
#: Width of a title character in px: a digit of DejaVu Sans, the widest common sans
TITLE_CHAR_PX = 0.56 * TITLE_PX
#: Width of a tick label character in px, and the room kept between two labels
TICK_CHAR_PX, TICK_GAP_PX, TICK_ROW_PX = 7.0, 14.0, 22.0
#: Bounds of a picture's plot area height in px
PLOT_HEIGHT = (140, 420)
#: Characters kept of a layer name shortened in a title
MIN_NAME = 12


def figure(title: str, marks, axes, width: str = "420px", height: str = "360px") -> bq.Figure:
    """A bqplot figure with room for axis labels and a title font that fits a card."""
    return bq.Figure(
        title=title,
        title_style={"font-size": f"{TITLE_PX}px"},
        marks=marks,
        axes=axes,
        fig_margin=MARGIN,
        layout=W.Layout(width=width, height=height),
        padding_x=0,
        padding_y=0,
    )


def title_chars(width: str | int) -> int:
    """How many title characters fit a figure ``width`` wide: bqplot centres the title
    over the plot area, so it has the plot's width plus twice the narrower margin.

    >>> title_chars("420px")
    48
    """
    plot = int(str(width).removesuffix("px")) - MARGIN["left"] - MARGIN["right"]
    return int((plot + 2 * min(MARGIN["left"], MARGIN["right"])) // TITLE_CHAR_PX)


def ellipsize(text: str, limit: int) -> str:
    """``text`` in at most ``limit`` characters, cut in the middle (layer names carry
    their kind at the start and their number or role at the end).

    >>> ellipsize("block_16_expand_relu", 12)
    'block_…_relu'
    """
    if len(text) <= limit:
        return text
    if limit <= 1:
        return "\u2026"[:limit]
    head = limit // 2
    tail = limit - 1 - head
    return text[:head] + "\u2026" + (text[-tail:] if tail else "")


def fit_title(name: str, *details: str, limit: int = 48) -> str:
    """``"name: detail"`` in at most ``limit`` characters.

    ``details`` go from the fullest to the shortest; the first that fits with the
    whole name wins. Otherwise the shortest is kept and the name is cut in the middle
    (to no fewer than :data:`MIN_NAME` characters); only then is the whole cut.

    >>> fit_title("block_16_expand_relu", "output (3, 3, 960) for input 0, channel 12",
    ...           "output (3, 3, 960), channel 12", limit=48)
    'block_16…nd_relu: output (3, 3, 960), channel 12'
    """
    for detail in details:
        if len(f"{name}: {detail}") <= limit:
            return f"{name}: {detail}"
    detail = details[-1] if details else ""
    room = max(limit - len(detail) - 2, MIN_NAME)
    return ellipsize(f"{ellipsize(name, room)}: {detail}", limit)


def axis_ticks(lo: float, hi: float, length: float, integer: bool, vertical=False) -> np.ndarray:
    """Round tick values within ``lo``..``hi`` whose labels do not overlap on an axis
    ``length`` px long; only integers (distinct, a step of at least 1) when ``integer``.

    >>> axis_ticks(0, 2, 340, integer=True).tolist()
    [0, 1, 2]
    """
    ticks = np.zeros(0)
    for n in range(8, 0, -1):
        if integer:
            ticks = integer_ticks(lo, hi, n)
        else:
            ticks = nice_ticks(lo, hi, n)
            ticks = ticks[(ticks >= lo - 1e-9 * (hi - lo)) & (ticks <= hi + 1e-9 * (hi - lo))]
        if len(ticks) * _tick_room(ticks, integer, vertical) <= length:
            break
    return ticks


def _tick_room(ticks: np.ndarray, integer: bool, vertical: bool) -> float:
    if vertical:
        return TICK_ROW_PX
    labels = [f"{int(t)}" if integer else f"{t:,.3g}" for t in ticks] or [""]
    return max(len(label) for label in labels) * TICK_CHAR_PX + TICK_GAP_PX


def _integral(a: np.ndarray) -> bool:
    return bool(a.size) and bool(np.all(a == np.round(a)))


def colorbar(cmap: str, lo: float, hi: float, caption: str = "") -> str:
    """HTML for a horizontal colour bar with its range."""
    return colorbar_html(css_gradient(cmap), lo, hi, caption)


def stats_html(s: dict) -> str:
    """One line of summary statistics, with NaN / Inf flagged."""
    parts = [f"shape {s['shape']}"]
    for key in ("min", "max", "mean", "std"):
        parts.append(f"{key} {s[key]:.4g}")
    text = " \u00b7 ".join(parts)
    if s["nan"] or s["inf"]:
        text += (
            f' \u00b7 <b style="color:#d0021b">\u26a0 {s["nan"]} NaN, {s["inf"]} Inf'
            " (shown in magenta)</b>"
        )
    return f'<div style="font-size:12px">{text}</div>'


class PicturePanel:
    """A bqplot ``Image`` mark showing a :class:`Matrix` as a colour-mapped PNG.

    The picture is never bigger than :data:`nnwidgets.compute.display.MAX_PICTURE` cells.
    Pictures of maps (``Matrix.keep_aspect``) are drawn with square cells, centred in
    the plot when the figure's height bounds would stretch them. The axes count whole
    units (pixels, channels, steps): their ticks are distinct integers.
    """

    def __init__(self, title: str, width: str = "420px", height: str = "360px"):
        # the scales follow the Image mark's extent (no scale message per redraw),
        # except around a picture kept square, where they are padded
        self.x_scale = bq.LinearScale(allow_padding=False)
        self.y_scale = bq.LinearScale(allow_padding=False, reverse=True)
        self.x_axis = bq.Axis(scale=self.x_scale, label="", tick_format="d", tick_values=[0])
        self.y_axis = bq.Axis(
            scale=self.y_scale, label="", orientation="vertical", tick_format="d", tick_values=[0]
        )
        # bqplot's Image mark redraws only when given another Image widget: two widgets
        # take turns, so a redraw opens and closes no widget in the browser.
        layout = W.Layout()
        blank = encode_png(np.zeros((1, 1, 3), np.uint8))
        self._images = [W.Image(value=blank, format="png", layout=layout) for _ in range(2)]
        self.mark = bq.Image(image=self._images[0], scales={"x": self.x_scale, "y": self.y_scale})
        self.figure = figure(title, [self.mark], [self.x_axis, self.y_axis], width, height)
        self.width = int(width.removesuffix("px"))
        self.title_chars = title_chars(width)
        self.bar = W.HTML()
        self.png_bytes = 0

    def show(
        self,
        m: Matrix,
        cmap: str,
        symmetric: bool = False,
        caption: str = "",
        footer: str = "",
        marked=None,
    ) -> None:
        """Draw ``m``; the colour range covers its finite values. ``footer`` (HTML) goes
        under the colour bar, in the same message. ``marked``, ``(mask, (r, g, b))``
        with a boolean mask of ``m.values``' shape, paints those cells in that colour
        (units switched off are crossed out so)."""
        lo, hi = finite_range(m.values, symmetric=symmetric)
        rgb = to_rgb(m.values, lo, hi, cmap)
        if m.gap is not None:
            rgb[m.gap] = GAP_COLOR
        if marked is not None:
            rgb[marked[0]] = marked[1]
        png = encode_png(rgb)
        self.png_bytes = len(png)
        w, h = m.size
        spare = self._images[1] if self.mark.image is self._images[0] else self._images[0]
        spare.value = png
        with self.mark.hold_sync():
            self.mark.image = spare
            self.mark.x, self.mark.y = (0, w), (h, 0)
        plot_h, xs, ys, (used_w, used_h) = self._layout(m)
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = xs
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = ys
        self._axes(m, used_w, used_h)
        self.figure.layout.height = f"{plot_h + MARGIN['top'] + MARGIN['bottom']}px"
        self.bar.value = (
            colorbar(cmap, lo, hi, " ".join(x for x in (caption, m.note) if x)) + footer
        )

    def _axes(self, m: Matrix, used_w: float, used_h: float) -> None:
        self.x_axis.visible = self.y_axis.visible = m.axes
        if not m.axes:
            return
        w, h = m.size
        with self.x_axis.hold_sync():
            self.x_axis.label = m.x_label
            self.x_axis.tick_values = axis_ticks(0, w, used_w, integer=True)
        with self.y_axis.hold_sync():
            self.y_axis.label = m.y_label
            self.y_axis.tick_values = axis_ticks(0, h, used_h, integer=True, vertical=True)

    def _layout(self, m: Matrix) -> tuple:
        """Plot height (px), x and y scale bounds (None: the mark's extent) and the px
        the picture covers: cells about square within :data:`PLOT_HEIGHT`, and exactly
        square for ``m.keep_aspect`` (the scales padded around the picture)."""
        rows, cols = m.values.shape
        plot_w = self.width - MARGIN["left"] - MARGIN["right"]
        ideal = plot_w * rows / max(cols, 1)
        plot_h = int(min(max(ideal, PLOT_HEIGHT[0]), PLOT_HEIGHT[1]))
        if not m.keep_aspect or abs(plot_h - ideal) < 1:
            return plot_h, (None, None), (None, None), (plot_w, plot_h)
        cell = min(plot_w / max(cols, 1), plot_h / max(rows, 1))
        w, h = m.size
        xs = _padded(w, plot_w / (cols * cell))
        ys = _padded(h, plot_h / (rows * cell))
        return plot_h, xs, ys, (cols * cell, rows * cell)


def _padded(extent: float, factor: float) -> tuple[float, float]:
    """Scale bounds that show ``0..extent`` centred in ``factor`` times its room."""
    pad = extent * (factor - 1) / 2
    return (-pad, extent + pad) if pad > 1e-9 * extent else (None, None)


class BarPanel:
    """A bar chart for short vectors that becomes a min/max line for long ones.

    Bars grow from zero (``base=0``) up or down; the y scale always includes 0, ends
    on round ticks and spans both signs when the values do (all zero: -1..1, with the
    zero line in the middle). An axis whose values are all whole numbers (channel,
    unit, count) gets distinct integer ticks; tick labels never overlap.
    """

    MAX_BARS = 128

    def __init__(self, title: str, x_label: str, y_label: str, width="420px", height="260px"):
        self.x_scale = bq.LinearScale(allow_padding=False)
        self.y_scale = bq.LinearScale(allow_padding=False)
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.bars = bq.Bars(
            x=[0.0], y=[0.0], scales=scales, padding=0.1, base=0.0, colors=["#4c78a8"]
        )
        self.line = bq.Lines(x=[0.0], y=[0.0], scales=scales, colors=["#4c78a8"], visible=False)
        axes = [
            bq.Axis(scale=self.x_scale, label=x_label, tick_format=",.3~g"),
            bq.Axis(
                scale=self.y_scale,
                label=y_label,
                orientation="vertical",
                tick_format=",.4~g",
            ),
        ]
        self.x_axis, self.y_axis = axes
        self.figure = figure(title, [self.bars, self.line], axes, width, height)
        self.title_chars = title_chars(width)
        self.plot_size = (
            int(width.removesuffix("px")) - MARGIN["left"] - MARGIN["right"],
            int(height.removesuffix("px")) - MARGIN["top"] - MARGIN["bottom"],
        )

    def show(self, x: np.ndarray, y: np.ndarray) -> None:
        """Draw ``y`` over increasing ``x``; NaN and Inf are drawn as zero (the stats
        flag them)."""
        x = np.asarray(x, dtype=np.float64).reshape(-1)
        y = np.asarray(y, dtype=np.float64).reshape(-1)
        y = np.where(np.isfinite(y), y, 0.0)
        if len(y) == 0 or len(x) != len(y) or not np.isfinite(x).all():
            x, y = np.zeros(1), np.zeros(1)
        self._y_axis(y)
        if len(y) <= self.MAX_BARS:
            half = (x[1] - x[0]) / 2 if len(x) > 1 else 0.5
            self._x_axis(x, float(x[0] - half), float(x[-1] + half))  # whole end bars
            if len(x) == 1:  # bqplot sizes bars by their spacing: a lone bar is 1 px
                x, y = x[0] + np.array([-1.0, 0.0, 1.0]), np.array([0.0, y[0], 0.0])
            with self.bars.hold_sync():
                self.bars.x, self.bars.y, self.bars.visible = x, y, True
            self.line.visible = False
        else:
            idx, yy = decimate_minmax(y, 1000)
            self._x_axis(x, float(x[0]), float(x[-1]))
            with self.line.hold_sync():
                self.line.x, self.line.y, self.line.visible = x[idx], yy, True
            self.bars.visible = False

    def _y_axis(self, y: np.ndarray) -> None:
        """A y scale from round ticks around 0 and the values (the hidden mark's old
        data must not stretch it: bqplot counts hidden marks in a scale's domain)."""
        lo, hi = value_range(y)
        integer = _integral(y)
        ticks = nice_ticks(lo, hi, 5, integer=integer)
        if len(ticks) < 2:
            ticks = np.array([lo, hi])
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = float(ticks[0]), float(ticks[-1])
        with self.y_axis.hold_sync():
            self.y_axis.tick_format = "d" if integer else ",.4~g"
            self.y_axis.tick_values = ticks

    def _x_axis(self, x: np.ndarray, lo: float, hi: float) -> None:
        integer = _integral(x)
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = lo, hi
        with self.x_axis.hold_sync():
            self.x_axis.tick_format = "d" if integer else ",.3~g"
            self.x_axis.tick_values = axis_ticks(lo, hi, self.plot_size[0], integer)


def value_range(y: np.ndarray) -> tuple[float, float]:
    """The range a bar chart of ``y`` shows: it includes 0, and is -1..1 when every
    value is 0 (NaN and Inf are left out).

    >>> value_range(np.array([-3.0, -1.0])), value_range(np.zeros(2))
    ((-3.0, 0.0), (-1.0, 1.0))
    """
    y = np.asarray(y, dtype=np.float64)
    y = y[np.isfinite(y)]
    lo = min(0.0, float(y.min())) if y.size else 0.0
    hi = max(0.0, float(y.max())) if y.size else 0.0
    return (lo, hi) if hi > lo else (-1.0, 1.0)


def status_html(text: str, error: bool = False, busy: bool = False) -> str:
    # (#b35900 reads at 4.9:1 on white and above 3:1 on a dark theme)
    color = "#d0021b" if error else "#b35900" if busy else "inherit"
    return f'<div style="font-size:12px;color:{color}">{html.escape(text)}</div>'


def close_tree(widget, seen: set | None = None) -> None:
    """Close a widget and every widget it holds (kernel and browser side)."""
    seen = set() if seen is None else seen
    if id(widget) in seen:
        return
    seen.add(id(widget))
    for name in widget.keys:
        for child in _widgets_in(getattr(widget, name, None)):
            close_tree(child, seen)
    widget.close()


def _widgets_in(value) -> list:
    if isinstance(value, W.Widget):
        return [value]
    if isinstance(value, dict):
        value = list(value.values())
    if isinstance(value, (list, tuple)):
        return [v for v in value if isinstance(v, W.Widget)]
    return []
