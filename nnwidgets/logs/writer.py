"""Writing TensorBoard event files without TensorFlow: scalars as ``tf.summary.scalar``
writes them (rank-0 float tensors of the "scalars" plugin) and hyperparameters as the
HParams plugin's ``hp.hparams`` does, so TensorBoard, tbparse and :mod:`nnwidgets.logs`
read them alike.
"""

from __future__ import annotations

import itertools
import os
import socket
import time

import numpy as np

from .records import frame_records

_COUNTER = itertools.count()


def event_file_name(prefix: str = "") -> str:
    """A name as TensorFlow gives event files (``events.out.tfevents.<time>.<host>...``)."""
    host = socket.gethostname()
    return (
        f"events.out.tfevents.{int(time.time())}.{host}.{os.getpid()}.{next(_COUNTER)}{prefix}.v2"
    )


def _scalar_payloads(tag: str, steps, values, walls) -> list[bytes]:
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2

    metadata = summary_pb2.SummaryMetadata(
        plugin_data=summary_pb2.SummaryMetadata.PluginData(plugin_name="scalars")
    )
    out = []
    content = np.asarray(values, dtype="<f4")
    for step, value, wall in zip(steps, content, walls, strict=True):
        tensor = tensor_pb2.TensorProto(dtype=1, tensor_content=value.tobytes())
        tensor.tensor_shape.SetInParent()
        summary = summary_pb2.Summary(
            value=[summary_pb2.Summary.Value(tag=tag, tensor=tensor, metadata=metadata)]
        )
        event = event_pb2.Event(wall_time=float(wall), step=int(step), summary=summary)
        out.append(event.SerializeToString())
    return out


def _header() -> bytes:
    from tensorboard.compat.proto import event_pb2

    return event_pb2.Event(wall_time=time.time(), file_version="brain.Event:2").SerializeToString()


def _append(folder: str, payloads: list[bytes], path: str | None = None) -> str:
    os.makedirs(folder, exist_ok=True)
    if path is None:
        path = os.path.join(folder, event_file_name())
        payloads = [_header(), *payloads]
    with open(path, "ab") as f:
        f.write(frame_records(payloads))
    return path


def write_scalars(folder, tag: str, steps, values, wall_times=None, path=None) -> str:
    """Write one tag's values into a new event file in ``folder`` (a run), or append
    them to ``path``; returns the file's path.

    >>> import tempfile
    >>> path = write_scalars(tempfile.mkdtemp(), "loss", [1, 2], [0.5, 0.4])
    >>> path.split("/")[-1].startswith("events.out.tfevents.")
    True
    """
    steps = np.asarray(steps, dtype=np.int64)
    values = np.asarray(values, dtype=np.float64)
    if steps.shape != values.shape or steps.ndim != 1:
        raise ValueError(
            f"steps and values must be 1-D of one length, got {steps.shape} and {values.shape}"
        )
    if wall_times is None:
        wall_times = np.full(len(steps), time.time())
    return _append(os.fspath(folder), _scalar_payloads(tag, steps, values, wall_times), path)


def write_hparams(folder, hparams: dict, path=None) -> str:
    """Write a run's hyperparameters as ``hp.hparams`` does (TensorBoard's HParams
    plugin: numbers, strings and booleans); returns the file's path."""
    from tensorboard.compat.proto import event_pb2
    from tensorboard.plugins.hparams import summary_v2

    if not isinstance(hparams, dict) or not hparams:
        raise ValueError(f"hparams must be a non-empty dict, got {hparams!r}")
    for name, value in hparams.items():
        if not isinstance(value, (bool, int, float, str)):
            raise ValueError(
                f"hyperparameter {name!r} is a {type(value).__name__}: use a number, string or bool"
            )
    summary = summary_v2.hparams_pb({str(k): v for k, v in hparams.items()})
    event = event_pb2.Event(wall_time=time.time(), step=0, summary=summary)
    return _append(os.fspath(folder), [event.SerializeToString()], path)
