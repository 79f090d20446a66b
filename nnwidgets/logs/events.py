"""Scalars and hyperparameters out of TensorBoard ``Event`` records, fast.

Records from one writer repeat one layout: the same fields in the same places, only
the step, the time, the value (and the tag, at a fixed length) change. So records are
grouped by length, the first of a group is parsed field by field into a *template*
(where the wall time, step, tags and values sit), and every record whose other bytes
equal the template's is read with numpy, all at once. Records that fit no template
(hyperparameters, histograms, images, the file header) are parsed one by one with
TensorBoard's own protobuf classes.

Scalars are read as TensorBoard reads them: ``simple_value`` events (TF 1) and rank-0
tensors of the "scalars" plugin (what ``tf.summary.scalar`` and Keras 3's TensorBoard
callback write).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from .records import gather

PLUGIN_SCALARS = "scalars"
PLUGIN_HPARAMS = "hparams"

FEW = 32  # fewer records of one length are parsed one by one


@dataclass
class Decoded:
    """What one batch of records held."""

    tags: list[np.ndarray] = field(default_factory=list)  # object arrays of str
    steps: list[np.ndarray] = field(default_factory=list)
    values: list[np.ndarray] = field(default_factory=list)
    walls: list[np.ndarray] = field(default_factory=list)
    hparams: dict = field(default_factory=dict)  # name -> value (the last session start)
    other: Counter = field(default_factory=Counter)  # what was not a scalar, by kind
    errors: list[str] = field(default_factory=list)

    def add(self, tags, steps, values, walls) -> None:
        self.tags.append(np.asarray(tags, dtype=object))
        self.steps.append(np.asarray(steps, dtype=np.int64))
        self.values.append(np.asarray(values, dtype=np.float64))
        self.walls.append(np.asarray(walls, dtype=np.float64))


# -- the protobuf wire format, for one record ------------------------------------
def _varint(buf, pos: int) -> tuple[int, int]:
    shift = result = 0
    while True:
        b = buf[pos]
        pos += 1
        result |= (b & 0x7F) << shift
        if not b & 0x80:
            return result, pos
        shift += 7
        if shift > 63:
            raise ValueError("varint too long")


def _fields(buf, pos: int, end: int):
    """``(number, wire_type, start, stop)`` of each field between ``pos`` and ``end``;
    varints and fixed fields give the span of their value."""
    while pos < end:
        key, pos = _varint(buf, pos)
        number, wire = key >> 3, key & 7
        if wire == 0:
            _, stop = _varint(buf, pos)
        elif wire == 1:
            stop = pos + 8
        elif wire == 5:
            stop = pos + 4
        elif wire == 2:
            size, pos = _varint(buf, pos)
            stop = pos + size
        else:
            raise ValueError(f"wire type {wire}")
        if stop > end:
            raise ValueError("field runs past its message")
        yield number, wire, pos, stop
        pos = stop


@dataclass
class Template:
    """Where the changing bytes of a record sit; every other byte is fixed."""

    length: int
    wall: int | None = None  # offset of the float64 wall time
    step: tuple[int, int] | None = None  # (offset, bytes) of the step varint
    values: list = field(default_factory=list)  # [(tag_off, tag_len, val_off, dtype, plugin)]

    def variable(self) -> np.ndarray:
        mask = np.zeros(self.length, bool)
        if self.wall is not None:
            mask[self.wall : self.wall + 8] = True
        if self.step is not None:
            mask[self.step[0] : self.step[0] + self.step[1]] = True
        for tag_off, tag_len, val_off, dtype, _ in self.values:
            mask[tag_off : tag_off + tag_len] = True
            mask[val_off : val_off + np.dtype(dtype).itemsize] = True
        return mask


def template_of(rec: bytes) -> Template | None:
    """The template of one ``Event`` record, or None when it is not made of scalars
    (then it is parsed on its own)."""
    t = Template(len(rec))
    try:
        for number, wire, start, stop in _fields(rec, 0, len(rec)):
            if number == 1 and wire == 1:
                t.wall = start
            elif number == 2 and wire == 0:
                t.step = (start, stop - start)
            elif number == 5 and wire == 2:
                for n2, w2, s2, e2 in _fields(rec, start, stop):
                    if n2 != 1 or w2 != 2:
                        return None
                    value = _value_template(rec, s2, e2)
                    if value is None:
                        return None
                    t.values.append(value)
            else:
                return None
    except (ValueError, IndexError):
        return None
    return t if t.values else None


def _value_template(rec: bytes, start: int, stop: int):
    tag = slot = plugin = None
    for number, wire, s, e in _fields(rec, start, stop):
        if number == 1 and wire == 2:
            tag = (s, e - s)
        elif number == 2 and wire == 5:
            slot = (s, "<f4")
            plugin = plugin or PLUGIN_SCALARS
        elif number == 8 and wire == 2:
            slot = _tensor_slot(rec, s, e)
            if slot is None:
                return None
        elif number == 9 and wire == 2:
            plugin = _plugin_name(rec, s, e)
        else:
            return None
    if tag is None or slot is None or plugin not in (None, PLUGIN_SCALARS):
        return None
    return (tag[0], tag[1], slot[0], slot[1], plugin)


def _tensor_slot(rec: bytes, start: int, stop: int):
    """Where a rank-0 float tensor's value sits, as protobuf reads it: ``tensor_content``
    wins; else ``float_val`` for DT_FLOAT, ``double_val`` for DT_DOUBLE."""
    dtype = content = typed = None
    for number, wire, s, e in _fields(rec, start, stop):
        if number == 1 and wire == 0:
            dtype = _varint(rec, s)[0]
        elif number == 2 and wire == 2:
            if e != s:
                return None  # a shape with dimensions: not a scalar
        elif number == 4 and wire == 2:  # tensor_content
            if content is not None:
                return None
            content = (s, e - s)
        elif number in (5, 6) and wire in (1, 2, 5):  # float_val / double_val
            if typed is not None:
                return None
            typed = (number, s, e - s if wire == 2 else (4 if wire == 5 else 8))
        else:
            return None
    code = {1: "<f4", 2: "<f8"}.get(dtype)
    if code is None:
        return None
    size = np.dtype(code).itemsize
    if content is not None:
        return (content[0], code) if content[1] == size and typed is None else None
    if typed is None or typed[0] != (5 if dtype == 1 else 6) or typed[2] != size:
        return None
    return (typed[1], code)


def _plugin_name(rec: bytes, start: int, stop: int):
    for number, wire, s, e in _fields(rec, start, stop):
        if number == 1 and wire == 2:
            for n2, w2, s2, e2 in _fields(rec, s, e):
                if n2 == 1 and w2 == 2:
                    return bytes(rec[s2:e2]).decode("utf-8", "replace")
    return None


# -- many records with one template, with numpy --------------------------------------
def decode_records(blob: bytes, starts: np.ndarray, lengths: np.ndarray, plugins: dict) -> Decoded:
    """Read the scalars and hyperparameters of the records at ``starts``.

    ``plugins`` maps tags to the plugin their metadata named: TensorFlow writes a
    tag's metadata with its first value only, so it is kept across calls.
    """
    out = Decoded()
    buf = np.frombuffer(blob, dtype=np.uint8)
    order: list[np.ndarray] = []  # record indices of each chunk, to restore file order
    work = []  # (template, matrix, rows) of the records read with numpy
    single: list = []  # the records parsed one by one
    for length, rows in _groups(lengths):
        while len(rows):
            if len(rows) < FEW:  # numpy's cost per call beats parsing a few records
                single += rows.tolist()
                break
            first = bytes(blob[starts[rows[0]] : starts[rows[0]] + length])
            template = template_of(first)
            if template is None:
                single.append(int(rows[0]))
                rows = rows[1:]
                continue
            mat = gather(buf, starts[rows], int(length))
            fits = _fits(mat, template)
            work.append((template, mat[fits], rows[fits]))
            rows = rows[~fits]
    # Values are taken once every plugin name is known: first the names in the
    # metadata of the records parsed alone and of templates naming "scalars", then
    # the values (a tag's metadata may come with its first value only).
    events = _parse(blob, starts, lengths, sorted(single), out)
    for _, event in events:
        _note_plugins(event, plugins)
    work.sort(key=lambda item: any(v[4] is None for v in item[0].values))
    named = [item for item in work if not any(v[4] is None for v in item[0].values)]
    for template, mat, rows in named:
        _apply(mat, rows, template, plugins, out, order)
    _take_values(events, plugins, out, order)
    for template, mat, rows in work[len(named) :]:
        _apply(mat, rows, template, plugins, out, order)
    _restore_order(out, order)
    return out


def _groups(lengths: np.ndarray, budget: int = 1 << 22):
    """``(length, rows)`` of the records of each length, in chunks of bounded bytes."""
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        step = max(1, budget // max(int(length), 1))
        for i in range(0, len(rows), step):
            yield int(length), rows[i : i + step]


def _fits(mat: np.ndarray, template: Template) -> np.ndarray:
    fixed = ~template.variable()
    ok = (mat[:, fixed] == mat[0, fixed]).all(axis=1)
    if template.step is not None:  # the same varint length: continuation bits as the first
        off, size = template.step
        cont = mat[:, off : off + size] & 0x80
        ok &= (cont == mat[0, off : off + size] & 0x80).all(axis=1)
    return ok


def _apply(mat, rows, template: Template, plugins: dict, out: Decoded, order: list) -> None:
    n = len(mat)
    if template.wall is not None:
        walls = mat[:, template.wall : template.wall + 8].copy().view("<f8").ravel()
    else:
        walls = np.zeros(n)
    steps = np.zeros(n, dtype=np.int64)
    if template.step is not None:
        off, size = template.step
        for i in range(size):
            steps |= (mat[:, off + i].astype(np.int64) & 0x7F) << (7 * i)
    for tag_off, tag_len, val_off, dtype, plugin in template.values:
        raw = np.ascontiguousarray(mat[:, tag_off : tag_off + tag_len])
        keys, inverse = np.unique(raw.view(f"V{tag_len}").ravel(), return_inverse=True)
        names = np.array([bytes(k).decode("utf-8", "replace") for k in keys], dtype=object)
        tags = names[inverse.ravel()]
        size = np.dtype(dtype).itemsize
        values = mat[:, val_off : val_off + size].copy().view(dtype).ravel().astype(np.float64)
        keep = np.ones(n, bool)
        for i, name in enumerate(names):
            if plugin == PLUGIN_SCALARS:
                plugins.setdefault(name, PLUGIN_SCALARS)
            elif plugins.get(name) != PLUGIN_SCALARS:  # a tensor whose tag is not a scalar
                drop = inverse.ravel() == i
                keep &= ~drop
                out.other[plugins.get(name) or "tensor"] += int(drop.sum())
        out.add(tags[keep], steps[keep], values[keep], walls[keep])
        order.append(rows[keep])


def _parse(blob, starts, lengths, rows, out: Decoded) -> list:
    """``(index, Event)`` of the records at ``rows``, parsed with protobuf."""
    from tensorboard.compat.proto.event_pb2 import Event

    events = []
    for i in rows:
        data = blob[starts[i] : starts[i] + lengths[i]]
        try:
            events.append((i, Event.FromString(data)))
        except Exception:  # noqa: BLE001 - a record that passed its CRC but is not an Event
            out.errors.append(f"a record at byte {int(starts[i])} is not a TensorBoard event")
    return events


def _note_plugins(event, plugins: dict) -> None:
    for value in event.summary.value:
        name = value.metadata.plugin_data.plugin_name
        if name:
            plugins.setdefault(value.tag, name)


def _take_values(events, plugins: dict, out: Decoded, order: list) -> None:
    for i, event in events:
        found = _event_values(event, plugins, out)
        if found:
            tags, values = zip(*found, strict=True)
            out.add(tags, [event.step] * len(tags), values, [event.wall_time] * len(tags))
            order.append(np.full(len(tags), i))


def _event_values(event, plugins: dict, out: Decoded) -> list:
    if not event.HasField("summary"):
        kind = event.WhichOneof("what")
        if kind not in (None, "file_version"):
            out.other[kind] += 1
        return []
    found = []
    for value in event.summary.value:
        kind = value.WhichOneof("value")
        name = value.metadata.plugin_data.plugin_name
        if name:
            plugins.setdefault(value.tag, name)
        plugin = plugins.get(value.tag)
        if kind == "simple_value":
            found.append((value.tag, value.simple_value))
        elif kind == "tensor" and plugin == PLUGIN_SCALARS:
            number = _scalar_of(value.tensor)
            if number is None:
                out.other["scalars (not rank 0)"] += 1
            else:
                found.append((value.tag, number))
        elif plugin == PLUGIN_HPARAMS:
            _read_hparams(value.metadata.plugin_data.content, out)
        else:
            out.other[plugin or kind or "empty"] += 1
    return found


def _scalar_of(tensor) -> float | None:
    from tensorboard.util import tensor_util

    try:
        array = tensor_util.make_ndarray(tensor)
    except Exception:  # noqa: BLE001 - an unknown dtype
        return None
    if array.size != 1 or array.dtype.kind not in "fiub":
        return None
    return float(array.reshape(-1)[0])


def _read_hparams(content: bytes, out: Decoded) -> None:
    from tensorboard.plugins.hparams import plugin_data_pb2

    try:
        data = plugin_data_pb2.HParamsPluginData.FromString(content)
    except Exception:  # noqa: BLE001
        out.errors.append("an unreadable hyperparameters record")
        return
    if data.WhichOneof("data") != "session_start_info":
        return  # the experiment's definition or a session's end: no values
    for name, value in data.session_start_info.hparams.items():
        kind = value.WhichOneof("kind")
        out.hparams[name] = None if kind in (None, "null_value") else getattr(value, kind)


def _restore_order(out: Decoded, order: list) -> None:
    """Put the chunks' rows back in the order of the records in the file."""
    if len(out.tags) < 2:
        return
    idx = np.concatenate(order)
    perm = np.argsort(idx, kind="stable")
    for name in ("tags", "steps", "values", "walls"):
        setattr(out, name, [np.concatenate(getattr(out, name))[perm]])
