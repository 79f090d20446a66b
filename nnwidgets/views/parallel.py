"""ParallelCoordinates: training runs as lines across their hyperparameters and a
metric, with brushing (drag along an axis to keep the runs inside a range).

One vertical axis per hyperparameter, left to right, and the metric last; each run is a
line through its values, coloured by the metric (a sequential scale, viridis). Numeric
axes are linear, or logarithmic when every value is positive and they span two decades
or more (learning rates); strings and booleans get evenly spaced categories; a run
without a value sits in an "n/a" slot under the axis.

Everything is worked out here, in Python (:func:`parallel_axes`, :func:`passing`); the
page (``static/parallel.js``, plain SVG, no library, no network) only draws, and sends
back the ranges brushed, in data units.
"""

from __future__ import annotations

import math
import pathlib
from numbers import Real

import anywidget
import ipywidgets as W
import numpy as np
import pandas as pd
from traitlets import Dict, Int, List, TraitError, Tuple, Unicode, observe, validate

from .training.curves import RUN_COLORS

_STATIC = pathlib.Path(__file__).parent / "static"

__all__ = ["ParallelCoordinates", "parallel_axes", "passing", "metric_color", "VIRIDIS"]

#: matplotlib's viridis at 0, 0.1, ... 1.
VIRIDIS = (
    "#440154",
    "#482475",
    "#414487",
    "#355f8d",
    "#2a788e",
    "#21918c",
    "#22a884",
    "#44bf70",
    "#7ad151",
    "#bddf26",
    "#fde725",
)
#: The part of viridis used: its darkest purple is lost on a dark page, its yellow on a
#: light one.
SCALE_SPAN = (0.15, 0.9)
#: A run without a metric value.
NO_METRIC_COLOR = "#8a8f98"
#: Lines when no metric is given.
PLAIN_COLOR = RUN_COLORS[0][0]
#: A numeric axis is logarithmic when all its values are > 0 and max / min >= this.
LOG_RATIO = 100.0


class ParallelCanvas(anywidget.AnyWidget):
    """The drawing in the page (see ``static/parallel.js``). It sends ``{"brush": key,
    "range": [lo, hi] | [category, ...] | None}`` messages when an axis is brushed."""

    _esm = _STATIC / "parallel.js"
    axes = List().tag(sync=True)
    lines = List().tag(sync=True)
    ranges = Dict().tag(sync=True)  # as drawn: clipped to the axes' domains
    legend = Dict().tag(sync=True)
    note = Unicode("").tag(sync=True)
    height_px = Int(260).tag(sync=True)


# -- pure parts -----------------------------------------------------------------------
def _missing(value) -> bool:
    if value is None:
        return True
    try:
        return bool(pd.isna(value))
    except (TypeError, ValueError):  # a list or the like: a value, if an odd one
        return False


def _is_number(value) -> bool:
    return isinstance(value, Real) and not isinstance(value, (bool, np.bool_))


def _kind(series: pd.Series) -> str:
    """ "num" for numbers (NaN allowed), "cat" for strings, booleans and mixtures."""
    if pd.api.types.is_bool_dtype(series.dtype):
        return "cat"
    if pd.api.types.is_numeric_dtype(series.dtype):
        return "num"
    present = [v for v in series.tolist() if not _missing(v)]
    return "num" if all(_is_number(v) for v in present) else "cat"


def _numbers(series: pd.Series) -> np.ndarray:
    """A numeric column as floats, NaN where missing."""
    return np.array([np.nan if _missing(v) else float(v) for v in series.tolist()], dtype=float)


def _category(value) -> str:
    if isinstance(value, (bool, np.bool_)):
        return str(bool(value))
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def _categories(series: pd.Series) -> list[str]:
    present = {_category(v) for v in series.tolist() if not _missing(v)}

    def key(c):  # False before True, numbers by value, then text (case-insensitive)
        try:
            return (0, float(c), "")
        except ValueError:
            return (1, 0.0, c.lower())

    if present <= {"False", "True"}:
        return sorted(present)
    return sorted(present, key=key)


def _check_frame(frame) -> pd.DataFrame:
    if not isinstance(frame, pd.DataFrame):
        raise ValueError(f"expected a pandas DataFrame of runs; got {type(frame).__name__}")
    if "run" not in frame.columns:
        raise ValueError(
            "the frame has no 'run' column (one row per run, named in 'run'); its columns: "
            + ", ".join(map(str, frame.columns))
        )
    return frame


def _check_columns(frame: pd.DataFrame, columns, what="column") -> None:
    for c in columns:
        if c not in frame.columns or c == "run":
            raise ValueError(
                f"{what} {c!r} is not in the frame; its columns: "
                + ", ".join(str(k) for k in frame.columns if k != "run")
            )


def _nice_step(span: float, count: int = 5) -> float:
    raw = span / max(count, 1)
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 2.5, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


def _label(value: float) -> str:
    if not math.isfinite(value):
        return str(value)
    if value == 0:
        return "0"
    a = abs(value)
    if a >= 1e5 or a < 1e-3:
        mantissa, exponent = f"{value:.2e}".split("e")
        mantissa = mantissa.rstrip("0").rstrip(".")
        return f"{mantissa}e{int(exponent)}"
    return f"{value:.4g}"


def _ticks(lo: float, hi: float, log: bool) -> list[list]:
    """``[position 0..1, label]`` of an axis' ticks; an end far from any tick is labelled
    too (at three significant digits)."""
    out = _round_ticks(lo, hi, log)
    for t, v in ((0.0, lo), (1.0, hi)):
        if all(abs(t - p) > 0.1 for p, _ in out):
            out.append([t, _label(float(f"{v:.3g}"))])
    return sorted(out)


def _round_ticks(lo: float, hi: float, log: bool) -> list[list]:
    if log:
        a, b = math.log10(lo), math.log10(hi)
        out = []
        for e in range(math.ceil(a - 1e-9), math.floor(b + 1e-9) + 1):
            out.append([round((e - a) / (b - a), 6), _label(10.0**e)])
        return out
    step = _nice_step(hi - lo)
    first = math.ceil(lo / step - 1e-9) * step
    out, k = [], 0
    while first + k * step <= hi + step * 1e-9 and k < 50:
        v = first + k * step
        v = 0.0 if abs(v) < step * 1e-9 else v
        out.append([round((v - lo) / (hi - lo), 6), _label(round(v, 12))])
        k += 1
    return out


def _axis(frame: pd.DataFrame, key: str, metric: bool) -> dict:
    series = frame[key]
    kind = _kind(series)
    axis = {"key": str(key), "title": str(key), "kind": kind, "log": False, "metric": metric}
    if kind == "cat":
        values = _categories(series)
        axis["values"] = values
        n = len(values)
        axis["ticks"] = [[0.5 if n == 1 else i / (n - 1), v] for i, v in enumerate(values)]
        missing = sum(_missing(v) for v in series.tolist())
    else:
        x = _numbers(series)
        finite = x[np.isfinite(x)]
        missing = int(len(x) - len(finite))
        if len(finite) == 0:
            lo, hi = 0.0, 1.0
        else:
            lo, hi = float(finite.min()), float(finite.max())
        axis["extent"] = [lo, hi] if len(finite) else []
        log = bool(len(finite) and lo > 0 and hi / lo >= LOG_RATIO)
        if hi == lo:  # one value: still an axis, the value in the middle
            pad = abs(lo) * 0.5 or 1.0
            ticks = [[0.5, _label(lo)]]
            lo, hi = lo - pad, hi + pad
        else:
            ticks = _ticks(lo, hi, log)
        axis.update(domain=[lo, hi], log=log, ticks=ticks)
    axis["missing"] = int(missing)
    return axis


def parallel_axes(frame: pd.DataFrame, columns, metric: str | None) -> list[dict]:
    """The axes to draw: one per column, left to right, then the metric's.

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per run; a "run" column names them.
    columns : list of str
        The hyperparameters, left to right (the metric is left out if among them).
    metric : str or None
        The last axis, the one colouring the lines.

    Returns
    -------
    list of dict
        ``{"key", "title", "kind": "num" | "cat", "log": bool, "metric": bool,
        "missing": int}`` plus, for a numeric axis, ``"domain": [lo, hi]`` (in data
        units; one value gets a domain around it) and for a categorical one ``"values"``
        (the categories, bottom to top); ``"ticks"``: ``[position 0..1, label]`` pairs.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"run": ["a", "b", "c"], "lr": [1e-4, 1e-3, 1e-1],
    ...                       "optimizer": ["sgd", "adam", "adam"], "loss": [0.5, 0.2, 0.9]})
    >>> [(a["key"], a["kind"], a["log"]) for a in parallel_axes(frame, ["lr", "optimizer"], "loss")]
    [('lr', 'num', True), ('optimizer', 'cat', False), ('loss', 'num', False)]
    >>> parallel_axes(frame, ["optimizer"], None)[0]["values"]
    ['adam', 'sgd']
    """
    frame = _check_frame(frame)
    columns = [c for c in dict.fromkeys(columns) if c != metric]
    _check_columns(frame, columns)
    if metric is not None:
        _check_columns(frame, [metric], "metric")
    axes = [_axis(frame, c, False) for c in columns]
    if metric is not None:
        axes.append(_axis(frame, metric, True))
    return axes


def _normalised(frame: pd.DataFrame, axis: dict) -> np.ndarray:
    """A column's values at 0..1 along its axis, NaN where missing (the "n/a" slot)."""
    series = frame[axis["key"]]
    if axis["kind"] == "cat":
        values = axis["values"]
        n = len(values)
        where = {v: (0.5 if n == 1 else i / (n - 1)) for i, v in enumerate(values)}
        return np.array(
            [np.nan if _missing(v) else where[_category(v)] for v in series.tolist()], dtype=float
        )
    x = _numbers(series)
    x[~np.isfinite(x)] = np.nan
    lo, hi = axis["domain"]
    if axis["log"]:
        with np.errstate(divide="ignore", invalid="ignore"):
            return (np.log(x) - math.log(lo)) / (math.log(hi) - math.log(lo))
    return (x - lo) / (hi - lo)


def _check_range(key, kind: str | None, value) -> list:
    """A range as kept: ``[lo, hi]`` (sorted floats) or a list of category strings."""
    if not isinstance(value, (list, tuple)):
        raise TraitError(
            f"range of {key!r}: expected [lo, hi] or a list of categories; got {value!r}"
        )
    numeric = len(value) == 2 and all(_is_number(v) for v in value)
    if kind == "num" or (kind is None and numeric):
        if not numeric or any(math.isnan(float(v)) for v in value):
            raise TraitError(f"range of numeric axis {key!r}: expected [lo, hi]; got {value!r}")
        lo, hi = sorted(float(v) for v in value)
        return [lo, hi]
    if not all(isinstance(v, str) for v in value):
        raise TraitError(
            f"range of categorical axis {key!r}: expected category names; got {value!r}"
        )
    return list(value)


def passing(frame: pd.DataFrame, ranges: dict) -> list[str]:
    """The runs whose values lie in every range (in the frame's order).

    Parameters
    ----------
    frame : pandas.DataFrame
        One row per run; a "run" column names them.
    ranges : dict
        Column -> ``[lo, hi]`` (a numeric column, both ends included, in data units) or
        a list of categories (strings; booleans as "True" / "False"). A missing value
        (NaN, None) is in no range. ``{}``: every run passes.

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"run": ["a", "b", "c"], "lr": [1e-4, 1e-3, float("nan")],
    ...                       "optimizer": ["sgd", "adam", "adam"]})
    >>> passing(frame, {"lr": [5e-5, 5e-3]})
    ['a', 'b']
    >>> passing(frame, {"lr": [5e-5, 5e-3], "optimizer": ["adam"]})
    ['b']
    """
    frame = _check_frame(frame)
    if not isinstance(ranges, dict):
        raise ValueError(f"ranges must be a dict; got {type(ranges).__name__}")
    _check_columns(frame, list(ranges), "range column")
    keep = np.ones(len(frame), dtype=bool)
    for key, value in ranges.items():
        series = frame[key]
        kind = _kind(series)
        try:
            value = _check_range(key, kind, value)
        except TraitError as e:
            raise ValueError(str(e)) from None
        if kind == "num":
            x = _numbers(series)
            with np.errstate(invalid="ignore"):
                keep &= (x >= value[0]) & (x <= value[1])  # NaN fails both
        else:
            allowed = set(value)
            keep &= np.array([not _missing(v) and _category(v) in allowed for v in series.tolist()])
    return [str(r) for r in frame["run"][keep].tolist()]


def _hex(rgb) -> str:
    return "#" + "".join(f"{round(min(max(c, 0), 255)):02x}" for c in rgb)


def metric_color(t: float) -> str:
    """The colour of a run whose metric sits at ``t`` (0: lowest, 1: highest) on the
    metric's axis: viridis, within :data:`SCALE_SPAN`.

    >>> metric_color(0.0), metric_color(1.0)
    ('#44347e', '#bddf26')
    """
    if t is None or not math.isfinite(t):
        return NO_METRIC_COLOR
    t = min(max(float(t), 0.0), 1.0)
    u = (SCALE_SPAN[0] + t * (SCALE_SPAN[1] - SCALE_SPAN[0])) * (len(VIRIDIS) - 1)
    i = min(int(u), len(VIRIDIS) - 2)
    f = u - i
    a = [int(VIRIDIS[i][k : k + 2], 16) for k in (1, 3, 5)]
    b = [int(VIRIDIS[i + 1][k : k + 2], 16) for k in (1, 3, 5)]
    return _hex([x + (y - x) * f for x, y in zip(a, b, strict=True)])


# -- the widget -----------------------------------------------------------------------
class ParallelCoordinates(W.VBox):
    """Training runs as lines across parallel axes: hyperparameters left to right, the
    metric last, lines coloured by the metric. Drag along an axis to keep the runs in a
    range (the others turn grey); click an axis to let go of its range.

    Parameters
    ----------
    height : int
        Height of the drawing in pixels (it is as wide as its container).
    max_lines : int
        At most this many lines are sent to the page: the runs passing first, then a
        sample of the others (``note`` says so).

    Attributes
    ----------
    ranges : dict
        Axis key -> ``[lo, hi]`` (numeric axis, data units) or list of categories; set
        by brushing in the page, or here. ``{}``: no filter.
    passing : tuple of str
        The runs (not hidden) inside every range.
    axes, lines : tuple of dict
        What is drawn (see :func:`parallel_axes`); a line is ``{"id", "values" (0..1, or
        None for "n/a"), "color", "dim", "hidden", "tip"}``.
    note : str
        What the drawing says about itself ("3 of 12 runs in the brushed ranges").

    Examples
    --------
    >>> import pandas as pd
    >>> frame = pd.DataFrame({"run": ["a", "b", "c"], "lr": [1e-4, 1e-3, 1e-2],
    ...                       "optimizer": ["sgd", "adam", "adam"],
    ...                       "val_loss": [0.9, 0.3, 0.5]})
    >>> pc = ParallelCoordinates(height=260)
    >>> pc.show(frame, columns=["lr", "optimizer"], metric="val_loss")
    >>> [a["key"] for a in pc.axes], pc.passing
    (['lr', 'optimizer', 'val_loss'], ('a', 'b', 'c'))
    >>> pc.ranges = {"optimizer": ["adam"], "val_loss": [0.0, 0.4]}
    >>> pc.passing, pc.note
    (('b',), '1 of 3 runs in the brushed ranges')
    >>> pc.close()
    """

    height = Int(260, min=120, max=4000, help="Height of the drawing in pixels.")
    max_lines = Int(2000, min=1, help="At most this many lines are drawn.")
    ranges = Dict(help="Axis key -> [lo, hi] or list of categories; {}: no filter.")
    passing = Tuple(read_only=True, help="The runs inside every range.")
    axes = Tuple(read_only=True, help="The axes as drawn.")
    lines = Tuple(read_only=True, help="The lines as drawn.")
    note = Unicode("", read_only=True, help="What the drawing says about itself.")

    def __init__(self, **kwargs):
        self.frame: pd.DataFrame | None = None
        self.columns: list[str] = []
        self.metric: str | None = None
        self.hidden: frozenset = frozenset()
        self._norm: np.ndarray = np.zeros((0, 0))
        self._runs: list[str] = []
        self._tips: list[str] = []
        self._colors: list[str] = []
        self.canvas = ParallelCanvas(layout=W.Layout(width="100%", min_width="0"))
        super().__init__(**kwargs)
        self.canvas.height_px = self.height
        self.canvas.on_msg(self._on_message)
        self.layout.width, self.layout.min_width = "100%", "0"
        self.children = (self.canvas,)
        self._say("nothing shown yet")

    # -- showing runs -------------------------------------------------------------
    def show(self, frame: pd.DataFrame, columns=None, metric: str | None = None, hidden=()):
        """Draw ``frame``'s runs.

        Parameters
        ----------
        frame : pandas.DataFrame
            A "run" column (unique names) and a column per hyperparameter and metric
            (numbers, strings, booleans; NaN / None where a run has none).
        columns : list of str, optional
            The hyperparameter axes, left to right (default: every column but "run" and
            the metric).
        metric : str, optional
            The last axis; it colours the lines (without one they are all alike).
        hidden : collection of str
            Runs switched off elsewhere: drawn very faint, never passing.

        Raises
        ------
        ValueError
            No "run" column, repeated run names, or a column or metric not in the
            frame; what was shown stays.
        """
        frame = _check_frame(frame)
        if metric is not None:
            _check_columns(frame, [metric], "metric")
        if columns is None:
            columns = [c for c in frame.columns if c not in ("run", metric)]
        elif isinstance(columns, str):
            columns = [columns]
        columns = [c for c in dict.fromkeys(columns) if c != metric]
        _check_columns(frame, columns)
        runs = [str(r) for r in frame["run"].tolist()]
        if len(set(runs)) != len(runs):
            twice = sorted({r for r in runs if runs.count(r) > 1})
            raise ValueError("run names repeat in the frame: " + ", ".join(twice[:5]))
        frame = frame.reset_index(drop=True).assign(run=runs)
        axes = parallel_axes(frame, columns, metric)
        norm = (
            np.column_stack([_normalised(frame, a) for a in axes])
            if axes
            else np.zeros((len(frame), 0))
        )
        if metric is not None:
            colors = [metric_color(t) for t in norm[:, -1]]
        else:
            colors = [PLAIN_COLOR] * len(frame)
        tips = _tips(frame, axes)
        kept = {}  # ranges on axes still drawn, of the same kind
        by_key = {a["key"]: a for a in axes}
        for key, value in self.ranges.items():
            axis = by_key.get(key)
            if axis is not None:
                try:
                    kept[key] = _check_range(key, axis["kind"], value)
                except TraitError:
                    pass
        # all checked: now change what is shown
        self.frame, self.columns, self.metric = frame, list(columns), metric
        self.hidden = frozenset(str(h) for h in hidden or ())
        self._runs, self._norm, self._colors, self._tips = runs, norm, colors, tips
        self.set_trait("axes", tuple(axes))
        self._legend = _legend(axes[-1]) if metric is not None else {}
        self._quiet = True
        try:
            self.ranges = kept
        finally:
            self._quiet = False
        self._refresh()

    _quiet = False
    _legend: dict = {}

    @validate("ranges")
    def _check_ranges(self, proposal):
        value = proposal["value"]
        by_key = {a["key"]: a for a in self.axes}
        out = {}
        for key, r in value.items():
            if by_key and key not in by_key:
                raise TraitError(f"ranges: {key!r} is not an axis; the axes: " + ", ".join(by_key))
            axis = by_key.get(key)
            out[key] = _check_range(key, axis["kind"] if axis else None, r)
        return out

    @observe("ranges", "max_lines")
    def _on_ranges(self, change) -> None:
        if not self._quiet:
            self._refresh()

    @observe("height")
    def _on_height(self, change) -> None:
        self.canvas.height_px = change["new"]

    def _refresh(self) -> None:
        """Work out the passing runs and the lines, and send them to the page."""
        if self.frame is None:
            return
        n = len(self._runs)
        hidden = np.array([r in self.hidden for r in self._runs], dtype=bool)
        if self.ranges:
            inside = set(passing(self.frame, self.ranges))
            ok = np.array([r in inside for r in self._runs], dtype=bool) & ~hidden
        else:
            ok = ~hidden
        runs = tuple(r for r, k in zip(self._runs, ok, strict=True) if k)
        order = _pick(ok, hidden, self.max_lines)
        lines = []
        for i in order:
            values = [None if math.isnan(v) else round(float(v), 6) for v in self._norm[i]]
            lines.append(
                {
                    "id": self._runs[i],
                    "values": values,
                    "color": self._colors[i],
                    "dim": not bool(ok[i]),
                    "hidden": bool(hidden[i]),
                    "tip": self._tips[i],
                }
            )
        self.set_trait("passing", runs)
        self.set_trait("lines", tuple(lines))
        shown = n - int(hidden.sum())
        if not self.columns:
            note = "no hyperparameters logged"
        elif n == 0:
            note = "no runs"
        elif self.ranges:
            note = f"{len(runs):,} of {shown:,} runs in the brushed ranges"
        else:
            note = f"{shown:,} runs" if shown != 1 else "1 run"
        if int(hidden.sum()):
            note += f" ({int(hidden.sum()):,} hidden)"
        if len(order) < n:
            note += f"; drawing {len(order):,} of {n:,} lines" + (
                " (the passing ones first, then a sample)" if self.ranges else " (a sample)"
            )
        self._say(note)

    def _say(self, note: str) -> None:
        self.set_trait("note", note)
        by_key = {a["key"]: a for a in self.axes}
        shown = {}
        for key, r in self.ranges.items():  # as drawn: within the axis (no infinities)
            axis = by_key.get(key)
            if axis and axis["kind"] == "num":
                lo, hi = axis["domain"]
                shown[key] = [min(max(r[0], lo), hi), min(max(r[1], lo), hi)]
            elif axis:
                shown[key] = list(r)
        with self.canvas.hold_sync():
            self.canvas.axes = list(self.axes)
            self.canvas.lines = list(self.lines)
            self.canvas.ranges = shown
            self.canvas.legend = dict(self._legend)
            self.canvas.note = note
            self.canvas.height_px = self.height

    # -- from the page --------------------------------------------------------------
    def _on_message(self, _widget, content, _buffers) -> None:
        """``{"brush": key, "range": [...] or None}``: an axis brushed (or let go)."""
        if not isinstance(content, dict) or "brush" not in content:
            return
        key = content["brush"]
        ranges = {k: v for k, v in self.ranges.items() if k != key}
        if content.get("range") is not None:
            ranges[key] = content["range"]
        try:
            self.ranges = ranges
        except TraitError:
            self._say(self.note)  # the page draws what holds

    def close(self) -> None:
        canvas = getattr(self, "canvas", None)
        if canvas is not None:
            canvas.close()
        super().close()


def _pick(ok: np.ndarray, hidden: np.ndarray, cap: int) -> list[int]:
    """Which rows to draw (at most ``cap``), in drawing order: hidden, then grey, then
    passing (on top). Over the cap: the passing first, then a sample of the others."""
    n = len(ok)
    idx = np.arange(n)
    groups = [idx[ok], idx[~ok & ~hidden], idx[hidden]]  # by priority
    if n > cap:
        rng = np.random.default_rng(0)
        room, chosen = cap, []
        for g in groups:
            take = g if len(g) <= room else np.sort(rng.choice(g, room, replace=False))
            chosen.append(take)
            room -= len(take)
        groups = chosen
    return [int(i) for g in reversed(groups) for i in g]


def _tips(frame: pd.DataFrame, axes: list[dict]) -> list[str]:
    """Hover text of each run: its name and values."""
    columns = [frame["run"].tolist()]
    for axis in axes:
        key, kind = axis["key"], axis["kind"]
        texts = [
            "n/a" if _missing(v) else (_category(v) if kind == "cat" else _label(float(v)))
            for v in frame[key].tolist()
        ]
        columns.append([f"{key}: {t}" for t in texts])
    return ["\n".join(parts) for parts in zip(*columns, strict=True)]


def _legend(axis: dict) -> dict:
    stops = [metric_color(t / 8) for t in range(9)]
    if axis["kind"] == "cat":
        values = axis["values"]
        low, high = (values[0], values[-1]) if values else ("", "")
    else:
        low, high = (_label(v) for v in axis["extent"]) if axis["extent"] else ("", "")
    return {"title": axis["title"], "min": low, "max": high, "stops": stops, "log": axis["log"]}
