"""The controls of the live plot: steering a background run, and how curves are drawn."""

from __future__ import annotations

import ipywidgets as W

from ..panels import status_html

FOREGROUND_NOTE = (
    "Stop, pause and learning rate act on fits started with plot.fit_in_background(...): "
    "while model.fit runs in a cell, the kernel reads no clicks."
)


class TrainingControls(W.VBox):
    """Stop, Pause / Resume and a learning-rate box for a background run; smoothing,
    log scale and the x axis for the curves.

    The plot links its ``smoothing``, ``log_y`` and ``x_axis`` to these controls.
    """

    def __init__(self, **kwargs):
        # Shown by LiveTrainingPlot.offer_training: a run the viewer starts.
        self.start = W.Button(description="Train", icon="play", layout=W.Layout(display="none"))
        self.start.add_class("nnw-start")
        self.stop = W.Button(description="Stop", icon="stop", disabled=True)
        self.pause = W.ToggleButton(description="Pause", icon="pause", disabled=True)
        self.lr = W.FloatText(
            description="learning rate",
            disabled=True,
            continuous_update=False,
            style={"description_width": "90px"},
            layout=W.Layout(width="210px"),
        )
        self.smoothing = W.FloatSlider(
            value=0.0,
            min=0.0,
            max=0.99,
            step=0.01,
            description="smoothing",
            continuous_update=False,
            style={"description_width": "70px"},
            layout=W.Layout(width="260px"),
        )
        self.log_y = W.Checkbox(value=False, description="log y", indent=False)
        self.log_y.layout.width = "70px"
        self.x_axis = W.ToggleButtons(
            options=[("step", "step"), ("epoch", "epoch")],
            value="step",
            style={"button_width": "60px"},
            tooltips=["x axis in batches", "x axis in epochs"],
        )
        self.message = W.HTML()
        self.stop.add_class("nnw-stop")
        self.pause.add_class("nnw-pause")
        self.stop.tooltip = self.pause.tooltip = FOREGROUND_NOTE
        row1 = W.HBox(
            [self.start, self.stop, self.pause, self.lr], layout=W.Layout(flex_flow="row wrap")
        )
        row2 = W.HBox(
            [self.smoothing, self.log_y, self.x_axis],
            layout=W.Layout(flex_flow="row wrap", align_items="center"),
        )
        super().__init__([row1, row2, self.message], **kwargs)

    def steering(self, job) -> None:
        """Enable the controls for ``job`` (a live BackgroundFit), or disable them."""
        alive = job is not None and job.running
        with self.hold_sync():
            self.start.disabled = alive
            self.stop.disabled = self.pause.disabled = not alive
            self.lr.disabled = not alive or not job.lr_settable
            if not alive:
                self.pause.value = False
        tooltip = "stop after this batch" if alive else FOREGROUND_NOTE
        self.stop.tooltip = self.pause.tooltip = tooltip

    def show_lr(self, lr: float) -> None:
        """Show the learning rate in use (rounded) in the box."""
        self.lr.value = float(f"{lr:.6g}")

    def say(self, text: str, error: bool = False) -> None:
        self.message.value = status_html(text, error=error) if text else ""
