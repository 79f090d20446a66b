"""Test and benchmark helpers: a comm that records what would be sent to the browser."""

from __future__ import annotations

import json
import time
import uuid
from contextlib import contextmanager


class MessageLog(list):
    """Every message the recording comms saw, as ``(kind, comm_id, data, nbytes)``."""

    def bytes(self, since: int = 0) -> int:
        """Bytes (JSON plus binary buffers) sent from message ``since`` on."""
        return sum(m[3] for m in self[since:])

    def states(self, since: int = 0) -> list[dict]:
        """The ``state`` dicts of update and open messages from ``since`` on."""
        return [m[2].get("state", {}) for m in self[since:] if isinstance(m[2], dict)]


def _size(data, buffers) -> int:
    text = json.dumps(data, default=str)
    return len(text) + sum(memoryview(b).nbytes for b in buffers or ())


class RecordingComm:
    """Stands in for a kernel comm; records ``open`` and ``send`` into a log."""

    kernel = "recording"

    def __init__(self, log: MessageLog, data=None, buffers=None, comm_id=None, **_):
        self.comm_id = comm_id or uuid.uuid4().hex
        self.log = log
        log.append(("open", self.comm_id, data or {}, _size(data, buffers)))

    def send(self, data=None, metadata=None, buffers=None):
        self.log.append(("send", self.comm_id, data or {}, _size(data, buffers)))

    def on_msg(self, callback):
        pass

    def open(self, *args, **kwargs):
        pass

    def close(self, *args, **kwargs):
        pass


@contextmanager
def recording_comms():
    """Within the block, new widgets get a :class:`RecordingComm`; yields the log.

    >>> import ipywidgets
    >>> with recording_comms() as log:
    ...     s = ipywidgets.IntSlider()
    ...     s.value = 3
    >>> log[-1][2]["state"]
    {'value': 3}
    """
    import comm

    log = MessageLog()
    original = comm.create_comm
    comm.create_comm = lambda **kwargs: RecordingComm(log, **kwargs)
    try:
        yield log
    finally:
        comm.create_comm = original


def wait_for(predicate, timeout: float = 60.0, poll: float = 0.01) -> None:
    """Wait until ``predicate()`` is true (a background fit's progress, say); raise
    ``TimeoutError`` after ``timeout`` seconds.

    >>> wait_for(lambda: True)
    """
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError(f"timed out after {timeout} s waiting for {predicate}")
        time.sleep(poll)
