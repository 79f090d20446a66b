"""LayerTable: every layer in a sortable table, a click picks it (``state.layer``).

Columns: name, type, output shape, parameters and trainable parameters; with a
:class:`~nnwidgets.training.dynamics.DynamicsRecorder` (the dashboard's "Dynamics" tab
records one while the model trains), the latest gradient norm and dead-unit share too.
"""

from __future__ import annotations

import math
import pathlib

import anywidget
import ipywidgets as W
from traitlets import Bool, Int, List, TraitError, Tuple, Unicode, validate

from .. import structure
from ..compute import graph as _graph
from .base import ModelView

_STATIC = pathlib.Path(__file__).parent / "static"

#: (key, title, numeric): the columns, in order.
COLUMNS = (
    ("order", "#", True),
    ("name", "layer", False),
    ("type", "type", False),
    ("shape", "output shape", False),
    ("params", "params", True),
    ("trainable", "trainable", True),
    ("gradient", "grad norm", True),
    ("dead", "dead", True),
)
KEYS = tuple(key for key, _, _ in COLUMNS)


class TableCanvas(anywidget.AnyWidget):
    """The table in the page (see ``static/table.js``)."""

    _esm = _STATIC / "table.js"
    columns = List().tag(sync=True)
    rows = List().tag(sync=True)
    sort_by = Unicode("order").tag(sync=True)
    descending = Bool(False).tag(sync=True)
    selected = Unicode("").tag(sync=True)
    height_px = Int(360).tag(sync=True)


class LayerTable(ModelView):
    """Every pickable layer, one row each; click a row to pick the layer, a column
    title to sort by it (again: the other way).

    Parameters
    ----------
    state : ModelState
    recorder : DynamicsRecorder, optional
        Where the latest gradient norms and dead-unit shares are read (the
        dashboard passes its "Dynamics" tab's); without one those columns read "–".
    sort_by : str
        One of :data:`KEYS` (default "order": graph order).
    descending : bool

    Attributes
    ----------
    rows : tuple of tuple
        The rows as shown (sorted): ``(order, name, type, shape, params, trainable,
        gradient, dead)``, None where nothing was recorded (a NaN gradient is one
        that was recorded NaN: it is flagged).
    selected : str
        The layer picked (kept equal to ``state.layer``).

    Examples
    --------
    >>> import keras, numpy as np
    >>> from nnwidgets import ModelState, LayerTable
    >>> m = keras.Sequential([keras.Input((3,)), keras.layers.Dense(4, name="a"),
    ...                       keras.layers.Dense(2, name="b")])
    >>> table = LayerTable(ModelState(m, np.ones((2, 3))), sort_by="params", descending=True)
    >>> [(row[1], row[4]) for row in table.rows]
    [('a', 16), ('b', 10)]
    >>> table.close()
    """

    follows = ("layer", "version", "layer_names")

    sort_by = Unicode("order", help="The column sorted by.").tag(option=True)
    descending = Bool(False, help="Sort from the largest.").tag(option=True)
    height = Int(360, min=120, max=4000, help="Height of the table in pixels.").tag(option=True)
    selected = Unicode("", help="The layer picked (follows state.layer).")
    rows = Tuple(read_only=True, help="The rows as shown.")

    _infos = None
    _infos_built = False

    def __init__(self, state, recorder=None, **options):
        self.recorder = recorder
        super().__init__(state, **options)

    def build(self) -> tuple:
        # (as wide as the card, not as the table: the table scrolls within it)
        self.canvas = TableCanvas(
            columns=[list(c) for c in COLUMNS], layout=W.Layout(width="100%", min_width="0")
        )
        self.layout.width, self.layout.min_width = "100%", "0"
        self.canvas.observe(self._from_page, names=["selected", "sort_by", "descending"])
        self.observe(self._on_selected, names="selected")
        if self.recorder is not None:
            self.recorder.observe(self._on_records, names="updates")
        return (self.message, self.canvas)

    @validate("sort_by")
    def _check_sort(self, proposal):
        if proposal["value"] not in KEYS:
            raise TraitError(f"sort_by must be one of {', '.join(KEYS)}; got {proposal['value']!r}")
        return proposal["value"]

    @validate("selected")
    def _check_selected(self, proposal):
        name = proposal["value"]
        if name and name not in self.state.layer_names:
            raise TraitError(f"{name!r} is not a layer of this model")
        return name

    def on_state(self, change) -> None:
        """A layer picked: only the highlight moves (the rows stay as they are)."""
        if change["name"] == "layer":
            with self.syncing():
                self.selected = self.state.layer
                self.canvas.selected = self.state.layer
        else:
            if self._infos_built != bool(self.state.model.built):  # built by its first data
                self._infos = None
            self.draw()

    def render(self) -> None:
        rows = self._sorted(self._rows())
        self.set_trait("rows", tuple(rows))
        with self.syncing():
            self.selected = self.state.layer
            with self.canvas.hold_sync():
                self.canvas.sort_by = self.sort_by
                self.canvas.descending = self.descending
                self.canvas.height_px = self.height
                self.canvas.rows = [_shown(row) for row in rows]
                self.canvas.selected = self.state.layer

    def _rows(self) -> list[tuple]:
        names = list(self.state.layer_names)
        if getattr(self, "_infos", None) is None:  # (again once the model is built)
            self._infos = structure.describe(self.state.model, names)
            self._infos_built = bool(self.state.model.built)
        infos = self._infos
        gradients, dead = self._latest()
        return [
            (
                i,
                name,
                infos[name].type_name,
                self._shape(name, infos[name].output_shape),
                infos[name].params,
                _trainable(self.state.layer_info(name).layer),  # (layers may be frozen since)
                gradients.get(name),
                dead.get(name),
            )
            for i, name in enumerate(names)
        ]

    def _shape(self, name: str, shape: str) -> str:
        """A layer's output shape; for one called from a composite layer's own code
        (Keras keeps no record of it), where it runs."""
        if shape != "?":
            return shape
        outer = _graph.inside_call(self.state.model, name)
        return f"in {outer}" if outer else shape

    def _latest(self) -> tuple[dict, dict]:
        """The newest gradient norms and dead-unit shares recorded, by layer name."""
        if self.recorder is None:
            return {}, {}
        items = self.recorder.dynamics.log.items()
        gradients = next((r.gradients for _, r in reversed(items) if r.gradients), {})
        dead = next((r.dead for _, r in reversed(items) if r.dead), {})
        return gradients, dead

    def _sorted(self, rows: list[tuple]) -> list[tuple]:
        column = KEYS.index(self.sort_by)
        numeric = COLUMNS[column][2]

        def key(row):
            value = row[column]
            if numeric:  # nothing recorded last, then NaN, whichever the direction
                missing = value is None or math.isnan(value)
                last = (value is None) * 2 + missing
                return (last if not self.descending else -last, 0.0 if missing else value)
            return (False, str(value).lower())

        return sorted(rows, key=key, reverse=self.descending)

    # -- from the page -----------------------------------------------------
    def _from_page(self, change) -> None:
        if not self.from_user:
            return
        if change["name"] == "selected":
            if change["new"]:
                self.selected = change["new"]
        elif change["name"] == "sort_by":
            self.sort_by = change["new"]
        else:
            self.descending = bool(change["new"])

    def _on_selected(self, change) -> None:
        if self.from_user and change["new"] and change["new"] != self.state.layer:
            self.state.layer = change["new"]

    def _on_records(self, change) -> None:
        if not self._closed:
            self.draw()

    def close(self) -> None:
        if not self._closed and getattr(self, "canvas", None) is not None:
            self.canvas.unobserve(self._from_page, names=["selected", "sort_by", "descending"])
            if self.recorder is not None:
                self.recorder.unobserve(self._on_records, names="updates")
        super().close()


def _trainable(layer) -> int:
    return int(sum(structure._size(w) for w in layer.trainable_weights))


def _shown(row: tuple) -> dict:
    """A row as the page shows it: text cells; a dead share above half is flagged."""
    order, name, type_name, shape, params, trainable, gradient, dead = row
    cells = [
        str(order),
        name,
        type_name,
        shape,
        f"{params:,}",
        f"{trainable:,}",
        _number(gradient),
        "\u2013" if dead is None else f"{dead:.0%}",
    ]
    warn = []
    if dead is not None and dead >= 0.5:
        warn.append(7)
    if gradient is not None and (gradient == 0 or not math.isfinite(gradient)):
        warn.append(6)
    return {"id": name, "cells": cells, "warn": warn}


def _number(value: float | None) -> str:
    if value is None:
        return "\u2013"
    if not math.isfinite(value):
        return str(value)
    return f"{value:.3g}"
