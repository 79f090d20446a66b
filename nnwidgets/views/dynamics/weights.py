"""The selected layer's weight distribution over time, as TensorBoard draws it."""

from __future__ import annotations

import bqplot as bq
import ipywidgets as W
import numpy as np
from traitlets import Unicode

from ... import dynamics as _dyn
from ..panels import figure, status_html
from .base import DynamicsView
from .charts import OTHERS, PICKED

#: Band pairs of :data:`nnwidgets.dynamics.BAND_BPS` (outer first) and their opacity.
BANDS = ((0, 8, 0.15), (1, 7, 0.25), (2, 6, 0.35), (3, 5, 0.5))


class WeightDistribution(DynamicsView):
    """One weight of the selected layer over time: TensorBoard's distribution bands
    (min–max, ±1.5σ, ±σ, ±σ/2 percentiles of a normal, the median as a line), and its
    histogram at the step shown beside the first one recorded.

    Attributes
    ----------
    variable : str
        The weight shown (a path such as ``sequential/dense/kernel``); a new layer
        shows its first weight.
    bands : numpy.ndarray
        The percentiles drawn: a row per step, a column per basis point (read-only).
    """

    variable = Unicode("", help="The weight shown (its path).")

    def build(self) -> tuple:
        self.choice = W.Dropdown(description="weight", layout=W.Layout(width="430px"))
        self.choice.observe(self._on_choice, names="value")
        x, y = bq.LinearScale(allow_padding=False), bq.LinearScale()
        scales = {"x": x, "y": y}
        self.fills = [
            bq.Lines(
                x=[],
                y=[],
                scales=scales,
                fill="between",
                colors=[OTHERS],
                fill_colors=[OTHERS],
                fill_opacities=[alpha],
                opacities=[0.0],
            )
            for *_, alpha in BANDS
        ]
        self.median = bq.Lines(x=[], y=[], scales=scales, colors=[OTHERS], stroke_width=1.5)
        axes = [
            bq.Axis(scale=x, label="step (batches)", tick_format="~s"),
            bq.Axis(scale=y, label="value", orientation="vertical", tick_format=".2~g"),
        ]
        self.over_time = figure(
            "Weights over time", [*self.fills, self.median], axes, "440px", "300px"
        )
        hx, hy = bq.LinearScale(), bq.LinearScale(min=0.0)
        self.first = bq.Lines(
            x=[], y=[], scales={"x": hx, "y": hy}, colors=["gray"], line_style="dashed"
        )
        self.now = bq.Lines(x=[], y=[], scales={"x": hx, "y": hy}, colors=[PICKED], stroke_width=2)
        haxes = [
            bq.Axis(scale=hx, label="value", tick_format=".2~g"),
            bq.Axis(scale=hy, label="count", orientation="vertical", tick_format="~s"),
        ]
        self.histogram = figure("Histogram", [self.first, self.now], haxes, "440px", "260px")
        self.bands = np.empty((0, len(_dyn.BAND_BPS)))
        self.observe(self._option_changed, names="variable")
        self.add_class("nnw-weight-bands")
        return (self.choice, self.message, self.over_time, self.histogram)

    def _on_choice(self, change) -> None:
        if self.from_user and change["new"]:
            self.variable = change["new"]

    def render(self) -> None:
        items = self.log.items()
        paths = self._paths(items)
        if not paths:
            layer = self.state.layer
            text = self.waiting() if not items else f"{layer} has no weights to follow"
            self.message.value = status_html(text)
            return
        if self.variable not in paths:
            self.variable = paths[0]  # (its observer draws again)
            return
        with self.syncing(), self.choice.hold_sync():
            self.choice.options, self.choice.value = paths, self.variable
        steps, bands = self._bands(items)
        self.bands = bands
        self._draw_bands(steps, bands)
        self._draw_histogram(items)
        bad = items[-1][1].histograms.get(self.variable, (None, None, 0))[2]
        if bad:  # the bands cover the finite values only: say so, in red
            text = f"\u26a0 {bad:,} NaN / Inf values in {self.variable} at step {items[-1][0]}"
            self.message.value = status_html(text, error=True)
        else:
            self.message.value = status_html(self._caption(steps, bands))

    def _paths(self, items) -> list[str]:
        """The recorded weights of the selected layer (a container: its sublayers')."""
        if not items:
            return []
        layer = self.state.layer_info().layer
        mine = {v.path for v in _dyn.layer_parameters_of(layer)}
        return [p for p in items[-1][1].histograms if p in mine]

    def _bands(self, items) -> tuple[np.ndarray, np.ndarray]:
        rows, steps = [], []
        for step, rec in items:
            if self.variable in rec.histograms:
                steps.append(step)
                rows.append(_dyn.percentiles(*rec.histograms[self.variable][:2]))
        return np.array(steps, dtype=np.float64), np.array(rows).reshape(len(rows), -1)

    def _draw_bands(self, steps: np.ndarray, bands: np.ndarray) -> None:
        for mark, (lo, hi, _) in zip(self.fills, BANDS, strict=True):
            with mark.hold_sync():
                mark.x, mark.y = steps, np.vstack([bands[:, lo], bands[:, hi]])
        with self.median.hold_sync():
            self.median.x, self.median.y = steps, bands[:, 4]
        self.over_time.title = f"{self.variable.split('/', 1)[-1]} over time"

    def _draw_histogram(self, items) -> None:
        found = self.log.at(self.recorder.step)
        first = next(
            rec.histograms[self.variable] for _, rec in items if self.variable in rec.histograms
        )
        now = found[1].histograms.get(self.variable, first)
        for mark, (edges, counts, _) in ((self.first, first), (self.now, now)):
            centres = (np.asarray(edges[:-1]) + np.asarray(edges[1:])) / 2
            with mark.hold_sync():
                mark.x, mark.y = centres, np.asarray(counts, dtype=np.float64)
        self.histogram.title = f"Histogram at step {found[0]} (dashed: first record)"

    def _caption(self, steps, bands) -> str:
        if len(steps) < 2:
            return f"{self.variable}: one record so far"
        spread0, spread1 = bands[0, 6] - bands[0, 2], bands[-1, 6] - bands[-1, 2]
        return (
            f"{self.variable}: median {bands[0, 4]:.3g} \u2192 {bands[-1, 4]:.3g}, "
            f"\u00b1\u03c3 spread {spread0:.3g} \u2192 {spread1:.3g} (steps {steps[0]:.0f}\u2013{steps[-1]:.0f})"
        )
