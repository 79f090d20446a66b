"""Small drawing blocks shared by the views: a picture panel, bars and a stats line."""

from __future__ import annotations

import html

import bqplot as bq
import ipywidgets as W
import numpy as np

from ..compute.display import Matrix, nice_ticks
from ..compute.imaging import css_gradient, encode_png, finite_range, to_rgb

GAP_COLOR = (128, 128, 128)
MARGIN = {"top": 48, "bottom": 50, "left": 60, "right": 20}


def figure(title: str, marks, axes, width: str = "420px", height: str = "360px") -> bq.Figure:
    """A bqplot figure with room for axis labels."""
    return bq.Figure(
        title=title,
        marks=marks,
        axes=axes,
        fig_margin=MARGIN,
        layout=W.Layout(width=width, height=height),
        padding_x=0,
        padding_y=0,
    )


def colorbar(cmap: str, lo: float, hi: float, caption: str = "") -> str:
    """HTML for a horizontal colour bar with its range."""
    bar = (
        f'<div style="height:10px;width:220px;background:{css_gradient(cmap)};'
        'border:1px solid #888"></div>'
    )
    return (
        '<div style="display:flex;align-items:center;gap:6px;font-size:12px">'
        f"<span>{lo:.3g}</span>{bar}<span>{hi:.3g}</span>"
        f'<span style="opacity:.75">{html.escape(caption)}</span></div>'
    )


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
    """

    def __init__(self, title: str, width: str = "420px", height: str = "360px"):
        # the scales follow the Image mark's extent: no scale message per redraw
        self.x_scale = bq.LinearScale(allow_padding=False)
        self.y_scale = bq.LinearScale(allow_padding=False, reverse=True)
        self.x_axis = bq.Axis(scale=self.x_scale, label="", num_ticks=5, tick_format="d")
        self.y_axis = bq.Axis(
            scale=self.y_scale, label="", orientation="vertical", num_ticks=5, tick_format="d"
        )
        # bqplot's Image mark redraws only when given another Image widget: two widgets
        # take turns, so a redraw opens and closes no widget in the browser.
        layout = W.Layout()
        blank = encode_png(np.zeros((1, 1, 3), np.uint8))
        self._images = [W.Image(value=blank, format="png", layout=layout) for _ in range(2)]
        self.mark = bq.Image(image=self._images[0], scales={"x": self.x_scale, "y": self.y_scale})
        self.figure = figure(title, [self.mark], [self.x_axis, self.y_axis], width, height)
        self.width = int(width.removesuffix("px"))
        self.bar = W.HTML()
        self.png_bytes = 0

    def show(
        self, m: Matrix, cmap: str, symmetric: bool = False, caption: str = "", footer: str = ""
    ) -> None:
        """Draw ``m``; the colour range covers its finite values. ``footer`` (HTML) goes
        under the colour bar, in the same message."""
        lo, hi = finite_range(m.values, symmetric=symmetric)
        rgb = to_rgb(m.values, lo, hi, cmap)
        if m.gap is not None:
            rgb[m.gap] = GAP_COLOR
        png = encode_png(rgb)
        self.png_bytes = len(png)
        w, h = m.size
        spare = self._images[1] if self.mark.image is self._images[0] else self._images[0]
        spare.value = png
        with self.mark.hold_sync():
            self.mark.image = spare
            self.mark.x, self.mark.y = (0, w), (h, 0)
        self.x_axis.label, self.y_axis.label = m.x_label, m.y_label
        self.x_axis.visible = self.y_axis.visible = m.axes
        self.figure.layout.height = f"{self._height_for(m)}px"
        self.bar.value = (
            colorbar(cmap, lo, hi, " ".join(x for x in (caption, m.note) if x)) + footer
        )

    def _height_for(self, m: Matrix) -> int:
        """A figure height that keeps picture cells about square (within bounds)."""
        rows, cols = m.values.shape
        plot_w = self.width - MARGIN["left"] - MARGIN["right"]
        plot_h = min(max(plot_w * rows / max(cols, 1), 140), 420)
        return int(plot_h + MARGIN["top"] + MARGIN["bottom"])


class BarPanel:
    """A bar chart for short vectors that becomes a min/max line for long ones."""

    MAX_BARS = 128

    def __init__(self, title: str, x_label: str, y_label: str, width="420px", height="260px"):
        self.x_scale = bq.LinearScale(allow_padding=False)
        self.y_scale = bq.LinearScale(allow_padding=False)
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.bars = bq.Bars(x=[0.0], y=[0.0], scales=scales, padding=0.1, colors=["#4c78a8"])
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

    def show(self, x: np.ndarray, y: np.ndarray) -> None:
        """Draw ``y`` over ``x``; NaN and Inf are drawn as zero (the stats flag them)."""
        from ..compute.imaging import decimate_minmax

        x = np.asarray(x, dtype=np.float64)
        y = np.where(np.isfinite(y), y, 0.0).astype(np.float64)
        if len(y) == 0 or len(x) != len(y):
            x, y = np.zeros(1), np.zeros(1)
        lo, hi = min(0.0, float(y.min())), max(0.0, float(y.max()))
        span = (hi - lo) * 1e-9
        ticks = nice_ticks(lo, hi, 5)  # round ticks within the data's own range
        self.y_axis.tick_values = ticks[(ticks >= lo - span) & (ticks <= hi + span)]
        span = (x[-1] - x[0]) * 1e-9
        ticks = nice_ticks(float(x[0]), float(x[-1]), 6)
        self.x_axis.tick_values = ticks[(ticks >= x[0] - span) & (ticks <= x[-1] + span)]
        if len(y) <= self.MAX_BARS:
            half = (x[1] - x[0]) / 2 if len(x) > 1 else 0.5
            with self.x_scale.hold_sync():  # whole bars at both ends
                self.x_scale.min, self.x_scale.max = float(x[0] - half), float(x[-1] + half)
            with self.bars.hold_sync():
                self.bars.x, self.bars.y, self.bars.visible = x, y, True
            self.line.visible = False
        else:
            idx, yy = decimate_minmax(y, 1000)
            with self.x_scale.hold_sync():
                self.x_scale.min, self.x_scale.max = float(x[0]), float(x[-1])
            with self.line.hold_sync():
                self.line.x, self.line.y, self.line.visible = x[idx], yy, True
            self.bars.visible = False


def status_html(text: str, error: bool = False, busy: bool = False) -> str:
    color = "#d0021b" if error else "#e08a00" if busy else "inherit"
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
