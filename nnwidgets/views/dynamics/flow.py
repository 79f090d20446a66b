"""Per-layer dynamics: gradient flow, the update ratio, dead units."""

from __future__ import annotations

import numpy as np
from traitlets import Float, Tuple

from ..panels import status_html
from .base import DynamicsView
from .charts import LayerChart, StepChart

#: The usual update-to-weight ratio of a healthy layer (Karpathy's rule of thumb).
GOOD_RATIO = 1e-3


def _names(names, limit: int = 6) -> str:
    text = ", ".join(names[:limit])
    return text + (f" and {len(names) - limit} more" if len(names) > limit else "")


def _still(row: np.ndarray) -> bool:
    """Whether a layer never moved in the records (a frozen layer)."""
    finite = row[np.isfinite(row)]
    return bool(finite.size) and bool(np.all(finite == 0))


class GradientFlow(DynamicsView):
    """Every layer's gradient norm at the step shown (log scale), and the norms over
    time with the selected layer in orange. Click a layer's point to select it.

    Attributes
    ----------
    shown : tuple of float
        The norms drawn at the step shown, in the order of ``layers`` (read-only).
    layers : tuple of str
        The layers with a gradient, in graph order (read-only).
    """

    shown = Tuple(read_only=True, help="The norms at the step shown.")
    layers = Tuple(read_only=True, help="The layers with a gradient.")

    def build(self) -> tuple:
        self.chart = LayerChart("Gradient norm per layer", "‖∇W‖", True, False, self.pick)
        self.over_time = StepChart("Gradient norm over time", "‖∇W‖")
        self.add_class("nnw-flow")
        return (self.message, self.chart.figure, self.over_time.figure)

    def render(self) -> None:
        probe = self.recorder.dynamics
        step, names, values = self.at_step("gradients")
        if step is None:
            self.message.value = status_html(probe.error or self.waiting(), error=bool(probe.error))
            return
        self.set_trait("layers", tuple(names))
        self.set_trait("shown", tuple(float(v) for v in values))
        self.chart.figure.title = f"Gradient norm per layer at step {step}"
        self.chart.show(names, values, self.state.layer)
        steps, all_names, matrix = self.series("gradients")
        self.over_time.show(steps, matrix, all_names, self.state.layer, step)
        self.message.value = status_html(*self._note(names, values, probe.error))

    def _note(self, names, values, error: str) -> tuple[str, bool]:
        bad = [n for n, v in zip(names, values, strict=True) if not np.isfinite(v)]
        zero = [n for n, v in zip(names, values, strict=True) if v == 0]
        if error:
            return error, True
        if bad:
            return f"\u26a0 NaN / Inf gradients (crosses): {_names(bad)}", True
        if zero:
            return f"zero gradient (not drawn on the log scale): {_names(zero)}", False
        finite = values[np.isfinite(values) & (values > 0)]
        if finite.size > 1:
            ratio = finite.max() / finite.min()
            return f"largest / smallest norm: {ratio:.3g}\u00d7", False
        return "", False


class UpdateRatios(DynamicsView):
    """‖ΔW‖/‖W‖ of one step: every layer's at the step shown (click one to select it),
    and over time, every layer thin, the selected in orange, the usual 1e-3 dotted. A
    frozen layer does not move (ratio 0) and is named.

    Attributes
    ----------
    ratio : float or None
        The selected layer's ratio at the step shown (read-only).
    """

    ratio = Float(None, allow_none=True, read_only=True, help="The selected layer's ratio.")

    def build(self) -> tuple:
        self.per_layer = LayerChart("Update ratio per layer", "‖ΔW‖/‖W‖", True, False, self.pick)
        self.chart = StepChart("Update ratio ‖ΔW‖/‖W‖ per step", "‖ΔW‖/‖W‖")
        self.add_class("nnw-ratios")
        return (self.message, self.per_layer.figure, self.chart.figure)

    def render(self) -> None:
        steps, names, matrix = self.series("ratios")
        step, at_names, values = self.at_step("ratios")
        if not len(steps) or not names:
            self.message.value = status_html(self.waiting())
            return
        self.per_layer.figure.title = f"Update ratio per layer at step {step}"
        self.per_layer.show(at_names, values, self.state.layer)
        self.chart.show(steps, matrix, names, self.state.layer, step, refs=(GOOD_RATIO,))
        frozen = [n for n, row in zip(names, matrix, strict=True) if _still(row)]
        picked = dict(zip(at_names, values, strict=True)).get(self.state.layer)
        text = f"{self.state.layer}: {picked:.3g} at step {step}" if picked is not None else ""
        if frozen:
            text += (" \u00b7 " if text else "") + f"not moving (ratio 0): {_names(frozen)}"
        self.message.value = status_html(text)
        self.set_trait("ratio", picked)


class DeadUnits(DynamicsView):
    """Per layer, the share of units whose output is exactly 0 on every sample of the
    probe batch, at the step shown. Click a bar to select its layer.

    Attributes
    ----------
    shown : tuple of float
        The shares drawn, in the order of ``layers`` (read-only).
    layers : tuple of str
        The layers drawn (read-only).
    """

    shown = Tuple(read_only=True, help="The dead shares at the step shown.")
    layers = Tuple(read_only=True, help="The layers drawn.")

    def build(self) -> tuple:
        self.chart = LayerChart("Dead units per layer", "dead units", False, True, self.pick)
        self.add_class("nnw-dead")
        return (self.message, self.chart.figure)

    def render(self) -> None:
        step, names, values = self.at_step("dead")
        if step is None or not names:
            self.message.value = status_html(self.waiting())
            return
        self.set_trait("layers", tuple(names))
        self.set_trait("shown", tuple(float(v) for v in values))
        self.chart.figure.title = f"Dead units per layer at step {step}"
        self.chart.show(names, values, self.state.layer)
        dead = [f"{n} {v:.0%}" for n, v in zip(names, values, strict=True) if v > 0]
        self.message.value = status_html(
            f"units never active on the probe batch: {_names(dead)}" if dead else "no dead units"
        )
