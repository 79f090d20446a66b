"""Every layer's output for one input, computed once per (weights, input) and cached.

>>> import keras, numpy as np
>>> model = keras.Sequential([keras.Input((2,)), keras.layers.Dense(3, name="d")])
>>> cache = ActivationCache(model)
>>> record, out = cache.get(np.ones((4, 2), "float32"), index=1, key=(0, 0))
>>> tuple(record["d"].shape), cache.hits, cache.misses
((1, 3), 0, 1)
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict

from . import data as _data
from . import graph as _graph

#: Bytes of recorded activations kept at most (the newest entry is always kept).
CACHE_BYTES = 512 * 2**20


class ActivationCache:
    """A byte-bounded LRU of recordings ``(record, output)`` keyed on ``(key, index)``.

    ``key`` says which weights the recording was made with (``ModelState.weights_key``):
    a new key drops every older entry, since they are stale. Thread-safe.

    Parameters
    ----------
    model : keras.Model
        The model whose layers are recorded.
    max_bytes : int
        Bound on the recorded arrays kept (float32 bytes).
    """

    def __init__(self, model, max_bytes: int = CACHE_BYTES):
        self.recorder = _graph.Recorder(model)
        self.max_bytes = max_bytes
        self.hits = self.misses = 0
        self._entries: OrderedDict = OrderedDict()
        self._lock = threading.RLock()

    def __contains__(self, key_index) -> bool:
        return key_index in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()

    def record(self, batch) -> tuple[dict, object]:
        """Run the recording pass on one batch (no caching)."""
        return self.recorder(batch)

    def get(self, inputs, index: int, key) -> tuple[dict, object]:
        """The recording of ``inputs``' sample ``index`` made with weights ``key``."""
        with self._lock:
            entry = self._lookup(key, index)
            if entry is not None:
                self.hits += 1
                return entry
            self.misses += 1
            return self.put(key, index, *self.record(_data.take(inputs, index)))

    def _lookup(self, key, index: int):
        if self._entries and next(reversed(self._entries))[0] != key:
            self._entries.clear()  # the weights changed: older records are stale
        entry = self._entries.get((key, index))
        if entry is not None:
            self._entries.move_to_end((key, index))
        return None if entry is None else entry[:2]

    def put(self, key, index: int, record: dict, out) -> tuple[dict, object]:
        """Keep a recording, dropping the oldest ones beyond :attr:`max_bytes`."""
        size = sum(math.prod(t.shape) * 4 for v in record.values() for t in _graph.flatten(v))
        with self._lock:
            self._entries[(key, index)] = (record, out, size)
            while len(self._entries) > 1 and self.nbytes > self.max_bytes:
                self._entries.popitem(last=False)
        return record, out

    @property
    def nbytes(self) -> int:
        """Bytes of the recordings held."""
        return sum(entry[2] for entry in self._entries.values())
