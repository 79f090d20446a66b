"""The selected layer's output for the selected input."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
from traitlets import Bool, Enum, Int, TraitError, Tuple, validate

from ..compute import display as D
from .base import ModelView
from .panels import BarPanel, PicturePanel, fit_title, stats_html, status_html


class ActivationExplorer(ModelView):
    """The selected layer's output for the selected input.

    Feature maps as a grid of channels (or one channel, large), sequences as a matrix
    (a row per step, a column per feature), vectors as bars; a bar chart of the mean
    activation per channel and summary statistics. Titles are cut to fit the figure
    (the full one then leads the caption). When a layer has no activations to show (a
    subclassed model's layers) every figure is hidden and the message says why. The
    channel controls are shown only for ``(h, w, channels)`` outputs, and "scale each
    channel" only while the grid is shown; with it, constant channels (a saturated
    sigmoid, a dead ReLU) are drawn in the middle colour and listed with their value.

    Parameters
    ----------
    state : ModelState
    per_channel : bool
        Scale each channel of a grid to its own range (default True).
    cmap : {"viridis", "gray", "rdbu"}
        Colour map of the pictures.

    Attributes
    ----------
    channel : int or None
        The channel shown alone, large; None shows the grid of channels. Only for
        ``(h, w, channels)`` outputs; a new layer goes back to the grid.
    shape : tuple of int
        Shape of the output shown (batch axis removed; read-only).

    Examples
    --------
    >>> view = ActivationExplorer(state, per_channel=False)  # doctest: +SKIP
    >>> view.channel = 3  # doctest: +SKIP
    """

    follows = ("layer", "input_index", "version")

    per_channel = Bool(True, help="Scale each channel of a grid to its own range.").tag(option=True)
    cmap = Enum(("viridis", "gray", "rdbu"), "viridis", help="Colour map.").tag(option=True)
    channel = Int(None, allow_none=True, help="The channel shown alone (None: all).")
    shape = Tuple(read_only=True, help="Shape of the output shown.")

    def build(self) -> tuple:
        self.scale_box = W.Checkbox(description="scale each channel", indent=False)
        self.all_box = W.Checkbox(value=True, description="all channels", indent=False)
        self.channel_slider = W.IntSlider(
            min=0, max=0, description="channel", continuous_update=False, disabled=True
        )
        self.channel_slider.style.description_width = "56px"
        self.channel_slider.add_class("nnw-channel")
        self.all_box.layout.width, self.scale_box.layout.width = "120px", "170px"
        W.link((self, "per_channel"), (self.scale_box, "value"))
        self.all_box.observe(self._on_channel_controls, names="value")
        self.channel_slider.observe(self._on_channel_controls, names="value")
        self.observe(self._option_changed, names="channel")
        self.panel = PicturePanel("Activations")
        self.vector = BarPanel("Activations", "unit", "value", height="360px")
        self.channels = BarPanel("Mean per channel", "channel", "mean", height="220px")
        self.stats = W.HTML()
        self.note = W.HTML()
        self.add_class("nnw-activations")
        self.controls = W.HBox(
            [self.all_box, self.scale_box, self.channel_slider],
            layout=W.Layout(flex_flow="row wrap", align_items="center"),
        )
        figures = [self.panel.figure, self.panel.bar, self.vector.figure]
        return (self.controls, self.message, self.note, *figures, self.stats, self.channels.figure)

    @validate("channel")
    def _validate_channel(self, proposal):
        channel = proposal["value"]
        count = self.shape[-1] if len(self.shape) == 3 else 0
        if channel is not None and not 0 <= channel < count:
            what = f"0..{count - 1}" if count else "None (this output has no channel maps)"
            raise TraitError(f"ActivationExplorer.channel must be {what} or None; got {channel}")
        return channel

    def on_state(self, change) -> None:
        if change["name"] == "layer" and self.channel is not None:
            self.channel = None  # another layer: back to the grid (its observer draws)
            return
        self.draw()

    def _on_channel_controls(self, change) -> None:
        """A person ticked "all channels" or moved the channel slider."""
        if self.from_user:
            self.channel = None if self.all_box.value else self.channel_slider.value

    def render(self) -> None:
        state, key = self.state, self.weights_key()
        try:
            a = state.activation(key=key)
        except Exception as err:  # noqa: BLE001 - shown, never raised into the kernel
            self._show_nothing()
            raise ValueError(f"no activations: {err}") from err
        self.set_trait("shape", tuple(int(n) for n in a.shape))
        n_out = state.output_count(key=key)
        self.note.value = (
            status_html(f"layer returns {n_out} tensors; showing the first") if n_out > 1 else ""
        )
        self._sync_channel_controls(a)
        pic = self._picture(a)
        if pic is None:
            self._draw_vector(a)
        else:
            self._draw_picture(a, pic)
        means = D.channel_means(a)
        if means is not None:
            what = "feature" if a.ndim == 2 else "channel"  # a sequence's last axis
            self.channels.figure.title, self.channels.x_axis.label = f"Mean per {what}", what
            self.defer(lambda: self.channels.show(np.arange(means.size), means))
        self._show(pic, means)

    def _draw_vector(self, a: np.ndarray) -> None:
        title, full = self._title(a, self.vector.title_chars)
        self.vector.figure.title = title
        self.vector.show(np.arange(a.size), a.reshape(-1))
        heading = status_html(full) if title != full else ""  # the title was cut
        self.stats.value = heading + stats_html(D.stats(a))

    def _draw_picture(self, a: np.ndarray, pic: D.Matrix) -> None:
        title, full = self._title(a, self.panel.title_chars)
        self.panel.figure.title = title
        parts = (full if title != full else "", self._caption(a))  # the title was cut
        caption = " \u00b7 ".join(t for t in parts if t)
        self.panel.show(pic, self.cmap, caption=caption, footer=stats_html(D.stats(a)))
        self.stats.value = ""

    def _title(self, a: np.ndarray, limit: int) -> tuple[str, str]:
        """The figure's title, cut to ``limit`` characters, and the full one."""
        shape = f"output {tuple(a.shape)}"
        channel = f", channel {self.channel}" if self.channel is not None else ""
        full = f"{shape} for input {self.state.input_index}{channel}"
        name = self.state.layer
        return fit_title(name, full, shape + channel, limit=limit), f"{name}: {full}"

    def _picture(self, a: np.ndarray):
        if self.channel is not None and a.ndim == 3:
            return D.channel_picture(a, self.channel)
        return D.activation_picture(a, per_channel=self.per_channel)

    def _caption(self, a: np.ndarray) -> str:
        scaled = a.ndim == 3 and self.per_channel and self.channel is None
        return "(each channel scaled to 0..1)" if scaled else ""

    def _sync_channel_controls(self, a: np.ndarray) -> None:
        """The slider spans the output's channels and shows :attr:`channel` (set only
        when either changed: a redraw for new weights leaves a person's choice be)."""
        count = a.shape[-1] if a.ndim == 3 else 0
        if self._controls_show == (count, self.channel):
            return
        with self.syncing(), self.channel_slider.hold_sync():
            self.channel_slider.max = max(count - 1, 0)
            if self.channel is not None:  # (all channels: the slider keeps its place)
                self.channel_slider.value = self.channel
            self.channel_slider.disabled = self.channel is None
            self.all_box.value = self.channel is None
        self._controls_show = (count, self.channel)

    _controls_show = None

    def _show(self, pic, means) -> None:
        """Show the figures that apply: the channel controls for ``(h, w, c)`` maps,
        "scale each channel" only while their grid is shown."""
        maps = pic is not None and len(self.shape) == 3
        _display(self.panel.figure, pic is not None)
        _display(self.panel.bar, pic is not None)
        _display(self.vector.figure, pic is None)
        _display(self.stats, pic is None)
        _display(self.channels.figure, means is not None)
        _display(self.controls, maps)
        _display(self.scale_box, maps and self.channel is None)

    def _show_nothing(self) -> None:
        """No activations: hide every figure and control (the message says why)."""
        self.set_trait("shape", ())
        self.note.value = self.stats.value = ""
        widgets = (self.panel.figure, self.panel.bar, self.vector.figure, self.channels.figure)
        for widget in (*widgets, self.stats, self.controls):
            _display(widget, False)


def _display(widget, shown: bool) -> None:
    """Show or hide ``widget`` (no message when it already is)."""
    widget.layout.display = None if shown else "none"
