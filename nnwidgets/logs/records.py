"""TFRecord framing and CRC-32C, vectorised with numpy: the container of TensorBoard
event files, read and written without TensorFlow.

A record is ``uint64 length | uint32 masked_crc32c(length) | data | uint32
masked_crc32c(data)``. Checking one CRC per record in Python costs more than parsing it;
here the CRCs of all the records of one length are computed together, one column of
bytes at a time.

>>> data = [b"hello", b"world!"]
>>> blob = frame_records(data)
>>> found = split_records(blob)
>>> [blob[s : s + n] for s, n in zip(found.starts, found.lengths)] == data
True
"""

from __future__ import annotations

from dataclasses import dataclass, field
from struct import unpack_from

import numpy as np

HEADER = 12  # length (8 bytes) and its CRC (4 bytes)
FOOTER = 4  # the data's CRC
MAX_RECORD = 1 << 31  # a longer "length" is a corrupted header
# Data CRCs are checked up to this length (scalars, hyperparameters, small tensors);
# longer records (images, graphs) are summaries no reader here parses for values.
CHECKED = 4096


def _table() -> np.ndarray:
    poly = 0x82F63B78  # CRC-32C (Castagnoli), reflected
    table = np.arange(256, dtype=np.uint32)
    for _ in range(8):
        table = np.where(table & 1, (table >> 1) ^ poly, table >> 1).astype(np.uint32)
    return table


_TABLE = _table()
_LIST = _TABLE.tolist()


def _crc32c_bytes(data: bytes) -> int:
    crc = 0xFFFFFFFF
    table = _LIST
    for b in data:
        crc = table[(crc ^ b) & 0xFF] ^ (crc >> 8)
    return crc ^ 0xFFFFFFFF


def crc32c_rows(rows: np.ndarray) -> np.ndarray:
    """CRC-32C of each row of a ``(n, L)`` uint8 matrix, as ``uint32``.

    >>> hex(int(crc32c_rows(np.frombuffer(b"123456789", np.uint8)[None])[0]))
    '0xe3069283'
    """
    rows = np.asarray(rows, dtype=np.uint8)
    if rows.shape[0] <= 40:  # a few rows: a plain loop beats one numpy call per column
        return np.array([_crc32c_bytes(bytes(r)) for r in rows], dtype=np.uint32)
    crc = np.full(rows.shape[0], 0xFFFFFFFF, dtype=np.uint32)
    for j in range(rows.shape[1]):
        crc = _TABLE[(crc ^ rows[:, j]) & 0xFF] ^ (crc >> 8)
    return crc ^ np.uint32(0xFFFFFFFF)


def masked(crc: np.ndarray) -> np.ndarray:
    """TFRecord's masked CRC: rotate right by 15 and add a constant."""
    crc = crc.astype(np.uint64)
    return ((((crc >> 15) | (crc << 17)) + 0xA282EAD8) & 0xFFFFFFFF).astype(np.uint32)


def gather(buf: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """The ``(len(starts), length)`` matrix of the bytes at ``starts``."""
    return buf[starts[:, None] + np.arange(length)]


def _crc_at(buf: np.ndarray, starts: np.ndarray, length: int) -> np.ndarray:
    """Masked CRCs of the ``length`` bytes at each of ``starts``, in bounded chunks."""
    step = max(1, (1 << 21) // max(length, 1))
    parts = [
        masked(crc32c_rows(gather(buf, starts[i : i + step], length)))
        for i in range(0, len(starts), step)
    ]
    return np.concatenate(parts) if parts else np.zeros(0, np.uint32)


def _stored_crc(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    return gather(buf, at, 4).copy().view("<u4").ravel()


@dataclass
class Framed:
    """What :func:`split_records` found in a block of bytes."""

    starts: np.ndarray  # where each good record's data starts
    lengths: np.ndarray  # and its length
    end: int  # bytes consumed (an incomplete record at the end is left for later)
    skipped: list[str] = field(default_factory=list)  # what was corrupted, in words


def split_records(blob: bytes, base: int = 0) -> Framed:
    """Frame the records of ``blob`` (bytes read at file offset ``base``): check
    every length and data CRC, skip corrupted records (and resynchronise after a
    corrupted length), and stop before an incomplete record at the end.

    >>> bad = bytearray(frame_records([b"aaaa", b"bbbb", b"cccc"]))
    >>> bad[12 + 4 + 4 + 12 + 1] ^= 0xFF  # a flipped bit in the second record's data
    >>> f = split_records(bytes(bad))
    >>> [bytes(bad[s : s + 4]) for s in f.starts], f.skipped
    ([b'aaaa', b'cccc'], ['1 corrupted record at byte 20'])
    """
    buf = np.frombuffer(blob, dtype=np.uint8)
    n = len(blob)
    starts: list[int] = []
    skipped: list[str] = []
    pos = 0
    while True:
        found: list[int] = []
        stop = _frame_run(blob, pos, n, found)
        if found:  # a plausible but corrupted length sends the walk into the data
            ok = _header_ok(buf, np.asarray(found, dtype=np.int64))
            if not ok.all():
                first = int(np.argmin(ok))
                starts += found[:first]
                pos = _skip(buf, found[first], n, base, skipped)
                continue
            starts += found
        pos = stop
        if pos + HEADER > n:
            break
        if _header_ok(buf, np.array([pos]))[0] and unpack_from("<Q", blob, pos)[0] <= MAX_RECORD:
            break  # a good header whose record is not all written yet
        pos = _skip(buf, pos, n, base, skipped)
    starts_a = np.asarray(starts, dtype=np.int64)
    lengths = gather(buf, starts_a, 8).copy().view("<u8").ravel().astype(np.int64)
    data_starts = starts_a + HEADER
    keep = np.ones(len(starts_a), bool)
    for length in np.unique(lengths[lengths <= CHECKED]):
        rows = np.flatnonzero(lengths == length)
        crc = _crc_at(buf, data_starts[rows], int(length))
        bad = rows[crc != _stored_crc(buf, data_starts[rows] + length)]
        keep[bad] = False
        for i in bad:
            skipped.append(f"1 corrupted record at byte {base + int(starts_a[i])}")
    return Framed(data_starts[keep], lengths[keep], pos, skipped)


def _frame_run(blob: bytes, pos: int, n: int, starts: list[int]) -> int:
    """Follow the lengths from ``pos`` while whole records fit; returns where it stopped."""
    append = starts.append
    while pos + HEADER <= n:
        (length,) = unpack_from("<Q", blob, pos)
        end = pos + HEADER + length + FOOTER
        if end > n:
            break
        append(pos)
        pos = end
    return pos


def _header_ok(buf: np.ndarray, at: np.ndarray) -> np.ndarray:
    return _crc_at(buf, at, 8) == _stored_crc(buf, at + 8)


def _skip(buf: np.ndarray, bad: int, n: int, base: int, skipped: list[str]) -> int:
    """Skip the corrupted bytes from ``bad`` to the next valid header; say so."""
    found = _resync(buf, bad + 1, n)
    skipped.append(f"{found - bad} corrupted bytes at byte {base + bad}")
    return found


def _resync(buf: np.ndarray, pos: int, n: int) -> int:
    """The first position at or after ``pos`` with a valid length CRC (``n`` if none)."""
    window = 1 << 16
    while pos + HEADER <= n:
        stop = min(n - HEADER + 1, pos + window)
        at = np.arange(pos, stop, dtype=np.int64)
        ok = _header_ok(buf, at)
        hit = np.flatnonzero(ok)
        if len(hit):
            return int(at[hit[0]])
        pos = stop
    return max(pos, n - HEADER + 1) if n >= HEADER else n


def frame_records(payloads: list[bytes]) -> bytes:
    """The TFRecord bytes of ``payloads`` (CRCs computed together, by length)."""
    lengths = np.array([len(p) for p in payloads], dtype=np.uint64)
    heads = lengths.astype("<u8").view(np.uint8).reshape(-1, 8)
    head_crc = masked(crc32c_rows(heads))
    data_crc = np.zeros(len(payloads), np.uint32)
    for length in np.unique(lengths):
        rows = np.flatnonzero(lengths == length)
        mat = np.frombuffer(b"".join(payloads[i] for i in rows), np.uint8)
        mat = mat.reshape(len(rows), int(length))
        data_crc[rows] = masked(crc32c_rows(mat))
    parts = []
    for i, payload in enumerate(payloads):
        parts += [heads[i].tobytes(), head_crc[i : i + 1].astype("<u4").tobytes()]
        parts += [payload, data_crc[i : i + 1].astype("<u4").tobytes()]
    return b"".join(parts)
