"""LogReader: every scalar and hyperparameter under a TensorBoard log folder, read
incrementally (each file from where the last read stopped).

A run is a folder holding event files, named by its path relative to the log folder
(``"."`` for the folder itself), as TensorBoard names it. Every event file of a run is
followed, not only the newest.
"""

from __future__ import annotations

import os
import struct
import threading
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .events import decode_records
from .records import FOOTER, HEADER, MAX_RECORD, split_records

#: How many of the latest messages (skipped bytes, removed runs) are kept.
MAX_MESSAGES = 50
#: Bytes read from a file at once (a bigger file is read in several reads).
CHUNK = 64 << 20


def is_event_file(name: str) -> bool:
    """Whether TensorBoard would read a file of this name (``*tfevents*``)."""
    return "tfevents" in name


class _Local:
    """Files on this machine."""

    def exists(self, path: str) -> bool:
        return os.path.isdir(path)

    def walk(self, top: str):
        for folder, dirs, files in os.walk(top):
            dirs.sort()
            yield folder, files

    def stat(self, path: str) -> tuple[int, object] | None:
        """``(size, identity)``: a file replaced under the same name has a new identity."""
        try:
            st = os.stat(path)
        except OSError:
            return None
        return st.st_size, (st.st_dev, st.st_ino)

    def read(self, path: str, offset: int, size: int) -> bytes:
        with open(path, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def relpath(self, path: str, top: str) -> str:
        return os.path.relpath(path, top)


class _GFile(_Local):
    """Cloud folders (``gs://``, ``s3://``, ``hdfs://``) through TensorFlow's
    ``tf.io.gfile``, as TensorBoard reads them."""

    def __init__(self):
        import tensorflow as tf

        self.gfile = tf.io.gfile

    def exists(self, path: str) -> bool:
        return self.gfile.isdir(path)

    def walk(self, top: str):
        for folder, dirs, files in self.gfile.walk(top):
            dirs.sort()
            yield folder, files

    def stat(self, path: str) -> tuple[int, object] | None:
        try:
            return self.gfile.stat(path).length, None  # object stores: no identity
        except Exception:  # noqa: BLE001 - gone, or not reachable now
            return None

    def read(self, path: str, offset: int, size: int) -> bytes:
        with self.gfile.GFile(path, "rb") as f:
            f.seek(offset)
            return f.read(size)

    def relpath(self, path: str, top: str) -> str:
        rel = path[len(top.rstrip("/")) :].strip("/")
        return rel or "."


def _filesystem(logdir: str):
    return _GFile() if "://" in logdir else _Local()


@dataclass
class _File:
    """One event file: where reading stopped and what it held."""

    path: str
    run: str
    offset: int = 0
    identity: object = None
    head: bytes = b""  # its first bytes: a file replaced under the same name differs
    series: dict = field(default_factory=dict)  # tag -> [steps, values, walls] (lists)
    hparams: dict = field(default_factory=dict)
    other: Counter = field(default_factory=Counter)


@dataclass
class Poll:
    """What one :meth:`LogReader.poll` found."""

    points: int = 0  # new scalar values
    bytes_read: int = 0
    changed: set = field(default_factory=set)  # (run, tag) with new values
    added: list = field(default_factory=list)  # new runs
    removed: list = field(default_factory=list)  # runs whose files are gone
    hparams: list = field(default_factory=list)  # runs with new hyperparameters
    messages: list = field(default_factory=list)  # skipped bytes, rewritten files


class LogReader:
    """Follow a TensorBoard log folder: each :meth:`poll` reads only what was appended
    to each event file since the last one (a corrupted record is skipped and said, an
    incomplete one at the end waits for the rest).

    Parameters
    ----------
    logdir : str or path
        The folder (it may not exist yet: polls wait for it). ``gs://``, ``s3://`` and
        other URLs are read through ``tf.io.gfile`` (TensorFlow needed).

    Attributes
    ----------
    bytes_read : int
        Bytes read and parsed so far (a second poll of an unchanged folder reads none;
        a file that grew is also checked to be the same file by its first 32 bytes).
    messages : list of str
        The latest things skipped or noticed, newest last.

    Examples
    --------
    >>> import tempfile
    >>> from nnwidgets.logs import LogReader, write_scalars
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_scalars(f"{folder}/a", "loss", [1, 2], [0.5, 0.25])
    >>> reader = LogReader(folder)
    >>> reader.poll().points, reader.runs()
    (2, ['a'])
    >>> reader.poll().bytes_read  # nothing new
    0
    """

    def __init__(self, logdir):
        self.logdir = os.fspath(logdir)
        self._fs = _filesystem(self.logdir)
        self._files: dict[str, _File] = {}
        self._by_run: dict[str, list[_File]] = {}  # run -> its files, by path
        self._plugins: dict[str, dict] = {}  # run -> tag -> plugin name
        self._lock = threading.RLock()
        self.bytes_read = 0
        self.messages: list[str] = []
        self.other: Counter = Counter()  # non-scalar summaries seen, by kind

    # -- reading -------------------------------------------------------------
    @property
    def exists(self) -> bool:
        return self._fs.exists(self.logdir)

    def poll(self) -> Poll:
        """Read what is new under the folder; returns what changed."""
        with self._lock:
            result = Poll()
            if not self._fs.exists(self.logdir):
                self._forget(list(self._files), result)
                return result
            found = self._list()
            self._forget([p for p in self._files if p not in found], result)
            for path, run in found.items():
                self._read_file(path, run, result)
            self.bytes_read += result.bytes_read
            self._say(result.messages)
            return result

    def _list(self) -> dict[str, str]:
        found = {}
        for folder, files in self._fs.walk(self.logdir):
            events = sorted(f for f in files if is_event_file(f))
            if not events:
                continue
            run = self._fs.relpath(folder, self.logdir).replace(os.sep, "/")
            for name in events:
                found[f"{folder.rstrip('/')}/{name}"] = run
        return found

    def _forget(self, paths: list[str], result: Poll) -> None:
        runs = set()
        for path in paths:
            entry = self._files.pop(path)
            runs.add(entry.run)
            result.changed.update((entry.run, tag) for tag in entry.series)
            self._by_run[entry.run] = [f for f in self._by_run[entry.run] if f is not entry]
        for run in sorted(r for r in runs if not self._by_run[r]):
            del self._by_run[run]
            self._plugins.pop(run, None)
            result.removed.append(run)
            result.messages.append(f"run {run!r} was removed from the folder")

    def _read_file(self, path: str, run: str, result: Poll) -> None:
        entry = self._files.get(path)
        if entry is None:
            if run not in self._by_run:
                result.added.append(run)
            entry = self._files[path] = _File(path, run)
            self._by_run[run] = sorted([*self._by_run.get(run, []), entry], key=lambda f: f.path)
        stat = self._fs.stat(path)
        if stat is None:
            return  # removed between the listing and now: the next poll forgets it
        size, identity = stat
        if entry.identity is None:
            entry.identity = identity
        if size != entry.offset and not self._same_file(entry, size, identity):
            result.messages.append(f"{self._name(path)} was rewritten: read again from the start")
            result.changed.update((run, tag) for tag in entry.series)
            fresh = _File(path, run, identity=identity)
            self._by_run[run] = [fresh if f is entry else f for f in self._by_run[run]]
            self._files[path] = entry = fresh
        while size > entry.offset:
            if not self._read_chunk(entry, size, result):
                break

    def _same_file(self, entry: _File, size: int, identity) -> bool:
        """Whether the file at ``entry.path`` is still the one read so far (not
        shrunk, not replaced: same inode and the same first bytes)."""
        if size < entry.offset or identity != entry.identity:
            return False
        if not entry.head:
            return True
        try:
            return self._fs.read(entry.path, 0, len(entry.head)) == entry.head
        except OSError:
            return True  # unreadable now: the read that follows says so

    def _read_chunk(self, entry: _File, size: int, result: Poll) -> bool:
        """Read and decode up to :data:`CHUNK` bytes (more for one bigger record);
        returns whether reading moved on."""
        path, run = entry.path, entry.run
        want = min(size - entry.offset, CHUNK)
        try:
            blob = self._fs.read(path, entry.offset, want)
            if want < size - entry.offset and len(blob) >= 8:
                (length,) = struct.unpack_from("<Q", blob)
                if HEADER + length + FOOTER > want and length <= MAX_RECORD:  # one big record
                    want = min(size - entry.offset, HEADER + length + FOOTER)
                    blob = self._fs.read(path, entry.offset, want)
        except OSError as err:
            result.messages.append(f"could not read {self._name(path)}: {err}")
            return False
        result.bytes_read += len(blob)
        if entry.offset == 0:
            entry.head = blob[:32]
        framed = split_records(blob, entry.offset)
        result.messages += [f"{self._name(path)}: {s}" for s in framed.skipped]
        decoded = decode_records(
            blob, framed.starts, framed.lengths, self._plugins.setdefault(run, {})
        )
        result.messages += [f"{self._name(path)}: {e}" for e in decoded.errors]
        entry.offset += framed.end
        entry.other.update(decoded.other)
        self.other.update(decoded.other)
        if decoded.hparams:
            entry.hparams = {**entry.hparams, **decoded.hparams}
            result.hparams.append(run)
        self._store(entry, decoded, result)
        return framed.end > 0 and len(blob) == want

    def _store(self, entry: _File, decoded, result: Poll) -> None:
        if not decoded.tags:
            return
        tags = np.concatenate(decoded.tags)
        steps, values, walls = (
            np.concatenate(a) for a in (decoded.steps, decoded.values, decoded.walls)
        )
        names, inverse = np.unique(tags.astype(str), return_inverse=True)
        for i, tag in enumerate(names.tolist()):
            keep = inverse == i
            series = entry.series.setdefault(tag, [[], [], []])
            for column, part in zip(series, (steps, values, walls), strict=True):
                column.append(part[keep])
                if len(column) > 16:  # many small reads: keep one array
                    column[:] = [np.concatenate(column)]
            result.changed.add((entry.run, tag))
        result.points += len(tags)

    def _name(self, path: str) -> str:
        return self._fs.relpath(path, self.logdir)

    def _say(self, messages: list[str]) -> None:
        if messages:
            self.messages = [*self.messages, *messages][-MAX_MESSAGES:]

    # -- what was read ---------------------------------------------------------
    def runs(self) -> list[str]:
        """The runs found, sorted."""
        with self._lock:
            return sorted(self._by_run)

    def _tags_of(self, run: str) -> list[str]:
        return sorted({tag for f in self._by_run.get(run, ()) for tag in f.series})

    def hparam_runs(self) -> list[str]:
        """The runs that logged hyperparameters, sorted."""
        with self._lock:
            return sorted(r for r, files in self._by_run.items() if any(f.hparams for f in files))

    def tags(self, run: str | None = None) -> list[str]:
        """The scalar tags of one run, or of all runs, sorted."""
        with self._lock:
            if run is not None:
                return self._tags_of(run)
            return sorted({t for f in self._files.values() for t in f.series})

    def series(self, run: str, tag: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """``(steps, values, wall_times)`` of one run's tag, in file order."""
        with self._lock:
            parts = [f.series[tag] for f in self._by_run.get(run, ()) if tag in f.series]
            if not parts:
                return np.zeros(0, np.int64), np.zeros(0), np.zeros(0)
            steps, values, walls = (
                np.concatenate([a for p in parts for a in p[i]]) for i in range(3)
            )
            if len(parts) > 1 and np.any(np.diff(walls) < 0):  # files written at once
                order = np.argsort(walls, kind="stable")
                steps, values, walls = steps[order], values[order], walls[order]
            return steps, values, walls

    def scalars(self):
        """Every scalar as a pandas DataFrame: ``run``, ``tag``, ``step``, ``value``,
        ``wall_time`` (runs and tags sorted, each series in the order written)."""
        import pandas as pd

        with self._lock:
            columns = {k: [] for k in ("run", "tag", "step", "value", "wall_time")}
            for run in self.runs():
                for tag in self._tags_of(run):
                    steps, values, walls = self.series(run, tag)
                    columns["run"].append(np.full(len(steps), run, dtype=object))
                    columns["tag"].append(np.full(len(steps), tag, dtype=object))
                    columns["step"].append(steps)
                    columns["value"].append(values)
                    columns["wall_time"].append(walls)
        empty = {"run": object, "tag": object, "step": np.int64, "value": float}
        empty["wall_time"] = float
        return pd.DataFrame(
            {k: np.concatenate(v) if v else np.zeros(0, dtype=empty[k]) for k, v in columns.items()}
        )

    def hparams(self):
        """One row per run that logged hyperparameters (TensorBoard's HParams plugin):
        a ``run`` column, then one column per hyperparameter (sorted by name)."""
        import pandas as pd

        with self._lock:
            rows: dict[str, dict] = {}
            for run, files in sorted(self._by_run.items()):
                for f in files:
                    if f.hparams:
                        rows[run] = {**rows.get(run, {}), **f.hparams}
        names = sorted({name for row in rows.values() for name in row})
        frame = pd.DataFrame(
            [{"run": run, **rows[run]} for run in sorted(rows)], columns=["run", *names]
        )
        return frame if len(frame) else pd.DataFrame({"run": []})


def read_scalars(logdir):
    """Every scalar under ``logdir`` as a DataFrame with columns ``run``, ``tag``,
    ``step``, ``value``, ``wall_time``; scalar and scalar-tensor events alike.

    >>> import tempfile
    >>> from nnwidgets.logs import write_scalars
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_scalars(f"{folder}/b/train", "epoch_loss", [0, 1], [0.9, 0.5])
    >>> read_scalars(folder)[["run", "tag", "step", "value"]].values.tolist()
    [['b/train', 'epoch_loss', 0, 0.8999999761581421], ['b/train', 'epoch_loss', 1, 0.5]]
    """
    reader = LogReader(logdir)
    reader.poll()
    return reader.scalars()


def read_hparams(logdir):
    """The hyperparameters of every run under ``logdir`` (TensorBoard's HParams plugin:
    ``hp.hparams``, ``hp.KerasCallback``): one row per run, one column per name.

    >>> import tempfile
    >>> from nnwidgets.logs import write_hparams
    >>> folder = tempfile.mkdtemp()
    >>> _ = write_hparams(f"{folder}/lr_0.1", {"lr": 0.1, "optimizer": "sgd"})
    >>> read_hparams(folder).to_dict("records")
    [{'run': 'lr_0.1', 'lr': 0.1, 'optimizer': 'sgd'}]
    """
    reader = LogReader(logdir)
    reader.poll()
    return reader.hparams()
