"""The parts of the attribution view: a map over a picture, lines over a heat strip,
coloured tokens, bars per feature, and the thread that computes maps in the background."""

from __future__ import annotations

import threading

import bqplot as bq
import ipywidgets as W
import numpy as np

from ..compute import overlay as V
from ..compute.display import nice_ticks
from ..compute.imaging import encode_png, upscale_nearest
from .panels import TITLE_PX, BarPanel, status_html
from .samples import LINE_COLORS, MAX_LINES, MAX_POINTS, envelope

#: Smallest side of an overlay picture in px (an 8×8 digit is scaled up, sharp).
PICTURE_SIDE = 192
#: The overlay's plot area: its width, and its height's bounds (px).
PLOT_WIDTH, PLOT_HEIGHT = 300, (120, 420)
MARGIN = {"top": 30, "bottom": 8, "left": 8, "right": 8}


class _Swap:
    """A bqplot ``Image`` mark fed PNGs: two ``ipywidgets.Image`` take turns (the mark
    redraws only when given another widget; none is opened per redraw)."""

    def __init__(self, scales):
        blank = encode_png(np.zeros((1, 1, 3), np.uint8))
        self.images = [W.Image(value=blank, format="png") for _ in range(2)]
        self.mark = bq.Image(image=self.images[0], scales=scales)

    def show(self, png: bytes, x: tuple, y: tuple) -> None:
        spare = self.images[1] if self.mark.image is self.images[0] else self.images[0]
        spare.value = png
        with self.mark.hold_sync():
            self.mark.image = spare
            self.mark.x, self.mark.y = x, y


class OverlayPanel:
    """A picture (the map blended over the input) in a bqplot figure, pixels kept."""

    def __init__(self):
        self.x_scale = bq.LinearScale(allow_padding=False)
        self.y_scale = bq.LinearScale(allow_padding=False, reverse=True)
        self.swap = _Swap({"x": self.x_scale, "y": self.y_scale})
        self.figure = bq.Figure(
            marks=[self.swap.mark],
            axes=[],
            fig_margin=MARGIN,
            padding_x=0,
            padding_y=0,
            title_style={"font-size": f"{TITLE_PX}px"},
            layout=W.Layout(width=f"{PLOT_WIDTH + 16}px", height=f"{PLOT_WIDTH + 38}px"),
        )
        self.figure.add_class("nnw-attribution-picture")
        self.widget = self.figure
        #: the PNG drawn last
        self.png = b""

    def show(self, rgb: np.ndarray, title: str) -> None:
        """Draw ``rgb`` (``(h, w, 3)`` uint8), scaled up to :data:`PICTURE_SIDE`."""
        h, w = rgb.shape[:2]
        self.png = encode_png(upscale_nearest(rgb, PICTURE_SIDE))
        self.swap.show(self.png, (0, w), (h, 0))
        plot_h = int(min(max(PLOT_WIDTH * h / max(w, 1), PLOT_HEIGHT[0]), PLOT_HEIGHT[1]))
        self.figure.title = title
        self.figure.layout.height = f"{plot_h + MARGIN['top'] + MARGIN['bottom']}px"


class StripPanel:
    """A sequence's lines (a few features) over a heat strip of one value per step."""

    def __init__(self):
        self.x_scale = bq.LinearScale(allow_padding=False)
        self.y_scale = bq.LinearScale(allow_padding=False)
        scales = {"x": self.x_scale, "y": self.y_scale}
        self.swap = _Swap(scales)
        self.lines = bq.Lines(
            x=np.zeros(1), y=np.zeros(1), scales=scales, colors=LINE_COLORS, stroke_width=1.5
        )
        self.x_axis = bq.Axis(scale=self.x_scale, label="step", tick_format="d")
        y_axis = bq.Axis(scale=self.y_scale, orientation="vertical", tick_format=".3~g")
        self.figure = bq.Figure(
            marks=[self.swap.mark, self.lines],
            axes=[self.x_axis, y_axis],
            fig_margin={"top": 30, "bottom": 40, "left": 50, "right": 12},
            title_style={"font-size": f"{TITLE_PX}px"},
            layout=W.Layout(width="460px", height="260px"),
        )
        self.figure.add_class("nnw-attribution-sequence")
        self.widget = self.figure

    def show(self, x: np.ndarray, values: np.ndarray, diverging: bool, title: str):
        """Draw ``x`` (``(steps, features)``) and ``values`` (one per step) under it;
        return the strip's range and colour map."""
        steps, n = x.shape
        shown = min(n, MAX_LINES)
        xs, ys = envelope(np.nan_to_num(x[:, :shown]), MAX_POINTS)
        lo, hi = float(ys.min()), float(ys.max())
        span = hi - lo if hi > lo else 1.0
        bottom, top = lo - 0.32 * span, lo - 0.08 * span
        rgb, vlo, vhi, cmap = V.strip(values, diverging)
        self.swap.show(encode_png(rgb), (0, max(steps - 1, 1)), (bottom, top))
        with self.y_scale.hold_sync():
            self.y_scale.min, self.y_scale.max = bottom, hi + 0.05 * span
        with self.x_scale.hold_sync():
            self.x_scale.min, self.x_scale.max = 0.0, float(max(steps - 1, 1))
        ticks = nice_ticks(0, max(steps - 1, 1), 6)
        self.x_axis.tick_values = ticks[(ticks >= 0) & (ticks <= steps - 1)].astype(int)
        with self.lines.hold_sync():
            self.lines.x = xs
            self.lines.y = ys.T if shown > 1 else ys[:, 0]
        note = f" (first {shown} of {n} features)" if shown < n else ""
        self.figure.title = f"{title}: input over the map per step{note}"
        return vlo, vhi, cmap


class TokensPanel:
    """Tokens coloured by their attribution, and the strongest for and against."""

    def __init__(self):
        self.html, self.top = W.HTML(), W.HTML()
        self.widget = W.VBox([self.html, self.top])

    def show(self, ids: np.ndarray, values: np.ndarray, vocabulary=None) -> None:
        self.html.value = V.tokens_html(ids, values, vocabulary)
        keep = ids != 0
        words = [vocabulary(i) if vocabulary else str(int(i)) for i in ids[keep]]
        self.top.value = status_html(V.top_items(values[keep], words))


class FeaturesPanel:
    """One bar per feature, red for and blue against, and the strongest named."""

    def __init__(self):
        self.bars = BarPanel("", "feature", "attribution", width="440px", height="240px")
        self.top = W.HTML()
        self.widget = W.VBox([self.bars.figure, self.top])

    def show(self, values: np.ndarray, names, title: str) -> None:
        if names is None or len(names) != values.size:
            names = [f"[{i}]" for i in range(values.size)]
        self.bars.figure.title = title
        self.bars.show(np.arange(values.size), values)
        if self.bars.bars.visible:
            y = np.asarray(self.bars.bars.y, dtype=np.float64)
            red, blue = (f"rgb{tuple(c)}" for c in (V.FOR, V.AGAINST))
            self.bars.bars.colors = [red if v >= 0 else blue for v in y]
        self.top.value = status_html(V.top_items(values, names))


class Worker:
    """One background thread that runs the newest job handed to it (a job waiting
    when a newer one comes is dropped); ``idle()`` is called when none is left."""

    def __init__(self, run, idle):
        self._run, self._idle_call = run, idle
        self._lock = threading.Lock()
        self._next = None
        self._thread = None
        self._idle = threading.Event()
        self._idle.set()

    def submit(self, job) -> None:
        with self._lock:
            self._next = job
            self._idle.clear()
            if self._thread is None:
                # (not a daemon: TensorFlow stopped mid-computation at exit aborts)
                self._thread = threading.Thread(target=self._loop, name="nnwidgets-attribution")
                self._thread.start()

    def _loop(self) -> None:
        while True:
            with self._lock:
                job, self._next = self._next, None
                if job is None:
                    self._thread = None
                    break
            try:
                self._run(job)
            except Exception:  # noqa: BLE001 - the job shows its own errors; keep serving
                pass
        with self._lock:  # (a job submitted meanwhile has a thread of its own: not idle)
            idle = self._thread is None and self._next is None
        if idle:
            self._idle_call()
        with self._lock:
            if self._thread is None and self._next is None:
                self._idle.set()

    def cancel(self) -> None:
        """Drop the job waiting (the one running ends)."""
        with self._lock:
            self._next = None

    def wait(self, timeout=None) -> bool:
        """Wait until no job is left; return whether none is."""
        return self._idle.wait(timeout)


def display(widget, shown: bool) -> None:
    """Show or hide ``widget`` (no message when it already is)."""
    value = None if shown else "none"
    if widget.layout.display != value:
        widget.layout.display = value


def dropdown(description: str, css: str, width: str, handler) -> W.Dropdown:
    picker = W.Dropdown(description=description, layout=W.Layout(width=width))
    picker.style.description_width = "60px"
    picker.add_class(css)
    picker.observe(handler, names="value")
    return picker


def set_options(picker: W.Dropdown, options: list, value) -> None:
    """Set a dropdown's options and value in one message (nothing when unchanged)."""
    with picker.hold_sync():
        if [tuple(o) for o in picker.options] != options:
            picker.options = options
        if picker.value != value:
            picker.value = value
