"""One input watched while the model learns: its outputs at every snapshot, replayed."""

from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
from traitlets import Int, Tuple

from ...compute import display as D
from ...compute import outputs as O
from ..panels import BarPanel, PicturePanel, fit_title, status_html
from .base import DynamicsView


class InputReplay(DynamicsView):
    """The watched input's output of the selected layer, and the model's prediction,
    at the snapshot nearest the step shown (move the step slider to replay).

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
    """

    follows = ("layer", "input_index")
    watched = Int(0, read_only=True, help="The input watched.")
    snapshot_steps = Tuple(read_only=True, help="Steps of the snapshots kept.")
    shape = Tuple(read_only=True, help="Shape of the output drawn.")

    def build(self) -> tuple:
        self.watch = W.Button(description="Watch input 0", layout=W.Layout(width="160px"))
        self.watch.add_class("nnw-watch")
        self.watch.on_click(self._on_watch)
        self.panel = PicturePanel("Watched input", width="440px", height="300px")
        self.vector = BarPanel("Watched input", "unit", "value", width="440px", height="260px")
        self.prediction = W.HTML()
        self.add_class("nnw-replay")
        figures = (self.panel.figure, self.panel.bar, self.vector.figure)
        return (self.watch, self.message, *figures, self.prediction)

    def _on_watch(self, _button=None) -> None:
        self.recorder.snapshots.watch(self.state.input_index)
        self.draw()

    def render(self) -> None:
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
