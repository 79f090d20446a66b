"""Widgets that choose: the layer picker and the input picker."""

from __future__ import annotations

import ipywidgets as W
import numpy as np

from .. import data as _data
from ..imaging import encode_png, finite_range, to_rgb, upscale_nearest
from .panels import status_html


class LayerPicker(W.VBox):
    """Lists every layer with its type, output shape and parameter count.

    Choosing one sets ``state.layer``; setting ``state.layer`` elsewhere moves the
    selection.

    >>> picker = LayerPicker(state)  # doctest: +SKIP
    >>> picker.select.value = "dense"  # doctest: +SKIP
    """

    def __init__(self, state, rows: int = 14, **kwargs):
        self.state = state
        self.select = W.Select(
            options=self._options(),
            value=state.layer or None,
            description="Layer",
            rows=min(rows, max(len(state.layer_names), 2)),
            layout=W.Layout(width="98%"),
            style={"description_width": "48px"},
        )
        self.select.add_class("nnw-layer-picker")
        self.status = W.HTML()
        super().__init__([self.select, self.status], **kwargs)
        self.select.observe(self._on_select, names="value")
        state.observe(self._on_state_layer, names="layer")
        state.observe(self._on_layer_names, names=["layer_names", "version"])

    def _options(self):
        return [(self.state.layer_info(n).label(), n) for n in self.state.layer_names]

    def _on_select(self, change):
        if change["new"] is None or change["new"] == self.state.layer:
            return
        try:
            self.state.layer = change["new"]
            self.status.value = ""
        except Exception as err:  # noqa: BLE001 - shown to the user, state unchanged
            self.status.value = status_html(str(err), error=True)

    def _on_state_layer(self, change):
        if self.select.value != change["new"]:
            self.select.value = change["new"]

    def _on_layer_names(self, change):
        options = self._options()
        if list(options) != [tuple(o) for o in self.select.options]:
            self.select.options = options
            self.select.value = self.state.layer or None


def sample_picture(x: np.ndarray) -> np.ndarray | None:
    """An input sample as an ``(h, w)`` or ``(h, w, 3)`` uint8 picture.

    2-D samples (grey images, ``steps × features``) and ``(h, w, 1|3|4)`` images are
    drawn directly; vectors as a one-row strip; token ids (integer vectors) give None.
    """
    x = np.asarray(x)
    if x.ndim == 0:
        x = x.reshape(1)
    if x.ndim == 3 and x.shape[-1] in (1, 3, 4):
        x = x[..., 0] if x.shape[-1] == 1 else x[..., :3]
    elif x.ndim == 1:
        if x.dtype.kind in "iu" and x.size > 1:
            return None
        x = x.reshape(1, -1)
    elif x.ndim != 2:
        x = x.reshape(x.shape[0], -1)
    if x.dtype == np.uint8:
        lo, hi = 0.0, 255.0
    else:
        lo, hi = finite_range(x)
    if x.ndim == 3:
        with np.errstate(all="ignore"):
            scaled = np.clip((np.nan_to_num(x.astype(np.float64)) - lo) / (hi - lo) * 255, 0, 255)
        return scaled.astype(np.uint8)
    return to_rgb(x, lo, hi, "gray")


class InputPicker(W.VBox):
    """Shows the selected input, its label and the model's prediction; a slider picks.

    >>> InputPicker(state).slider.value = 3  # doctest: +SKIP
    """

    def __init__(self, state, **kwargs):
        self.state = state
        n = max(state.n_inputs, 1)
        self.slider = W.IntSlider(
            value=state.input_index,
            min=0,
            max=n - 1,
            description="Input",
            continuous_update=False,
            style={"description_width": "48px"},
        )
        self.prev = W.Button(
            icon="chevron-left", tooltip="previous input", layout=W.Layout(width="36px")
        )
        self.next = W.Button(
            icon="chevron-right", tooltip="next input", layout=W.Layout(width="36px")
        )
        self.image = W.Image(
            format="png",  # a border, so that a dark digit stays framed on a dark page
            layout=W.Layout(width="160px", height="160px", border="1px solid #888"),
        )
        self.image.add_class("nnw-input-image")
        self.text = W.HTML()
        self.caption = W.HTML()
        controls = W.HBox([self.slider, self.prev, self.next])
        super().__init__([controls, W.HBox([self.image, self.caption]), self.text], **kwargs)
        self.slider.observe(self._on_slider, names="value")
        self.prev.on_click(lambda _: self._step(-1))
        self.next.on_click(lambda _: self._step(+1))
        state.observe(self._on_state, names=["input_index", "version"])
        self.draw()

    def _step(self, delta: int):
        if self.state.n_inputs:
            self.slider.value = (self.slider.value + delta) % self.state.n_inputs

    def _on_slider(self, change):
        if self._syncing:
            return
        try:
            self.state.input_index = change["new"]
        except Exception as err:  # noqa: BLE001
            self.text.value = status_html(str(err), error=True)

    _syncing = False

    def _on_state(self, change):
        self._syncing = True
        try:
            with self.slider.hold_sync():
                self.slider.value = min(self.slider.value, self.state.input_index)
                self.slider.max = max(self.state.n_inputs - 1, 0)
                self.slider.value = self.state.input_index
        finally:
            self._syncing = False
        self.draw()

    def draw(self) -> None:
        """Redraw the picture and the label / prediction line (errors become a status)."""
        try:
            with self.state.drawing():
                self._draw()
        except Exception as err:  # noqa: BLE001 - shown, never raised into the kernel
            self.caption.value = status_html(f"cannot show this input: {err}", error=True)

    def _draw(self) -> None:
        state = self.state
        if state.n_inputs == 0:
            self.caption.value = status_html("no inputs: pass inputs= to ModelState")
            return
        x = state.inputs[0] if isinstance(state.inputs, list) else state.inputs
        sample = x[state.input_index]
        pic = sample_picture(sample)
        if pic is None:
            self.image.layout.display = "none"
            tokens = " ".join(str(int(t)) for t in sample[:64])
            self.text.value = f'<code style="font-size:11px">{tokens}</code>'
        else:
            self.image.layout.display = None
            self.image.value = encode_png(upscale_nearest(pic, 128))
            self.text.value = ""
        self.caption.value = self._caption(sample)

    def _caption(self, sample) -> str:
        state = self.state
        rows = [f"<b>input {state.input_index}</b> of {state.n_inputs}"]
        if state.labels is not None:
            rows.append(f"label: <b>{_data.label_text(state.labels[state.input_index])}</b>")
        try:
            rows.append(f"predicted: <b>{_data.prediction_text(state.prediction())}</b>")
        except Exception as err:  # noqa: BLE001 - the model failed on this sample
            rows.append(f'<span style="color:#d0021b">prediction failed: {err}</span>')
        bad = np.sum(~np.isfinite(np.asarray(sample, dtype=np.float64)))
        if bad:
            rows.append(f'<span style="color:#d0021b">\u26a0 {bad} NaN/Inf values</span>')
        return '<div style="font-size:13px;padding-left:8px">' + "<br>".join(rows) + "</div>"
