"""The selected layer's output for the selected input."""

from __future__ import annotations

import ipywidgets as W
import numpy as np
from traitlets import Bool, Enum, Int, TraitError, Tuple, validate

from ..compute import display as D
from .base import ModelView
from .panels import BarPanel, PicturePanel, fit_title, stats_html, status_html
from .unit_switch import CROSS_COLOR, clicked_unit, crossed, off_note


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

    A click on a channel of the grid (on a unit's bar, on a matrix's column) switches
    that unit off, or back on (``state.toggle_unit``: its output becomes 0 in every
    view); "switched off" beside the channel slider does it for the channel shown
    alone. Units switched off are crossed out in orange and listed in the caption.

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
        self.off_box = W.Checkbox(description="switched off", indent=False)
        self.off_box.layout.width = "120px"
        self.off_box.add_class("nnw-switch-off")
        self.off_box.observe(self._on_off_box, names="value")
        self.all_box.layout.width, self.scale_box.layout.width = "120px", "170px"
        W.link((self, "per_channel"), (self.scale_box, "value"))
        self.all_box.observe(self._on_channel_controls, names="value")
        self.channel_slider.observe(self._on_channel_controls, names="value")
        self.observe(self._option_changed, names="channel")
        self.panel = PicturePanel("Activations")
        self.vector = BarPanel("Activations", "unit", "value", height="360px")
        self.panel.mark.on_element_click(self._on_picture_click)
        self.vector.bars.on_element_click(self._on_bar_click)
        self.channels = BarPanel("Mean per channel", "channel", "mean", height="220px")
        self.stats = W.HTML()
        self.note = W.HTML()
        self.add_class("nnw-activations")
        self.controls = W.HBox(
            [self.all_box, self.scale_box, self.channel_slider, self.off_box],
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
        off = state.ablation_at(key).get(state.layer, ())
        self._sync_off_box(off)
        pic = self._picture(a)
        if pic is None:
            self._draw_vector(a, off)
        else:
            self._draw_picture(a, pic, off)
        means = D.channel_means(a)
        if means is not None:
            what = "feature" if a.ndim == 2 else "channel"  # a sequence's last axis
            self.channels.figure.title, self.channels.x_axis.label = f"Mean per {what}", what
            self.defer(lambda: self.channels.show(np.arange(means.size), means))
        self._show(pic, means)

    def _draw_vector(self, a: np.ndarray, off: tuple) -> None:
        title, full = self._title(a, self.vector.title_chars)
        self.vector.figure.title = title
        self.vector.show(np.arange(a.size), a.reshape(-1))
        lines = (full if title != full else "", off_note(off, "units"))  # the title was cut
        self.stats.value = "".join(status_html(t) for t in lines if t) + stats_html(D.stats(a))

    def _draw_picture(self, a: np.ndarray, pic: D.Matrix, off: tuple) -> None:
        title, full = self._title(a, self.panel.title_chars)
        self.panel.figure.title = title
        what = "channels" if a.ndim == 3 else "features" if a.ndim == 2 else "units"
        parts = (full if title != full else "", self._caption(a), off_note(off, what))
        caption = " \u00b7 ".join(t for t in parts if t)
        mask = crossed(pic, a.shape, off, self.channel if a.ndim == 3 else None)
        marked = (mask, CROSS_COLOR) if mask is not None else None
        footer = stats_html(D.stats(a))
        self.panel.show(pic, self.cmap, caption=caption, footer=footer, marked=marked)
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

    def _sync_off_box(self, off: tuple) -> None:
        """ "switched off" shows whether the channel shown alone is (greyed out for a
        layer whose units cannot be switched off)."""
        try:
            self.state.units()
            can = True
        except ValueError:
            can = False
        with self.syncing(), self.off_box.hold_sync():
            self.off_box.value = self.channel is not None and self.channel in off
            self.off_box.disabled = not can
        _display(self.off_box, self.channel is not None)

    # -- switching units off -------------------------------------------------
    def _on_picture_click(self, _mark, content) -> None:
        """A click on the grid (bqplot sends its place in axis units): switch the
        channel under it off, or back on."""
        data = (content or {}).get("data") or {}
        if self.channel is not None or len(self.shape) < 2:
            return
        x, y = (float(data.get(k, np.nan)) for k in ("click_x", "click_y"))
        unit = clicked_unit(x, y, self.shape)
        if unit is not None:
            self._toggle(unit)

    def _on_bar_click(self, _mark, content) -> None:
        """A click on a unit's bar: switch that unit off, or back on."""
        index = ((content or {}).get("data") or {}).get("index")
        xs = self.vector.bars.x
        if index is None or len(self.shape) != 1 or not 0 <= index < len(xs):
            return
        unit = int(round(float(xs[index])))
        if 0 <= unit < self.shape[0]:
            self._toggle(unit)

    def _on_off_box(self, change) -> None:
        """A person ticked or unticked "switched off" for the channel shown alone."""
        if not self.from_user or self.channel is None:
            return
        if change["new"] != (self.channel in self.state.switched_off()):
            self._toggle(self.channel)
        self._sync_off_box(self.state.switched_off())  # (a refused switch unticks it)

    def _toggle(self, unit: int) -> None:
        try:
            self.state.toggle_unit(self.state.layer, int(unit))
        except Exception as err:  # noqa: BLE001 - shown, never raised into the kernel
            self.show_error(str(err))

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
