"""Views of the selected layer: its weights and its activations."""

from __future__ import annotations

import html
from collections import OrderedDict

import ipywidgets as W
import numpy as np

from .. import display as D
from .panels import BarPanel, PicturePanel, stats_html, status_html


def _is_conv(layer) -> bool:
    return "Conv" in type(layer).__name__


class WeightHeatmap(W.VBox):
    """The selected layer's weights: a heatmap, a histogram and summary statistics.

    Dense kernels are drawn as an ``input × output`` matrix, conv kernels as a grid of
    filters; a dropdown chooses among the layer's variables (kernel, bias, ...).
    Layers without weights get a clear "no weights" view.

    >>> WeightHeatmap(state)  # doctest: +SKIP
    """

    def __init__(self, state, **kwargs):
        self.state = state
        self.picker = W.Dropdown(description="Weight", style={"description_width": "52px"})
        self.panel = PicturePanel("Weights")
        self.hist = BarPanel("Histogram", "value", "count", height="220px")
        self.message = W.HTML()
        self.body = W.VBox([self.panel.figure, self.panel.bar, self.hist.figure])
        super().__init__([self.picker, self.message, self.body], **kwargs)
        self.add_class("nnw-weights")
        self._quiet = False
        self._cache: OrderedDict = OrderedDict()
        self.picker.observe(lambda _: self._quiet or self.draw(), names="value")
        state.observe(self._on_layer, names="layer")
        state.observe(lambda _: self.draw(), names="version")
        self._on_layer()

    def _weights(self) -> list:
        return self.state.layer_info().layer.weights if self.state.layer else []

    def _on_layer(self, change=None):
        weights = self._weights()
        options = [(v.path.split("/")[-1], i) for i, v in enumerate(weights)]
        sizes = [int(np.prod(v.shape)) for v in weights]
        self._quiet = True
        try:
            self.picker.options = options
            self.picker.value = int(np.argmax(sizes)) if sizes else None
        finally:
            self._quiet = False
        self.draw()

    def draw(self) -> None:
        """Redraw for the selected layer and variable."""
        with self.state.drawing():
            self._draw()

    def _draw(self) -> None:
        if not self._weights():
            self._no_weights()
            return
        info = self.state.layer_info()
        var = info.layer.weights[self.picker.value or 0]
        picture, stats, (centres, counts) = self._computed(info, var)
        self.body.layout.display = None
        self.picker.layout.display = None
        self.message.value = ""
        name = html.escape(var.path)
        self.panel.figure.title = f"{info.name}: {var.path.split('/')[-1]} {stats['shape']}"
        footer = stats_html(stats).replace("<div", f'<div title="{name}"', 1)
        self.panel.show(picture, "rdbu", symmetric=True, footer=footer)
        self.state.defer(lambda: self.hist.show(centres, counts))

    def _computed(self, info, var) -> tuple:
        """Picture, stats and histogram of a variable, cached until the weights change."""
        key = (self.state.weights_key(), info.name, var.path)
        if key not in self._cache:
            w = np.asarray(var.numpy())
            picture = D.weight_picture(w, conv=_is_conv(info.layer))
            self._cache[key] = (picture, D.stats(w), D.histogram(w))
            while len(self._cache) > 32:
                self._cache.popitem(last=False)
        return self._cache[key]

    def _no_weights(self) -> None:
        self.body.layout.display = "none"
        self.picker.layout.display = "none"
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


class ActivationExplorer(W.VBox):
    """The selected layer's output for the selected input.

    Feature maps as a grid of channels, sequences as a matrix, vectors as bars; a bar
    chart of the mean activation per channel and summary statistics.

    >>> ActivationExplorer(state)  # doctest: +SKIP
    """

    def __init__(self, state, **kwargs):
        self.state = state
        self.per_channel = W.Checkbox(value=True, description="scale each channel", indent=False)
        self.panel = PicturePanel("Activations")
        self.vector = BarPanel("Activations", "unit", "value", height="360px")
        self.channels = BarPanel("Mean per channel", "channel", "mean", height="220px")
        self.stats = W.HTML()
        self.message = W.HTML()
        super().__init__(
            [
                self.per_channel,
                self.message,
                self.panel.figure,
                self.panel.bar,
                self.vector.figure,
                self.stats,
                self.channels.figure,
            ],
            **kwargs,
        )
        self.add_class("nnw-activations")
        self.per_channel.observe(lambda _: self.draw(), names="value")
        state.observe(lambda _: self.draw(), names=["layer", "input_index", "version"])
        self.draw()

    def draw(self) -> None:
        """Redraw for the selected layer and input."""
        with self.state.drawing():
            self._draw()

    def _draw(self) -> None:
        state = self.state
        try:
            a = state.activation()
        except Exception as err:  # noqa: BLE001 - shown, never raised into the kernel
            self._show(None, None)
            self.message.value = status_html(f"no activations: {err}", error=True)
            return
        title = f"{state.layer}: output {tuple(a.shape)} for input {state.input_index}"
        n_out = state.output_count()
        self.message.value = (
            status_html(f"layer returns {n_out} tensors; showing the first") if n_out > 1 else ""
        )
        pic = D.activation_picture(a, per_channel=self.per_channel.value)
        if pic is None:
            self.vector.figure.title = title
            self.vector.show(np.arange(a.size), a.reshape(-1))
        else:
            self.panel.figure.title = title
            scaled = a.ndim == 3 and self.per_channel.value
            footer = stats_html(D.stats(a))
            self.panel.show(
                pic, "viridis", caption="(each channel 0..1)" if scaled else "", footer=footer
            )
        self.stats.value = "" if pic is not None else stats_html(D.stats(a))
        means = D.channel_means(a)
        if means is not None:
            self.state.defer(lambda: self.channels.show(np.arange(means.size), means))
        self._show(pic, means)

    def _show(self, pic, means) -> None:
        self.panel.figure.layout.display = None if pic is not None else "none"
        self.panel.bar.layout.display = None if pic is not None else "none"
        self.vector.figure.layout.display = "none" if pic is not None else None
        self.channels.figure.layout.display = None if means is not None else "none"
        self.per_channel.layout.display = None if pic is not None else "none"
