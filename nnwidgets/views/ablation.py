"""What is switched off (``ModelState.ablation``), and what it changes."""

from __future__ import annotations

import html

import ipywidgets as W
import numpy as np
from traitlets import Float, Int, Tuple

from ..compute import ablation as A
from ..compute import outputs as O
from .base import ModelView
from .panels import close_tree, status_html

#: Units listed per layer (the rest are counted).
LISTED = 12


class AblationView(ModelView):
    """The units switched off, and their effect on the selected input and on all inputs.

    Lists each layer with units switched off (``state.ablation``), with a button that
    switches them back on, and "restore all" (``state.ablation = {}``). Below: the
    selected input's prediction with and without them (top class and probability, or
    the output's values), and over the state's inputs the accuracy with and without
    them (a ``"classes"`` first output with labels), how many predictions changed and
    the mean absolute change of the output. The weights are never touched: the
    predictions with units switched off come from
    :func:`~nnwidgets.compute.ablation.predict_batches`, those without are cached
    until the weights change. Nothing is computed while nothing is switched off.

    Parameters
    ----------
    state : ModelState
    max_samples : int
        Inputs the effect is measured on: the first ``max_samples`` (default 2000).

    Attributes
    ----------
    accuracy : tuple
        ``(without, with)`` the units switched off, over the inputs measured; ``()``
        without labels, for another kind of output, or when nothing is off
        (read-only).
    changed : int
        Predictions changed by switching the units off: predicted classes, or
        samples whose output moved (read-only).
    mean_change : float
        Mean absolute change of the first output's values (read-only).
    measured : int
        How many inputs the effect was measured on (0 when nothing is off; read-only).
    summaries : tuple of str
        The selected input's prediction ``(without, with)`` the units switched off,
        or ``()`` (read-only).

    Examples
    --------
    >>> import nnwidgets as nw
    >>> x, y = nw.datasets.load_digits(40)
    >>> state = nw.ModelState(nw.datasets.demo_model(), x, y)
    >>> view = AblationView(state)
    >>> state.ablation = {"dense": tuple(range(64))}  # every unit of "dense" off
    >>> view.changed >= 0, len(view.accuracy), view.measured
    (True, 2, 40)
    >>> view.restore_all.click()
    >>> state.ablation, view.accuracy
    ({}, ())
    >>> view.close()
    """

    follows = ("input_index", "version", "output_kinds")

    max_samples = Int(2000, min=1, help="Inputs the effect is measured on.").tag(option=True)
    accuracy = Tuple(read_only=True, help="Accuracy (without, with) the units switched off.")
    changed = Int(0, read_only=True, help="Predictions changed by switching units off.")
    mean_change = Float(0.0, read_only=True, help="Mean absolute change of the output.")
    measured = Int(0, read_only=True, help="Inputs the effect was measured on.")
    summaries = Tuple(read_only=True, help="The selected input's prediction (without, with).")

    def build(self) -> tuple:
        self.heading = W.HTML()
        self.rows = W.VBox()
        self.restore_all = W.Button(description="restore all", icon="undo")
        self.restore_all.layout.width = "120px"
        self.restore_all.on_click(lambda _button: self._restore(None))
        self.selected = W.HTML()
        self.overall = W.HTML()
        self._shown: dict | None = None  # the ablation the rows list
        self._cache: dict = {}  # "before" / "after" -> (key, outputs)
        self.add_class("nnw-ablation")
        return (
            self.message,
            self.heading,
            self.rows,
            self.restore_all,
            self.selected,
            self.overall,
        )

    def render(self) -> None:
        state, key = self.state, self.weights_key()
        ablation = state.ablation_at(key)
        self._list(ablation)
        if not ablation:
            self._clear()
            return
        if state.n_inputs == 0:
            self._clear()
            raise ValueError("no inputs to measure the effect on: pass inputs= to ModelState")
        self.defer(lambda: self._measure(ablation, key))

    # -- what is switched off ------------------------------------------------
    def _list(self, ablation: dict) -> None:
        """One row per layer with units off, each with its "restore" button."""
        self.restore_all.disabled = not ablation
        if ablation == self._shown:
            return
        old, self._shown = self.rows.children, dict(ablation)
        self.rows.children = [self._row(name, units) for name, units in ablation.items()]
        for row in old:
            close_tree(row)
        self.heading.value = _heading(ablation)

    def _row(self, name: str, units: tuple) -> W.HBox:
        button = W.Button(description="restore", icon="undo", tooltip=f"switch {name} back on")
        button.layout.width = "90px"
        button.on_click(lambda _button: self._restore(name))
        try:
            count = f" of {self.state.units(name)}"
        except ValueError:
            count = ""
        text = W.HTML(
            f'<div style="font-size:12px"><b>{html.escape(name)}</b>: {len(units)}{count} '
            f"off \u00b7 {_listed(units)}</div>"
        )
        return W.HBox([button, text], layout=W.Layout(align_items="center"))

    def _restore(self, layer) -> None:
        try:
            self.state.restore(layer)
        except Exception as err:  # noqa: BLE001 - shown, never raised into the kernel
            self.show_error(str(err))

    # -- what it changes -----------------------------------------------------
    def _measure(self, ablation: dict, key) -> None:
        state = self.state
        n = min(state.n_inputs, self.max_samples)
        before = self._outputs("before", state.unablated_key(), n, None)
        after = self._outputs("after", key, n, ablation)
        kind = state.output_kinds[0] if state.output_kinds else "other"
        activation = state.output_activation(0)
        labels = [state.label(i) for i in range(n)] if state.label(0) is not None else None
        effect = A.compare(before, after, kind, labels, activation)
        self._show_selected(before, after, kind, activation, ablation)
        with self.hold_trait_notifications():
            self.set_trait("accuracy", effect.accuracy)
            self.set_trait("changed", effect.changed)
            self.set_trait("mean_change", effect.mean_change)
            self.set_trait("measured", effect.n)
        self.overall.value = _effect_html(effect, kind, self._output_name())

    def _outputs(self, which: str, key, n: int, ablation) -> np.ndarray:
        """The first output for the first ``n`` inputs, cached on ``key``."""
        state = self.state
        cache_key = (key, id(state.inputs), n, tuple(ablation.items()) if ablation else ())
        kept = self._cache.get(which)
        if kept is not None and kept[0] == cache_key:
            return kept[1]
        x = state.inputs
        x = [a[:n] for a in x] if isinstance(x, list) else x[:n]
        out = A.predict_batches(state.model, x, ablation)
        first = out[0] if isinstance(out, list) else out
        self._cache[which] = (cache_key, first)
        return first

    def _show_selected(self, before, after, kind: str, activation: str, ablation) -> None:
        state = self.state
        index = state.input_index
        if index >= len(before):  # beyond the inputs measured: this one alone
            before = self._one(index, None)
            after = self._one(index, ablation)
            index = 0
        label, names = state.label(), state.class_names(0)
        texts = tuple(
            O.summary(kind, out[index], label, names, activation) for out in (before, after)
        )
        self.set_trait("summaries", texts)
        self.selected.value = (
            f'<div style="font-size:12px">input {state.input_index}{self._output_name()}:<br>'
            f"\u2003without: {html.escape(texts[0])}<br>"
            f"\u2003<b>with units off: {html.escape(texts[1])}</b></div>"
        )

    def _one(self, index: int, ablation) -> np.ndarray:
        x = self.state.inputs
        x = [a[index : index + 1] for a in x] if isinstance(x, list) else x[index : index + 1]
        out = A.predict_batches(self.state.model, x, ablation)
        return out[0] if isinstance(out, list) else out

    def _output_name(self) -> str:
        names = self.state.output_names
        return f" (output {names[0]!r})" if len(names) > 1 else ""

    def _clear(self) -> None:
        with self.hold_trait_notifications():
            self.set_trait("accuracy", ())
            self.set_trait("changed", 0)
            self.set_trait("mean_change", 0.0)
            self.set_trait("measured", 0)
            self.set_trait("summaries", ())
        self.selected.value = self.overall.value = ""


def _listed(units: tuple) -> str:
    """``"units 1, 4, 9"``, the first :data:`LISTED` of them."""
    more = ", \u2026" if len(units) > LISTED else ""
    return "units " + ", ".join(str(u) for u in units[:LISTED]) + more


def _heading(ablation: dict) -> str:
    if not ablation:
        return status_html(
            "Nothing is switched off. Click a channel in the activations (or tick "
            '"switched off" beside the channel slider) to set its output to 0.'
        )
    total = sum(len(units) for units in ablation.values())
    layers = "layer" if len(ablation) == 1 else "layers"
    units = "unit" if total == 1 else "units"
    return (
        f'<div style="font-size:13px"><b>Switched off</b>: {total} {units} in '
        f"{len(ablation)} {layers}</div>"
    )


def _effect_html(effect: A.Effect, kind: str, output: str) -> str:
    n = effect.n
    parts = []
    if effect.accuracy:
        before, after = effect.accuracy
        parts.append(f"accuracy {before:.1%} \u2192 <b>{after:.1%}</b>")
    elif kind == "classes":
        parts.append("no labels: accuracy not measured")
    else:
        parts.append(f"a {kind} output: no accuracy; compared are its values")
    what = "predicted classes" if kind == "classes" else "outputs"
    parts.append(f"{effect.changed} of {n} {what} changed")
    parts.append(f"mean absolute change of the output {O.number(effect.mean_change)}")
    inputs = "input" if n == 1 else "inputs"
    return (
        f'<div style="font-size:12px">over {n} {inputs}{output}: '
        + " \u00b7 ".join(parts)
        + "</div>"
    )
