"""The selected layer's weights: a heatmap, a histogram and summary statistics."""

from __future__ import annotations

import html
from collections import OrderedDict

import ipywidgets as W
import numpy as np
from traitlets import Enum, Int, TraitError, Unicode, validate

from ..compute import display as D
from ..compute.graph import owner_of
from .base import ModelView
from .panels import BarPanel, PicturePanel, fit_title, stats_html, status_html

CMAPS = ("rdbu", "viridis", "gray")


def _is_conv(layer) -> bool:
    return "Conv" in type(layer).__name__


class WeightHeatmap(ModelView):
    """The selected layer's weights: a heatmap, a histogram and summary statistics.

    Dense kernels are drawn as an ``input × output`` matrix, conv kernels as a grid of
    filters; a dropdown chooses among the layer's variables (kernel, bias, ...).
    Layers without weights get a clear "no weights" view.

    Parameters
    ----------
    state : ModelState
    bins : int
        Histogram buckets (2 to 200; default 40).
    cmap : {"rdbu", "viridis", "gray"}
        Colour map of the heatmap (diverging ``rdbu`` by default, centred on zero).

    Attributes
    ----------
    variable : str
        Path of the variable shown (``"sequential/dense/kernel"``), '' for a layer
        without weights; setting it shows another variable of the layer.

    Examples
    --------
    >>> view = WeightHeatmap(state, bins=60)  # doctest: +SKIP
    >>> view.variable  # doctest: +SKIP
    'digits_cnn/conv1/kernel'
    """

    follows = ("layer", "version")

    bins = Int(40, min=2, max=200, help="Histogram buckets.").tag(option=True)
    cmap = Enum(CMAPS, "rdbu", help="Colour map of the heatmap.").tag(option=True)
    variable = Unicode("", help="Path of the variable shown ('' without weights).")

    def build(self) -> tuple:
        self.picker = W.Dropdown(
            description="Weight", style={"description_width": "52px"}, layout=W.Layout(width="98%")
        )
        self.panel = PicturePanel("Weights")
        self.hist = BarPanel("Histogram", "value", "count", height="220px")
        self.body = W.VBox([self.panel.figure, self.panel.bar, self.hist.figure])
        self._cache: OrderedDict = OrderedDict()
        self.add_class("nnw-weights")
        self.picker.observe(self._on_picker, names="value")
        self.observe(self._option_changed, names="variable")
        self._choose_variable()
        return (self.picker, self.message, self.body)

    def _weights(self) -> list:
        return self.state.layer_info().layer.weights if self.state.layer else []

    @validate("variable")
    def _validate_variable(self, proposal):
        paths = [v.path for v in self._weights()]
        if proposal["value"] not in paths and (paths or proposal["value"]):
            raise TraitError(
                f"WeightHeatmap.variable must be one of {paths} for layer "
                f"{self.state.layer!r}; got {proposal['value']!r}"
            )
        return proposal["value"]

    def on_state(self, change) -> None:
        if change["name"] == "layer" and self._choose_variable():
            return  # the variable changed, and its observer drew
        self.draw()

    def _choose_variable(self) -> bool:
        """Show the largest variable of the layer; return whether that changed it."""
        weights = self._weights()
        sizes = [int(np.prod(v.shape)) for v in weights]
        largest = weights[int(np.argmax(sizes))].path if weights else ""
        changed = largest != self.variable
        self.variable = largest
        return changed

    def _on_picker(self, change) -> None:
        weights = self._weights()
        if self.from_user and change["new"] is not None and change["new"] < len(weights):
            self.variable = weights[change["new"]].path

    def _sync_picker(self, weights: list) -> None:
        """List the layer's variables in the dropdown, showing :attr:`variable` (only
        when either changed: a redraw for new weights leaves a person's choice be)."""
        if self._picker_shows == (self.state.layer, self.variable):
            return
        # values are indices: layers with the same variables (kernel, bias) share
        # options, and a switch between them sends the dropdown nothing
        # below the layer: unique, sublayers named (attention/query/kernel)
        options = [(_below(v.path, self.state.layer), i) for i, v in enumerate(weights)]
        paths = [v.path for v in weights]
        with self.syncing():
            if options != [tuple(o) for o in self.picker.options]:
                self.picker.options = options  # (this selects the first option)
            self.picker.value = paths.index(self.variable) if self.variable in paths else None
        self._picker_shows = (self.state.layer, self.variable)

    _picker_shows = None

    def render(self) -> None:
        weights = self._weights()
        var = next((v for v in weights if v.path == self.variable), None)
        if weights and var is None:
            self._choose_variable()  # its observer draws
            return
        self._sync_picker(weights)
        if not weights:
            self._no_weights()
            return
        info = self.state.layer_info()
        picture, stats, (centres, counts) = self._computed(info, var)
        self.body.layout.display = self.picker.layout.display = None
        self.message.value = ""
        below = _below(var.path, info.name)
        full = f"{info.name}: {below} {stats['shape']}"
        parts = below.split("/")  # fullest first: the whole path, then its end
        details = [f"{'/'.join(parts[-k:])} {stats['shape']}" for k in range(len(parts), 0, -1)]
        title = fit_title(info.name, *details, limit=self.panel.title_chars)
        self.panel.figure.title = title
        footer = stats_html(stats).replace("<div", f'<div title="{html.escape(var.path)}"', 1)
        if title != full:  # the title was cut: the whole of it leads the footer
            footer = status_html(full) + footer
        self.panel.show(picture, self.cmap, symmetric=self.cmap == "rdbu", footer=footer)
        self.defer(lambda: self.hist.show(centres, counts))

    def _computed(self, info, var) -> tuple:
        """Picture, stats and histogram of a variable, cached until the weights change."""
        key = (self.weights_key(), info.name, var.path, self.bins)
        if key not in self._cache:
            w = np.asarray(var.numpy())
            picture = D.weight_picture(w, conv=_is_conv(owner_of(info.layer, var)))
            self._cache[key] = (picture, D.stats(w), D.histogram(w, self.bins))
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
        return self._cache[key]

    def _no_weights(self) -> None:
        self.body.layout.display = self.picker.layout.display = "none"
        if self.state.layer:
            info = self.state.layer_info()
            text = (
                f"<b>{html.escape(info.name)}</b> ({info.type_name}) has no weights."
                "<br>Pick a Dense, Conv or other layer with parameters."
            )
        else:
            text = "This model has no layers to pick."
        self.message.value = (
            f'<div class="nnw-no-weights" style="padding:24px;font-size:14px">{text}</div>'
        )


def _from_layer(path: str, layer: str) -> str:
    """A variable's path from the layer's own name on (Keras prefixes it with the
    model's name): ``block/attention/query/kernel``; unique within the layer.

    >>> _from_layer("sequential/block/attention/query/kernel", "block")
    'block/attention/query/kernel'
    """
    parts = path.split("/")
    last = layer.split("/")[-1]
    return "/".join(parts[parts.index(last) :]) if last in parts else path


def _below(path: str, layer: str) -> str:
    """A variable's path below the layer: ``attention/query/kernel``.

    >>> _below("model/block/attention/query/kernel", "block")
    'attention/query/kernel'
    """
    return _from_layer(path, layer).partition("/")[2] or path
