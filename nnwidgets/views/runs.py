"""RunComparison: training runs written anywhere (TensorBoard logs), followed live and
compared: curves of every run per tag, a table of hyperparameters and final metrics,
parallel coordinates that filter the runs shown everywhere.
"""

from __future__ import annotations

import math
import re
import threading

import ipywidgets as W
import numpy as np
from traitlets import Bool, Float, Int, TraitError, Tuple, Unicode, validate

from ..compute.imaging import decimate_minmax
from ..logs.follow import RunFollower
from ..training.metrics import ema
from .base import View
from .layer_table import TableCanvas
from .panels import close_tree, status_html
from .parallel import ParallelCoordinates
from .training.curves import mark_makers, new_figure, run_colors

#: Metrics preferred for colouring the parallel coordinates, in order.
PREFERRED = ("validation/epoch_loss", "val/epoch_loss", "epoch_loss", "validation/loss", "loss")
#: Keras 3's copies of the validation values at iteration steps (one per epoch value).
KERAS_COPIES = r"^evaluation_.*_vs_iterations$"
#: At most this many table rows go to the page.
MAX_ROWS = 1000


def tag_order(tag: str) -> tuple:
    """Epoch curves first, then batch curves, then the rest; by name within each."""
    rank = 0 if tag.startswith("epoch_") else 1 if tag.startswith("batch_") else 2
    return (rank, tag)


def final_values(follower: RunFollower, groups: dict, keep=None) -> dict[str, dict[str, float]]:
    """The last value of each (run, tag) not per batch, keyed by group then
    ``"sub/tag"`` (``"tag"`` for the group's own folder)."""
    reader = follower.reader
    out: dict[str, dict[str, float]] = {}
    for run, (group, sub, _) in groups.items():
        row = out.setdefault(group, {})
        for tag in reader.tags(run):
            if tag.startswith("batch_") or (keep is not None and not keep(tag)):
                continue
            _, values, _ = reader.series(run, tag)
            if len(values):
                row[f"{sub}/{tag}" if sub else tag] = float(values[-1])
    return out


class RunComparison(View):
    """Every run under a TensorBoard log folder, followed live and compared.

    Runs are written by anything: Keras' ``TensorBoard`` callback, ``tf.summary``,
    scripts on other machines (a shared folder, ``gs://`` or ``s3://``). A thread polls
    the folder every ``interval`` seconds, reading only what was appended; the notebook
    stays free. An experiment's ``train`` and ``validation`` folders are one run (its
    hyperparameters, from ``hp.KerasCallback`` or ``hp.hparams``, in its own folder).

    Shown: one figure per tag with every run overlaid (training in the run's colour,
    validation in its partner colour, as the live plot draws runs; smoothing, log y and
    min/max decimation as there); a table of runs with their hyperparameters and final
    values (click a title to sort, a row to hide or show the run); parallel coordinates
    of the hyperparameters against :attr:`metric`, where dragging along an axis keeps the
    runs inside the range in every part.

    Parameters
    ----------
    logdir : str or path
        The folder (it may not exist yet: the view waits for it).
    interval : float
        Seconds between polls.
    follow : bool
        Start following at once (else :meth:`reload` reads by hand).
    smoothing, log_y, max_points, max_runs, metric, hidden, exclude : options (see Attributes)

    Attributes
    ----------
    smoothing : float
        TensorBoard's moving-average weight (0 to 0.99); the raw curve stays, faint.
    log_y : bool
        Log scale for the values.
    max_points : int
        Points per curve sent to the page, at most (min/max decimation).
    max_runs : int
        Runs drawn in the figures, at most (the first in the table's order).
    metric : str
        What colours the parallel coordinates (a final value, e.g.
        ``"validation/epoch_loss"``; '' picks one).
    hidden : tuple of str
        Runs toggled off (drawn nowhere; greyed in the table).
    exclude : str
        A regular expression of tags not shown (default: Keras 3's
        ``evaluation_<m>_vs_iterations`` copies of the validation values; '' shows all).
    runs : tuple of str
        Every run (experiment) found, in the table's order (read-only).
    shown : tuple of str
        The runs drawn in the figures (read-only).
    tags : tuple of str
        The tags with a figure (read-only).

    Examples
    --------
    >>> import tempfile
    >>> from nnwidgets.logs import write_scalars, write_hparams
    >>> folder = tempfile.mkdtemp()
    >>> for lr in (0.1, 0.01):
    ...     _ = write_hparams(f"{folder}/lr={lr}", {"lr": lr})
    ...     _ = write_scalars(f"{folder}/lr={lr}/train", "epoch_loss", [0, 1], [1.0, lr])
    >>> runs = RunComparison(folder, follow=False)
    >>> _ = runs.reload()
    >>> runs.runs, runs.tags
    (('lr=0.01', 'lr=0.1'), ('epoch_loss',))
    >>> runs.scalars()["run"].unique().tolist()
    ['lr=0.01/train', 'lr=0.1/train']
    >>> runs.close()
    """

    follows = ("version",)

    smoothing = Float(0.0, min=0.0, max=0.99, help="Smoothing of the curves.").tag(option=True)
    log_y = Bool(False, help="Log scale for the values.").tag(option=True)
    max_points = Int(2000, min=10, max=100_000, help="Points per curve, at most.").tag(option=True)
    max_runs = Int(40, min=1, max=2000, help="Runs drawn in the figures, at most.").tag(option=True)
    metric = Unicode("", help="What colours the parallel coordinates.").tag(option=True)
    hidden = Tuple(help="Runs toggled off.").tag(option=True)
    exclude = Unicode(
        KERAS_COPIES, help="Tags not shown (a regular expression; '' shows every tag)."
    ).tag(option=True)
    runs = Tuple(read_only=True, help="Every run found, in the table's order.")
    shown = Tuple(read_only=True, help="The runs drawn in the figures.")
    tags = Tuple(read_only=True, help="The tags with a figure.")

    def __init__(self, logdir, interval: float = 2.0, follow: bool = True, **options):
        self.follower = RunFollower(logdir, interval=interval, start=False)
        self._lock = threading.RLock()  # polls draw from their thread, clicks from the kernel
        self._figures: dict[str, dict] = {}
        self._marks: dict[tuple[str, str], dict] = {}  # (run, tag) -> {"raw", "smooth"}
        self._drawn: dict[tuple[str, str], int] = {}  # (run, tag) -> points drawn from
        self._groups: dict[str, tuple[str, str, str]] = {}
        self._colors: dict[str, int] = {}  # group -> colour index (first seen, first)
        self._finals: dict[str, dict[str, float]] = {}
        self._hparams = None
        self._cursor = 0
        super().__init__(self.follower, **options)
        if follow:
            self.follower.start()

    # -- the follower's API, where a user looks for it -------------------------------
    @property
    def logdir(self) -> str:
        return self.follower.logdir

    @property
    def interval(self) -> float:
        return self.follower.interval

    @interval.setter
    def interval(self, value: float) -> None:
        self.follower.interval = value

    def reload(self):
        """Read what is new now (the thread does so every ``interval`` seconds); when it
        returns, everything read so far is drawn."""
        poll = self.follower.reload()
        self._on_followed({"name": "version", "new": self.follower.version})
        return poll

    def scalars(self):
        """Every scalar read so far: the frame of :func:`nnwidgets.logs.read_scalars`."""
        return self.follower.scalars()

    def hparams(self):
        """The hyperparameters read so far, one row per run folder that logged them."""
        return self.follower.hparams()

    def summary(self):
        """One row per run: hyperparameters, then final values (what the table and the
        parallel coordinates show), in the table's order."""
        import pandas as pd

        with self._lock:
            frame = self._frame()
        return frame if frame is not None else pd.DataFrame({"run": []})

    def close(self) -> None:
        """Stop following the folder and close every figure."""
        follower = getattr(self, "follower", None)  # None when __init__ failed
        if follower is not None:
            follower.stop()
        super().close()

    @validate("exclude")
    def _valid_exclude(self, proposal):
        try:
            self._exclude = re.compile(proposal["value"]) if proposal["value"] else None
        except re.error as err:
            raise TraitError(f"exclude must be a regular expression: {err}") from err
        return proposal["value"]

    _exclude = re.compile(KERAS_COPIES)

    def _keep(self, tag: str) -> bool:
        return self._exclude is None or not self._exclude.search(tag)

    @validate("hidden")
    def _valid_hidden(self, proposal):
        return tuple(str(run) for run in proposal["value"])

    # -- building --------------------------------------------------------------------
    def build(self) -> tuple:
        self.status = W.HTML()
        self.smoothing_box = W.FloatSlider(
            value=self.smoothing, min=0, max=0.99, step=0.01, description="smoothing"
        )
        self.log_box = W.Checkbox(value=self.log_y, description="log y", indent=False)
        self.metric_box = W.Dropdown(description="colour by", options=[""], value="")
        W.link((self, "smoothing"), (self.smoothing_box, "value"))
        W.link((self, "log_y"), (self.log_box, "value"))
        self.metric_box.observe(self._on_metric_box, names="value")
        self.reload_button = W.Button(description="Reload", tooltip="read what is new now")
        self.reload_button.on_click(lambda _b: self.reload())
        controls = W.HBox(
            [self.smoothing_box, self.log_box, self.metric_box, self.reload_button],
            layout=W.Layout(flex_flow="row wrap", gap="8px"),
        )
        self.legend = W.HTML()
        self.row = W.HBox(layout=W.Layout(flex_flow="row wrap"))
        self.table = TableCanvas(
            columns=[["color", "", False], ["run", "run", False]], rows=[], sort_by="run"
        )
        self.table.height_px = 260
        self.table.observe(self._on_table_click, names="selected")
        self.table.observe(self._on_sort, names=["sort_by", "descending"])
        self.parallel = ParallelCoordinates(height=260)
        self.parallel.observe(self._on_passing, names="passing")
        self.add_class("nnw-runs")
        bottom = W.HBox(
            [
                W.VBox(
                    [W.HTML("<b>Runs</b> (click a row to hide or show it)"), self.table],
                    layout=W.Layout(width="48%", min_width="0"),
                ),
                W.VBox(
                    [
                        W.HTML("<b>Hyperparameters</b> (drag along an axis to filter)"),
                        self.parallel,
                    ],
                    layout=W.Layout(width="52%", min_width="0", padding="0 0 0 12px"),
                ),
            ],
            layout=W.Layout(width="100%", gap="8px"),
        )
        return (self.status, controls, self.legend, self.row, bottom, self.message)

    # -- following ---------------------------------------------------------------------
    def on_state(self, change) -> None:
        with self._lock:  # the poll thread and reload() take the changes in turn
            polls, self._cursor = self.follower.changes_since(self._cursor)
            if polls == []:
                self._say()
                return
            if polls is None or any(p.removed or p.hparams or p.added for p in polls):
                self.draw()  # runs came, went or were regrouped: everything again
                return
            changed = set().union(*(p.changed for p in polls)) if polls else set()
            self._update_finals(changed)
            self._refresh_parts()
            self._draw_series(changed)
            self._say()

    def render(self) -> None:
        """Everything again, from what the follower has read."""
        with self._lock:
            self._regroup()
            self._update_finals(None)
            self._refresh_parts()
            self._drawn = {}
            self._draw_series(None)
            self._say()

    def _regroup(self) -> None:
        reader = self.follower.reader
        hparams = reader.hparams()
        self._hparams = hparams
        self._groups = self.follower.groups()
        for group in sorted({g for g, _, _ in self._groups.values()}):
            self._colors.setdefault(group, len(self._colors))
        alive = set(self._groups)
        for key in [k for k in self._marks if k[0] not in alive]:  # removed runs
            gone = list(self._marks.pop(key).values())
            fig = self._figures.get(key[1])
            if fig is not None:
                fig["figure"].marks = [m for m in fig["figure"].marks if m not in gone]
            for mark in gone:
                mark.close()
            self._drawn.pop(key, None)

    def _update_finals(self, changed) -> None:
        if changed is None:
            self._finals = final_values(self.follower, self._groups, self._keep)
            return
        runs = {run for run, _ in changed}
        if runs - set(self._groups):
            self._regroup()
        part = final_values(
            self.follower, {r: self._groups[r] for r in runs if r in self._groups}, self._keep
        )
        for group, values in part.items():
            self._finals[group] = {**self._finals.get(group, {}), **values}

    # -- the run frame: table and parallel coordinates ------------------------------------
    def _frame(self):
        import pandas as pd

        groups = sorted({g for g, _, _ in self._groups.values()})
        if not groups:
            return None
        rows = {g: {"run": g} for g in groups}
        names: list[str] = []
        if self._hparams is not None and len(self._hparams):
            names = [c for c in self._hparams.columns if c != "run"]
            for record in self._hparams.to_dict("records"):
                if record["run"] in rows:
                    rows[record["run"]].update({k: record[k] for k in names})
        metrics = sorted({k for v in self._finals.values() for k in v}, key=self._metric_rank)
        for group, values in self._finals.items():
            if group in rows:
                rows[group].update(values)
        frame = pd.DataFrame([rows[g] for g in groups], columns=["run", *names, *metrics])
        frame.attrs["hparams"], frame.attrs["metrics"] = names, metrics
        return self._sorted(frame)

    @staticmethod
    def _metric_rank(key: str) -> tuple:
        return (PREFERRED.index(key) if key in PREFERRED else len(PREFERRED), key)

    def _sorted(self, frame):
        key = self.table.sort_by
        if key not in frame.columns or key == "run":
            return frame.sort_values("run", ascending=not self.table.descending, kind="stable")
        by = frame[key]
        if by.dtype == object:
            by = by.astype(str)
        order = by.sort_values(
            ascending=not self.table.descending, kind="stable", na_position="last"
        )
        return frame.loc[order.index].reset_index(drop=True)

    def _refresh_parts(self) -> None:
        frame = self._frame()
        if frame is None:
            self.set_trait("runs", ())
            self.table.rows = []
            return
        self.set_trait("runs", tuple(frame["run"]))
        metrics = frame.attrs["metrics"]
        metric = self.metric if self.metric in metrics else (metrics[0] if metrics else "")
        self._setting = True  # the box follows the option, and says what is used
        try:
            if list(self.metric_box.options) != metrics:
                self.metric_box.options = metrics or [""]
            self.metric_box.value = metric
        finally:
            self._setting = False
        hidden = set(self.hidden)
        self.parallel.show(
            frame[["run", *frame.attrs["hparams"], *([metric] if metric else [])]],
            columns=frame.attrs["hparams"],
            metric=metric or None,
            hidden=hidden & set(frame["run"]),
        )
        self._fill_table(frame)

    def _fill_table(self, frame) -> None:
        passing = set(self.parallel.passing) | set(self.hidden)
        keep = frame[frame["run"].isin(passing)] if self.parallel.ranges else frame
        names, metrics = frame.attrs["hparams"], frame.attrs["metrics"]
        columns = [["color", "", False], ["run", "run", False]]
        for key in (*names, *metrics):
            numeric = (
                frame[key]
                .map(lambda v: isinstance(v, (int, float)) and not isinstance(v, bool))
                .all()
            )
            columns.append([key, key, bool(numeric)])
        hidden = set(self.hidden)
        rows = []
        for record in keep.head(MAX_ROWS).to_dict("records"):
            run = record["run"]
            train, _ = run_colors(self._colors.get(run, 0) + 1)
            cells = ["\u25cf" if run not in hidden else "\u25cb", run]
            warn = []
            finals = self._finals.get(run, {})
            for i, key in enumerate((*names, *metrics)):
                value = finals[key] if key in finals else record.get(key)
                cells.append(_cell(value, logged=key in finals))
                if key in finals and not math.isfinite(finals[key]):
                    warn.append(i + 2)  # a NaN or Inf the run logged: flagged
            rows.append(
                {"id": run, "cells": cells, "color": train, "dim": run in hidden, "warn": warn}
            )
        with self.table.hold_sync():
            self.table.columns = columns
            self.table.rows = rows

    # -- figures ---------------------------------------------------------------------------
    def _visible(self) -> list[str]:
        hidden = set(self.hidden)
        passing = set(self.parallel.passing) if self.parallel.ranges else None
        out = [g for g in self.runs if g not in hidden and (passing is None or g in passing)]
        return out[: self.max_runs]

    def _draw_series(self, changed) -> None:
        reader = self.follower.reader
        visible = self._visible()
        if tuple(visible) != self.shown or not self.legend.value:
            self.legend.value = _legend(visible, self._colors)
        self.set_trait("shown", tuple(visible))
        shown = set(visible)
        pairs = [(r, t) for r in self._groups for t in reader.tags(r) if self._keep(t)]
        tags = sorted({t for _, t in pairs}, key=tag_order)
        for tag in tags:
            if tag not in self._figures:
                self._new_figure(tag)
        shown_figures = tuple(self._figures[t]["figure"] for t in tags)
        if self.row.children != shown_figures:  # (a tag excluded since goes away)
            self.row.children = shown_figures
        self.set_trait("tags", tuple(tags))
        for key, marks in self._marks.items():  # what is no longer shown hides
            on = self._groups.get(key[0], ("",))[0] in shown
            for name, mark in marks.items():
                want = on and (name == "raw" or self.smoothing > 0)
                if mark.visible != want:
                    mark.visible = want
        for run, tag in pairs:
            if self._groups[run][0] not in shown:
                continue
            if changed is not None and (run, tag) not in changed and (run, tag) in self._marks:
                continue
            self._draw_one(run, tag)

    def _draw_one(self, run: str, tag: str) -> None:
        steps, values, _ = self.follower.reader.series(run, tag)
        keep = np.isfinite(values) & ((values > 0) if self.log_y else True)
        x, y = steps[keep].astype(np.float64), values[keep]
        marks = self._marks.get((run, tag)) or self._new_marks(run, tag)
        smooth = self.smoothing > 0
        self._set(marks["raw"], x, y)
        marks["raw"].opacities = [0.3 if smooth else 0.9]
        if smooth:
            self._set(marks["smooth"], x, ema(y, self.smoothing))
        self._drawn[(run, tag)] = len(values)
        if tag.startswith("epoch_") and len(x):
            self._whole_epochs(self._figures[tag], float(x.max()))

    @staticmethod
    def _whole_epochs(fig: dict, last: float) -> None:
        """Epoch axes tick whole epochs (up to 20 of them; more: bqplot's own ticks)."""
        last = max(last, fig.get("last_epoch", 0.0))
        if last == fig.get("last_epoch"):
            return
        fig["last_epoch"] = last
        axis = fig["figure"].axes[0]
        axis.tick_values = np.arange(0, int(last) + 1) if last <= 20 else None

    def _set(self, mark, x: np.ndarray, y: np.ndarray) -> None:
        if len(x) > self.max_points:
            idx, y = decimate_minmax(y, self.max_points)
            x = x[idx]
        with mark.hold_sync():
            mark.x, mark.y = x, y

    def _new_figure(self, tag: str) -> dict:
        entry = new_figure(tag, self.log_y, False)
        x_axis = entry["figure"].axes[0]  # Keras logs epoch values at epoch numbers
        x_axis.label = "epoch" if tag.startswith("epoch_") else "step"
        x_axis.tick_format = "~g" if tag.startswith("epoch_") else "~s"
        self._figures[tag] = entry
        return entry

    def _new_marks(self, run: str, tag: str) -> dict:
        fig = self._figures[tag]
        group, sub, kind = self._groups[run]
        train, val = run_colors(self._colors.get(group, 0) + 1)
        color = val if kind == "val" else train
        line, _ = mark_makers(fig)
        label = f"{group} {sub}".strip()
        marks = {
            "raw": line(color, stroke_width=1.5, labels=[label]),
            "smooth": line(color, stroke_width=2.5, labels=[label], visible=self.smoothing > 0),
        }
        fig["figure"].marks = [*fig["figure"].marks, *marks.values()]
        self._marks[(run, tag)] = marks
        return marks

    def _option_changed(self, change) -> None:
        if change["name"] == "log_y":  # new scales: new figures
            with self._lock:
                old, self._figures, self._marks = self._figures, {}, {}
                self.row.children = ()
                for entry in old.values():
                    close_tree(entry["figure"])
        if change["name"] in ("hidden", "metric", "max_runs") and self._built:
            self._redraw()  # nothing new was read: the final values stand
            return
        super()._option_changed(change)

    def _redraw(self) -> None:
        """The table, the parallel coordinates and which runs are drawn, again."""
        try:
            with self._lock:
                self._refresh_parts()
                self._draw_series(None)
                self._say()
        except Exception as err:  # noqa: BLE001 - shown, never raised into the kernel
            self.show_error(str(err))

    # -- clicks -------------------------------------------------------------------------------
    def _on_table_click(self, change) -> None:
        run = change["new"]
        if not run:
            return
        self.table.selected = ""  # a second click on the row toggles again
        hidden = list(self.hidden)
        self.hidden = tuple(r for r in hidden if r != run) if run in hidden else (*hidden, run)

    def _on_sort(self, _change) -> None:
        self._redraw()

    def _on_passing(self, _change) -> None:
        with self._lock:
            frame = self._frame()
            if frame is not None:
                self._fill_table(frame)
            self._draw_series(None)
            self._say()

    _setting = False

    def _on_metric_box(self, change) -> None:
        if not self._setting and change["new"] and change["new"] != self.metric:
            self.metric = change["new"]

    def _say(self) -> None:
        text = self.follower.status
        total, shown = len(self.runs), len(self.shown)
        if total and shown < total:
            text += f" · drawing {shown:,} of {total:,} runs"
            if shown == self.max_runs:
                text += " (max_runs: hide runs or brush the parallel coordinates to choose)"
        error = bool(self.follower.error) or "corrupted" in text
        self.status.value = status_html(text, error=error)


def _legend(runs: list[str], colors: dict[str, int], limit: int = 12) -> str:
    """Each run drawn with its training and validation colours (as the live plot)."""
    import html

    def dot(color: str) -> str:
        return f'<b style="color:{color}">\u2500\u2500</b>'

    parts = []
    for run in runs[:limit]:
        train, val = run_colors(colors.get(run, 0) + 1)
        parts.append(f"<span>{html.escape(run)}: {dot(train)} train {dot(val)} validation</span>")
    if len(runs) > limit:
        parts.append(f"<span>and {len(runs) - limit} more (colours in the table)</span>")
    return (
        '<div style="font-size:12px;display:flex;flex-wrap:wrap;gap:2px 16px">'
        + "".join(parts)
        + "</div>"
    )


def _cell(value, logged: bool = False) -> str:
    """A table cell: '–' where nothing was logged, NaN / Inf as logged."""
    if value is None:
        return "\u2013"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN" if logged else "\u2013"
        return f"{value:.4g}"
    return str(value)
