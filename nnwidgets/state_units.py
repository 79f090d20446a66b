"""Units switched off (``ModelState.ablation``): the part of the state that says which
units every recording and prediction sets to 0, and since which version."""

from __future__ import annotations

from traitlets import Dict, HasTraits, TraitError, observe, validate

from .compute import ablation as _ablation


class UnitsOff(HasTraits):
    """The :attr:`ablation` trait of :class:`~nnwidgets.state.ModelState` and its
    methods (a mixin: it uses the state's layer table, lock and version)."""

    ablation = Dict(help="Units switched off (output 0): {layer name: tuple of units}.")

    def _init_units_off(self) -> None:
        self._units: dict[str, int] = {}  # units each layer can switch off
        self._ablations: list = [(0, {}, {})]  # (from version, ablation, masks), newest last
        self._ablation_bumps = 0

    @validate("ablation")
    def _validate_ablation(self, proposal):
        return self._checked_ablation(proposal["value"])

    def _checked_ablation(self, value) -> dict:
        def units_of(name: str) -> int:
            if name not in self._table:
                raise ValueError(f"no layer named {name!r}")
            return self.units(name)

        try:
            checked = _ablation.normalise(value, units_of)
        except (TypeError, ValueError) as err:
            raise TraitError(
                f"ModelState.ablation: {err}; layers that can be switched off: {self._ablatable()}"
            ) from None
        return {name: checked[name] for name in self._table if name in checked}  # graph order

    def _ablatable(self) -> str:
        named = []
        for name in self._table:
            try:
                named.append(f"{name!r} ({self.units(name)} units)")
            except ValueError:
                continue
        return ", ".join(named[:20]) + (" ..." if len(named) > 20 else "") or "none"

    @observe("ablation")
    def _on_ablation_change(self, change) -> None:
        new = change["new"]
        masks = _ablation.keep_masks(new, {name: self.units(name) for name in new})
        with self.lock:
            self._ablations = [*self._ablations[-7:], (self.version + 1, new, masks)]
            self._ablation_bumps += 1
            self._bump()

    def units(self, layer: str | None = None) -> int:
        """How many units (channels) a layer's output has on its last axis: what
        :attr:`ablation` can switch off. Raises ``ValueError`` saying why a layer has
        none (inside a composite layer's ``call()``, several output tensors...)."""
        name = self._check_name(layer)
        if name not in self._units:
            layer_obj = self._table[name].layer
            self._units[name] = _ablation.layer_units(
                self._model, name, layer_obj, recorded=lambda: self._recorded(name)
            )
        return self._units[name]

    def _recorded(self, name: str):
        """A layer's recorded output for the selected input (None without inputs)."""
        if self._inputs is None:
            return None
        return self._recording(None, None)[0].get(name)

    def switched_off(self, layer: str | None = None) -> tuple[int, ...]:
        """The units of a layer (default: the selected one) switched off."""
        return self.ablation.get(self._check_name(layer), ())

    def toggle_unit(self, layer: str, unit: int) -> bool:
        """Switch one unit of ``layer`` off, or back on if it was off; returns whether
        it is off now. A bad layer or unit raises ``TraitError`` (nothing changes)."""
        self._checked_ablation({layer: (unit,)})
        off = self.ablation.get(layer, ())
        units = tuple(u for u in off if u != unit) if unit in off else (*off, unit)
        self.ablation = {**self.ablation, layer: units}
        return unit in self.ablation.get(layer, ())

    def restore(self, layer: str | None = None) -> None:
        """Switch the units of ``layer`` back on (every layer's when None)."""
        if layer is None:
            self.ablation = {}
        else:
            self.ablation = {k: v for k, v in self.ablation.items() if k != layer}

    def ablation_at(self, key) -> dict:
        """The :attr:`ablation` in force for the :meth:`weights_key` ``key`` (a view
        drawing with an older key draws what was switched off then)."""
        return self._entry_at(key)[1]

    def _masks_at(self, key) -> dict:
        return self._entry_at(key)[2]

    def _entry_at(self, key) -> tuple:
        entries = self._ablations
        return next((e for e in reversed(entries) if e[0] <= key[0]), entries[0])

    def unablated_key(self) -> tuple[int, int]:
        """Like :meth:`weights_key`, but the same whatever is switched off: what is
        computed from the weights alone (the predictions without ablation) is cached
        on it."""
        with self.lock:
            version, steps = self.weights_key()
            return (version - self._ablation_bumps, steps)
