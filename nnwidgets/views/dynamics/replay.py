"""One input watched while the model learns: its outputs and its Grad-CAM at every
snapshot, replayed."""

from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
from traitlets import Int, Tuple, Unicode

from ...compute import display as D
from ...compute import outputs as O
from ...compute import overlay as V
from ...compute.imaging import encode_png, upscale_nearest
from ...training.dynamics import _one
from ..panels import BarPanel, PicturePanel, fit_title, status_html
from ..samples import sample_picture
from .base import DynamicsView

#: How strongly a Grad-CAM map covers the input picture.
OPACITY = 0.55


class InputReplay(DynamicsView):
    """The watched input's output of the selected layer, and the model's prediction,
    at the snapshot nearest the step shown (move the step slider to replay).

    Under it, for image inputs, the input's Grad-CAM at the snapshot nearest the step
    shown (``recorder.explanations``): the map over the input picture, its layer, and
    the class explained (the label's, else the one predicted then).

    "Watch input N" watches the input selected in the state instead (its snapshots
    start again from the next record).

    Attributes
    ----------
    watched : int
        The input whose snapshots are kept (read-only: use the button or
        ``recorder.snapshots.watch(index)``).
    snapshot_steps : tuple of int
        The steps of the snapshots kept (read-only).
    shape : tuple of int
        Shape of the output drawn (read-only).
    cam_step : int or None
        Step of the Grad-CAM map shown (None: none shown; read-only).
    cam_layer : str
        Its layer (read-only).
    cam_class : int or None
        The class it explains (read-only).
    cam_note : str
        What the Grad-CAM part says: the map shown, or why there is none (read-only).
    """

    follows = ("layer", "input_index")
    watched = Int(0, read_only=True, help="The input watched.")
    snapshot_steps = Tuple(read_only=True, help="Steps of the snapshots kept.")
    shape = Tuple(read_only=True, help="Shape of the output drawn.")
    cam_step = Int(None, allow_none=True, read_only=True, help="Step of the map shown.")
    cam_layer = Unicode("", read_only=True, help="Layer of the Grad-CAM map shown.")
    cam_class = Int(None, allow_none=True, read_only=True, help="Class the map explains.")
    cam_note = Unicode("", read_only=True, help="The map shown, or why there is none.")

    def build(self) -> tuple:
        self.watch = W.Button(description="Watch input 0", layout=W.Layout(width="160px"))
        self.watch.add_class("nnw-watch")
        self.watch.on_click(self._on_watch)
        self.panel = PicturePanel("Watched input", width="440px", height="300px")
        self.vector = BarPanel("Watched input", "unit", "value", width="440px", height="260px")
        self.prediction = W.HTML()
        layout = dict(width="120px", height="120px", border="1px solid #888")
        self.cam_images = [W.Image(format="png", layout=W.Layout(**layout)) for _ in range(2)]
        self.cam_images[1].add_class("nnw-replay-cam")
        self.cam_caption = W.HTML()
        self.add_class("nnw-replay")
        figures = (self.panel.figure, self.panel.bar, self.vector.figure)
        cam = W.VBox([W.HBox(self.cam_images), self.cam_caption])
        return (self.watch, self.message, *figures, self.prediction, cam)

    def _on_watch(self, _button=None) -> None:
        self.recorder.watch(self.state.input_index)
        self.draw()

    def render(self) -> None:
        self._render_outputs()
        self._render_cam()

    def _render_outputs(self) -> None:
        snaps = self.recorder.snapshots
        self.set_trait("watched", snaps.index)
        selected = self.state.input_index
        self.watch.description = f"Watch input {selected}"
        self.watch.disabled = selected == snaps.index
        items = snaps.log.items()
        self.set_trait("snapshot_steps", tuple(s for s, _ in items))
        found = snaps.log.at(self.recorder.step)
        if found is None:
            text = (
                snaps.error or f"input {snaps.index}: no snapshot yet (one is taken while training)"
            )
            self._hide()
            self.message.value = status_html(text, error=bool(snaps.error))
            return
        step, shot = found
        layer = self.state.layer
        if layer not in shot.outputs:
            self._hide()
            self.message.value = status_html(f"{layer}: no output recorded for this input")
            return
        self._draw(shot.outputs[layer].astype(np.float32), step, len(items))
        self.prediction.value = self._prediction(shot.prediction[0])

    def _draw(self, a: np.ndarray, step: int, count: int) -> None:
        self.set_trait("shape", tuple(int(n) for n in a.shape))
        full = f"input {self.recorder.snapshots.index} at step {step}"
        pic = D.activation_picture(a, per_channel=True)
        if pic is None:
            self.vector.figure.title = fit_title(
                self.state.layer, full, limit=self.vector.title_chars
            )
            self.vector.show(np.arange(a.size), a.reshape(-1))
        else:
            self.panel.figure.title = fit_title(
                self.state.layer, full, limit=self.panel.title_chars
            )
            self.panel.show(pic, "viridis", caption=f"{self.state.layer}: {full}")
        self._show(pic is not None)
        self.message.value = status_html(f"snapshot at step {step} ({count} kept)")

    def _prediction(self, out: np.ndarray) -> str:
        kind = self.state.output_kinds[0] if self.state.output_kinds else "other"
        if kind in ("classes", "multilabel") and out.ndim == 1:
            probs = O.probabilities(out, self.state.output_activation(0))
            names = self.state.class_names(0)
            top = O.top_k(probs, 3)
            text = ", ".join(f"{O.class_name(int(i), names)} {probs[i]:.0%}" for i in top)
        elif kind == "regression" and out.size <= 8:
            text = ", ".join(f"{v:.4g}" for v in out.reshape(-1))
        else:
            text = f"{kind} output {tuple(out.shape)}, mean {np.nanmean(out):.3g}"
        return f'<div style="font-size:12px">prediction then: {html.escape(text)}</div>'

    def _show(self, picture: bool) -> None:
        for widget, shown in (
            (self.panel.figure, picture),
            (self.panel.bar, picture),
            (self.vector.figure, not picture),
        ):
            widget.layout.display = None if shown else "none"

    def _hide(self) -> None:
        self.set_trait("shape", ())
        self.prediction.value = ""
        for widget in (self.panel.figure, self.panel.bar, self.vector.figure):
            widget.layout.display = "none"

    # -- Grad-CAM ------------------------------------------------------------------------
    def _render_cam(self) -> None:
        self.recorder.follow_layer()  # (compiles in the background, or nothing)
        cams = self.recorder.explanations
        found = cams.log.at(self.recorder.step)
        if found is None:
            self._cam_none(self._cam_missing(cams))
            return
        step, shot = found
        picture = sample_picture(_first_input(self.state.inputs, cams.index))
        if picture is None:
            self._cam_none("Grad-CAM replay is for image inputs")
            return
        rgb, _, hi, _ = V.overlay(picture, shot.cam.astype(np.float64), OPACITY)
        for image, pic in zip(self.cam_images, (picture, rgb), strict=True):
            image.value = encode_png(upscale_nearest(_rgb(pic), 120))
            image.layout.display = None
        names = self.state.class_names(0)
        what = "the label" if shot.source == "label" else "predicted then"
        note = (
            f"Grad-CAM of input {cams.index} at {shot.layer}, step {step}: class "
            f"{O.class_name(shot.class_index, names)} ({what}); brightest {hi:.3g}"
        )
        wanted, _ = cams.wanted()
        if wanted is not None and wanted != shot.layer:
            note += f". {wanted} is selected: its maps are recorded from the next fit"
        with self.hold_trait_notifications():
            self.set_trait("cam_step", int(step))
            self.set_trait("cam_layer", shot.layer)
            self.set_trait("cam_class", int(shot.class_index))
            self.set_trait("cam_note", note)
        self.cam_caption.value = f'<div style="font-size:12px">{html.escape(note)}</div>'

    def _cam_missing(self, cams) -> str:
        _, why = cams.wanted()
        if why or cams.error:
            return why or cams.error
        if cams.compiling:
            return "compiling the Grad-CAM maps\u2026"
        if cams.layer is None and self.recorder.session.active:
            return (
                "Grad-CAM maps are compiled before training, never while it runs: they "
                "are recorded from the next fit"
            )
        if cams.layer is None:
            return (
                "Grad-CAM maps are compiled before training (recorder.warm_up()); "
                "none is recorded until then"
            )
        return f"input {cams.index}: no Grad-CAM map yet (one is taken while training)"

    def _cam_none(self, text: str) -> None:
        with self.hold_trait_notifications():
            self.set_trait("cam_step", None)
            self.set_trait("cam_layer", "")
            self.set_trait("cam_class", None)
            self.set_trait("cam_note", text)
        for image in self.cam_images:
            image.layout.display = "none"
        self.cam_caption.value = status_html(text)


def _first_input(inputs, index: int) -> np.ndarray:
    one = _one(inputs, index)
    return np.asarray(one[0] if isinstance(one, list) else one)[0]


def _rgb(picture: np.ndarray) -> np.ndarray:
    return picture if picture.ndim == 3 else np.repeat(picture[..., None], 3, axis=-1)
