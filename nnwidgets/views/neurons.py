"""What one unit responds to: the inputs that activate it most, and how its activation
is spread over every input."""

from __future__ import annotations

import bqplot as bq
import ipywidgets as W
import numpy as np
from traitlets import Any, Enum, Int, Tuple, observe

from ..compute.display import histogram
from ..compute.population import Population
from .base import ModelView
from .gallery import Gallery
from .panels import BarPanel, status_html

#: Bins of the activation histogram.
BINS = 40


class NeuronView(ModelView):
    """For the selected layer and one unit (a Dense unit, a conv channel): the ``k``
    inputs that activate it most, in a gallery, and its activation over every input,
    as a histogram with the selected input's value marked. Click a bar to select the
    inputs in it (``state.selection``); click a sample to select it.

    A channel's activation for an input is its mean over space (or time), or its
    maximum (``how="max"``). It follows the weights and the units switched off.

    Parameters
    ----------
    state : ModelState
    unit : int
        The unit (channel) shown; set back to 0 when a new layer has fewer.
    k : int
        Inputs in the top-k gallery (default 16).
    how : {"mean", "max"}
        How a channel's map becomes one value per input.

    Attributes
    ----------
    values : numpy.ndarray
        The unit's value for every input (read-only).
    top : tuple of int
        The ``k`` inputs with the highest values, highest first (read-only).
    counts, edges : numpy.ndarray
        The histogram drawn (read-only).

    Examples
    --------
    >>> import nnwidgets as nw
    >>> x, y = nw.datasets.load_digits(50)
    >>> state = nw.ModelState(nw.datasets.demo_model(), x, y)
    >>> state.layer = "dense"
    >>> view = NeuronView(state, unit=5, k=4)
    >>> len(view.top), view.values.shape, int(view.counts.sum())
    (4, (50,), 50)
    >>> view.close()
    """

    follows = ("layer", "version", "input_index")

    unit = Int(0, min=0, help="The unit (channel) shown.").tag(option=True)
    k = Int(16, min=1, max=200, help="Inputs in the top-k gallery.").tag(option=True)
    how = Enum(("mean", "max"), default_value="mean", help="A channel's value per input.").tag(
        option=True
    )
    values = Any(np.zeros(0, np.float32), read_only=True, help="The unit's value per input.")
    top = Tuple(read_only=True, help="The k most activating inputs, highest first.")
    counts = Any(np.zeros(0, np.int64), read_only=True, help="Histogram counts.")
    edges = Any(np.zeros(0), read_only=True, help="Histogram bin edges.")

    def build(self) -> tuple:
        self.unit_picker = W.BoundedIntText(
            value=self.unit, min=0, max=0, description="unit", layout=W.Layout(width="150px")
        )
        self.unit_picker.style.description_width = "40px"
        self.unit_picker.observe(self._on_picker, names="value")
        self.how_picker = W.ToggleButtons(
            options=[("mean", "mean"), ("max", "max")],
            value=self.how,
            style={"button_width": "60px"},
            tooltips=["mean over space/time", "maximum over space/time"],
        )
        self.how_picker.observe(
            lambda c: self.from_user and setattr(self, "how", c["new"]), "value"
        )
        self.hist = BarPanel("", "activation", "inputs", width="440px", height="220px")
        self.marker = bq.Lines(
            x=[0.0, 0.0],
            y=[0.0, 1.0],
            scales={"x": self.hist.x_scale, "y": self.hist.y_scale},
            colors=["#d0021b"],
            stroke_width=2,
            visible=False,
        )
        self.hist.figure.marks = [*self.hist.figure.marks, self.marker]
        self.hist.bars.on_element_click(self._on_bar)
        self.hist.figure.add_class("nnw-neuron-histogram")
        self.gallery = Gallery(self.state, title="inputs that activate it most", columns=8)
        self.caption = W.HTML()
        self.add_class("nnw-neurons")
        controls = W.HBox([self.unit_picker, self.how_picker])
        return (self.message, controls, self.caption, self.gallery, self.hist.figure)

    def on_state(self, change) -> None:
        if change["name"] == "input_index":
            self._mark_input()
        else:
            self.draw()

    def render(self) -> None:
        state = self.state
        if state.n_inputs == 0:
            raise ValueError("the neuron view needs inputs: ModelState(model, inputs)")
        units = state.units()
        if self.unit >= units:
            with self.syncing():
                self.unit = 0
        with self.syncing(), self.unit_picker.hold_sync():
            self.unit_picker.max = units - 1
            self.unit_picker.value = self.unit
        values = Population.of(state).unit_values(state.layer, self.how, self.weights_key())
        v = values[:, self.unit].astype(np.float64)
        self.set_trait("values", v.astype(np.float32))
        order = np.argsort(-np.where(np.isfinite(v), v, -np.inf), kind="stable")[: self.k]
        self.set_trait("top", tuple(order.tolist()))
        self.gallery.show(self.top, tuple(f"{v[i]:.3g}" for i in order))
        self._draw_histogram(v, units)

    def _draw_histogram(self, v: np.ndarray, units: int) -> None:
        centres, counts = histogram(v, BINS)
        width = (centres[1] - centres[0]) if len(centres) > 1 else 1.0
        edges = np.append(centres - width / 2, centres[-1] + width / 2) if len(centres) else centres
        self.set_trait("counts", counts.astype(np.int64))
        self.set_trait("edges", edges)
        self.hist.show(centres, counts)
        layer = self.state.layer
        self.hist.figure.title = f"{layer}, unit {self.unit} of {units}: {self.how} activation"
        bad = int((~np.isfinite(v)).sum())
        dead = bool(np.all(v[np.isfinite(v)] == 0)) if np.isfinite(v).any() else False
        notes = []
        if bad:
            notes.append(f"{bad} inputs give NaN or Inf (left out of the histogram)")
        if dead:
            notes.append("this unit is 0 for every input (dead, or switched off)")
        self.caption.value = status_html("; ".join(notes), error=bool(bad)) if notes else ""
        self._mark_input()

    def _mark_input(self) -> None:
        v = np.asarray(self.values)
        i = self.state.input_index
        shown = 0 <= i < len(v) and np.isfinite(v[i]) and len(self.counts)
        with self.marker.hold_sync():
            if shown:
                top = float(max(self.counts.max(), 1))
                self.marker.x, self.marker.y = [float(v[i])] * 2, [0.0, top]
            self.marker.visible = bool(shown)

    # -- what a person does ------------------------------------------------------
    def _on_bar(self, _mark, event) -> None:
        data = (event or {}).get("data") or {}
        edges, v = np.asarray(self.edges), np.asarray(self.values)
        index = data.get("index")
        if index is None and data.get("x") is not None and len(edges) > 1:  # the bar's centre
            index = int(np.searchsorted(edges, float(data["x"]), side="right") - 1)
        if index is None or not 0 <= index < len(edges) - 1:
            return
        lo, hi = edges[index], edges[index + 1]
        last = index == len(edges) - 2
        inside = (v >= lo) & ((v <= hi) if last else (v < hi))
        self.state.selection = tuple(np.flatnonzero(inside).tolist())

    def _on_picker(self, change) -> None:
        if self.from_user:
            self.unit = int(change["new"])

    @observe("how")
    def _how_changed(self, change) -> None:
        if self._built:
            with self.syncing():
                self.how_picker.value = change["new"]
