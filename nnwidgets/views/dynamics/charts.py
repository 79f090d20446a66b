"""The figures of the training-dynamics views: a value per layer, values over steps.

Both are bounded by what a figure can show: a layer chart has one point per layer; an
over-time chart draws at most :data:`MAX_POINTS` points (other layers thinned first,
the selected layer always whole).
"""

from __future__ import annotations

import math

import bqplot as bq
import numpy as np

from ..panels import figure
from ..training.curves import BAD_COLOR

PICKED = "#e6550d"
OTHERS = "#4c78a8"
#: Points an over-time chart sends at most, every line together.
MAX_POINTS = 20_000
#: Layer names written under a layer chart at most (others: hover for the name).
MAX_LABELS = 24


def positive(values: np.ndarray) -> np.ndarray:
    """Values a log scale can draw: zeros, negatives and non-finite values become NaN
    (a gap); the views flag them in words and with crosses."""
    values = np.asarray(values, dtype=np.float64)
    return np.where(np.isfinite(values) & (values > 0), values, np.nan)


def log_range(values) -> tuple[float, float, list[float]]:
    """Bounds and ticks of a log axis over the positive finite ``values``: whole
    decades (at most 6 ticks) when they span two or more, else 1-2-5 steps.

    >>> log_range([0.002, 0.3])
    (0.001, 1.0, [0.001, 0.01, 0.1, 1.0])
    >>> log_range([0.6, 1.3])[2]
    [0.5, 1.0, 2.0]
    """
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v) & (v > 0)]
    if not v.size:
        return 0.1, 1.0, [0.1, 1.0]
    small, big = float(v.min()), float(v.max())
    if math.log10(big / small) >= 1.5:
        lo, hi = math.floor(math.log10(small)), math.ceil(math.log10(big))
        step = -(-(hi - lo) // 5)
        return 10.0**lo, 10.0**hi, [10.0**k for k in range(lo, hi + 1, step)]
    k0, k1 = math.floor(math.log10(small)), math.floor(math.log10(big))
    ticks = [float(f"{m}e{k}") for k in range(k0, k1 + 2) for m in (1, 2, 5)]
    low = max(t for t in ticks if t <= small * (1 + 1e-9))
    high = min(t for t in ticks if t >= big * (1 - 1e-9))
    if high <= low:
        high = ticks[ticks.index(low) + 1]
    return low, high, [t for t in ticks if low <= t <= high]


def set_log_axis(scale, axis, values) -> None:
    """Fit a log scale and its axis to ``values`` (round ticks that never crowd)."""
    lo, hi, ticks = log_range(values)
    with scale.hold_sync():
        scale.min, scale.max = lo, hi
    axis.tick_values = np.array(ticks)


class LayerChart:
    """One value per layer, clickable: points on a line (log scale) or bars.

    ``on_pick(name)`` is called when a person clicks a layer's point or bar; the picked
    layer is drawn in orange; NaN and Inf values are crosses at the top.
    """

    def __init__(self, title: str, y_label: str, log: bool, bars: bool, on_pick, width="440px"):
        self.names: list[str] = []
        self.log, self.bars, self.on_pick = log, bars, on_pick
        x = bq.OrdinalScale()
        y = bq.LogScale() if log else bq.LinearScale(min=0.0, max=1.0)
        self.scales = {"x": x, "y": y}
        tip = bq.Tooltip(fields=["x", "y"], formats=["", ".3~g"], labels=["layer", y_label])
        if bars:
            self.mark = bq.Bars(
                x=[], y=[], scales=self.scales, colors=[OTHERS], tooltip=tip, padding=0.2
            )
        else:
            self.line = bq.Lines(x=[], y=[], scales=self.scales, colors=[OTHERS], opacities=[0.5])
            self.mark = bq.Scatter(
                x=[], y=[], scales=self.scales, colors=[OTHERS], default_size=40, tooltip=tip
            )
        self.mark.selected_style = {"fill": PICKED, "stroke": PICKED}
        self.mark.interactions = {"click": "select"}
        self.mark.on_element_click(self._clicked)
        self.bad = bq.Scatter(
            x=[], y=[], scales=self.scales, marker="cross", colors=[BAD_COLOR], default_size=80
        )
        self.x_axis = bq.Axis(
            scale=x, label="layer", tick_rotate=-30, tick_style={"font-size": "10px"}
        )
        self.y_axis = bq.Axis(
            scale=y, label=y_label, orientation="vertical", tick_format=".0e" if log else ".0%"
        )
        marks = [self.line, self.mark, self.bad] if not bars else [self.mark, self.bad]
        self.figure = figure(title, marks, [self.x_axis, self.y_axis], width, "300px")

    line = None

    def _clicked(self, _mark, event) -> None:
        index = (event or {}).get("data", {}).get("index")
        if index is not None and 0 <= index < len(self.names):
            self.on_pick(self.names[index])

    def show(self, names: list[str], values: np.ndarray, picked: str) -> None:
        """Draw ``values`` (one per name) with ``picked`` highlighted."""
        values = np.asarray(values, dtype=np.float64)
        self.names = list(names)
        drawn = positive(values) if self.log else np.where(np.isfinite(values), values, np.nan)
        bad = ~np.isfinite(values)
        top = np.nanmax(drawn) if np.isfinite(drawn).any() else 1.0
        labels = np.array(self.names, dtype=object)
        with self.x_axis.hold_sync():
            step = max(1, -(-len(names) // MAX_LABELS))
            self.x_axis.tick_values = labels[::step].tolist()
            self.x_axis.tick_rotate = -30 if len(names) > 6 else 0
        if self.log:
            set_log_axis(self.scales["y"], self.y_axis, drawn)
        with self.mark.hold_sync():
            self.mark.x, self.mark.y = labels, drawn
            self.mark.selected = [self.names.index(picked)] if picked in self.names else None
        if self.line is not None:
            with self.line.hold_sync():
                self.line.x, self.line.y = labels, drawn
        with self.bad.hold_sync():
            self.bad.x, self.bad.y = labels[bad], np.full(int(bad.sum()), top)

    def pick(self, picked: str) -> None:
        """Highlight ``picked`` (no new data)."""
        self.mark.selected = [self.names.index(picked)] if picked in self.names else None


class StepChart:
    """Values over steps: every layer a thin line, the picked one in orange on top, a
    rule at the step shown, NaN and Inf as crosses, optional reference lines."""

    def __init__(self, title: str, y_label: str, log: bool = True, width="440px"):
        x = bq.LinearScale(allow_padding=False)
        y = bq.LogScale() if log else bq.LinearScale()
        self.scales = {"x": x, "y": y}
        self.log = log
        self.others = bq.Lines(
            x=[], y=[], scales=self.scales, colors=[OTHERS], opacities=[0.25], stroke_width=1
        )
        self.picked = bq.Lines(x=[], y=[], scales=self.scales, colors=[PICKED], stroke_width=2.5)
        self.rule = bq.Lines(
            x=[], y=[], scales=self.scales, colors=["gray"], line_style="dashed", stroke_width=1
        )
        self.refs = bq.Lines(
            x=[], y=[], scales=self.scales, colors=["#2ca02c"], line_style="dotted", stroke_width=1
        )
        self.bad = bq.Scatter(
            x=[], y=[], scales=self.scales, marker="cross", colors=[BAD_COLOR], default_size=60
        )
        axes = [
            bq.Axis(scale=x, label="step (batches)", tick_format="~s"),
            bq.Axis(
                scale=y,
                label=y_label,
                orientation="vertical",
                tick_format=".0e" if log else ".3~g",
            ),
        ]
        self.y_axis = axes[1]
        marks = [self.others, self.refs, self.picked, self.rule, self.bad]
        self.figure = figure(title, marks, axes, width, "300px")
        self.sent_points = 0

    def show(self, steps, matrix, names: list[str], picked: str, at: int | None, refs=()) -> None:
        """``matrix`` has a row per name and a column per step; ``at`` is the step ruled."""
        steps = np.asarray(steps, dtype=np.float64)
        matrix = np.asarray(matrix, dtype=np.float64).reshape(len(names), len(steps))
        draw = positive if self.log else (lambda v: np.where(np.isfinite(v), v, np.nan))
        rows = [i for i in range(len(names)) if names[i] != picked]
        keep = max(1, MAX_POINTS // max(len(steps), 1) - 1)
        rows = rows[:: max(1, -(-len(rows) // keep))] if rows else rows
        mine = names.index(picked) if picked in names else None
        shown = draw(matrix)
        with self.others.hold_sync():
            self.others.x = steps
            self.others.y = shown[rows] if rows else np.full((1, len(steps)), np.nan)
        with self.picked.hold_sync():
            self.picked.x = steps
            self.picked.y = shown[mine] if mine is not None else np.full(len(steps), np.nan)
        self.sent_points = len(steps) * (len(rows) + 1)
        finite = shown[np.isfinite(shown)]
        if self.log:
            lo, hi, _ = log_range(np.concatenate([finite, np.asarray(refs, float)]))
            set_log_axis(self.scales["y"], self.y_axis, [lo, hi])
        else:
            lo, hi = (finite.min(), finite.max()) if finite.size else (0.0, 1.0)
        self._rule(at, lo, hi, steps)
        self._refs(refs, steps)
        bad = ~np.isfinite(matrix)
        cols = np.nonzero(bad.any(axis=0))[0]
        with self.bad.hold_sync():
            self.bad.x, self.bad.y = steps[cols], np.full(len(cols), hi)

    def _rule(self, at, lo, hi, steps) -> None:
        if at is None or not len(steps):
            self.rule.x, self.rule.y = [], []
            return
        with self.rule.hold_sync():
            self.rule.x, self.rule.y = np.array([at, at], float), np.array([lo, hi], float)

    def _refs(self, refs, steps) -> None:
        if not refs or not len(steps):
            return
        with self.refs.hold_sync():
            self.refs.x = np.array([steps[0], steps[-1]])
            self.refs.y = np.array([[r, r] for r in refs], dtype=float)
