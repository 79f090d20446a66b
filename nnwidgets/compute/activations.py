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

#: Weights whose recordings are kept: a click and a background fit's view refresh may
#: each be drawing with its own.
KEYS_KEPT = 2


class ActivationCache:
    """A byte-bounded LRU of recordings ``(record, output)`` keyed on ``(key, index)``.

    ``key`` says which weights the recording was made with (``ModelState.weights_key``):
    recordings of the :data:`KEYS_KEPT` newest keys are kept, older ones are stale.
    ``masks`` switch units off (see :class:`~nnwidgets.compute.graph.Recorder`); the
    key must tell them apart (``ModelState`` bumps its version when they change).

    Thread-safe, and no thread waits on a forward pass it does not need: the recording
    pass runs outside the cache's lock, and a thread asking for a recording that another
    is making waits for that one instead of making it again. :meth:`clear` also drops
    the recordings being made.

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
        self._keys: list = []  # the keys kept, oldest first
        self._making: dict = {}  # (key, index) -> Event set once its recording is made
        self._generation = 0  # bumped by clear(): recordings begun before are not kept
        self._lock = threading.Lock()  # guards the above; never held while recording

    def __contains__(self, key_index) -> bool:
        return key_index in self._entries

    def clear(self) -> None:
        with self._lock:
            self._entries.clear()
            self._keys.clear()
            self._generation += 1

    def record(self, batch, masks: dict | None = None) -> tuple[dict, object]:
        """Run the recording pass on one batch (no caching), with the units that
        ``masks`` say (``{layer name: bool mask}``) switched off."""
        return self.recorder(batch, masks) if masks else self.recorder(batch)

    def get(self, inputs, index: int, key, masks: dict | None = None) -> tuple[dict, object]:
        """The recording of ``inputs``' sample ``index`` made with weights ``key`` (and
        the units ``masks`` switch off, when it is made)."""
        while True:
            with self._lock:
                entry = self._entries.get((key, index))
                if entry is not None:
                    self.hits += 1
                    self._entries.move_to_end((key, index))
                    return entry[:2]
                made = self._making.get((key, index))
                if made is None:
                    self.misses += 1
                    made = self._making[(key, index)] = threading.Event()
                    generation = self._generation
                    break
            made.wait()  # another thread is making it: take theirs (or make it if it failed)
        try:
            record, out = self.record(_data.take(inputs, index), masks)
            with self._lock:
                if generation == self._generation:
                    self._keep(key, index, record, out)
            return record, out
        finally:
            with self._lock:
                del self._making[(key, index)]
            made.set()

    def put(self, key, index: int, record: dict, out) -> tuple[dict, object]:
        """Keep a recording, dropping the oldest ones beyond :attr:`max_bytes`."""
        with self._lock:
            self._keep(key, index, record, out)
        return record, out

    def _keep(self, key, index: int, record: dict, out) -> None:
        size = sum(math.prod(t.shape) * 4 for v in record.values() for t in _graph.flatten(v))
        if key not in self._keys:
            self._keys.append(key)
            while len(self._keys) > KEYS_KEPT:
                stale = self._keys.pop(0)
                for key_index in [k for k in self._entries if k[0] == stale]:
                    del self._entries[key_index]
        self._entries[(key, index)] = (record, out, size)
        while len(self._entries) > 1 and self._nbytes() > self.max_bytes:
            self._entries.popitem(last=False)

    def _nbytes(self) -> int:
        return sum(entry[2] for entry in self._entries.values())

    @property
    def nbytes(self) -> int:
        """Bytes of the recordings held."""
        with self._lock:
            return self._nbytes()
