"""One helper object per model (a compiled computation), cached without keeping the
model alive.

>>> import keras
>>> class Counter(PerModel):
...     pass
>>> m = keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)])
>>> Counter.of(m) is Counter.of(m), Counter.of(m).model is m
(True, True)
"""

from __future__ import annotations

import threading
import weakref


class PerModel:
    """``Subclass.of(model)`` makes one instance per model and keeps it while the
    model lives (each subclass has a cache of its own); ``self.model`` is the model,
    held weakly (``None`` once it is gone)."""

    _made: weakref.WeakKeyDictionary
    _made_lock = threading.Lock()

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        cls._made = weakref.WeakKeyDictionary()

    @classmethod
    def of(cls, model):
        with PerModel._made_lock:
            made = cls._made.get(model)
            if made is None:
                made = cls._made[model] = cls(model)
            return made

    def __init__(self, model):
        self._model = weakref.ref(model)  # (the cache keyed on the model must not keep it)

    @property
    def model(self):
        return self._model()
