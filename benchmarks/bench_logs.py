"""What reading TensorBoard logs with :mod:`nnwidgets.logs` costs, beside tbparse.

Side by side in one run (no assertions; goals in brackets):

- ``read_scalars``: every scalar of a log folder laid out as Keras' TensorBoard callback
  writes it (20 runs: ``runK/train`` and ``runK/validation`` for K < 10; ``batch_loss`` and
  ``batch_accuracy`` every batch; ``epoch_loss``, ``epoch_accuracy`` and
  ``epoch_learning_rate`` (train) or ``evaluation_loss_vs_iterations`` (validation)
  every epoch), 250,000 and 1,000,000 scalars, against
  ``tbparse.SummaryReader(logdir, pivot=False, extra_columns={"dir_name",
  "wall_time"}).tensors`` (the constructor and ``.tensors`` timed), alternating, after
  one warm-up read each; the median seconds, tbparse's time over ours, and whether both
  found every row [>= 5x faster];
- ``reload``: a :class:`~nnwidgets.logs.LogReader` that read the whole folder polls
  again after k = 1,000, 10,000 and 100,000 records were appended to its files (spread
  over the runs' train files): bytes read against bytes appended [equal], and the
  poll's time per appended record against the first full read's [about 1x: a poll
  costs what was appended, not the folder's size];
- ``unchanged``: a poll when nothing changed, on a folder of 1,000 runs (one small
  file each; and on the 20 runs above): the folder listed and one ``stat`` per file.

The data is written with :func:`~nnwidgets.logs.write_scalars` into a temporary
folder, deleted at the end.

Run from the repository root::

    .venv/bin/python -m benchmarks.bench_logs            # about 3 minutes
    .venv/bin/python -m benchmarks.bench_logs --quick    # 250,000 scalars only

Needs tbparse (the ``test`` extra).
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import tempfile
import time
from pathlib import Path

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from benchmarks import median_ms, print_table  # noqa: E402

RUNS = 10
EPOCHS = 100
TRAIN_EPOCH_TAGS = ("epoch_loss", "epoch_accuracy", "epoch_learning_rate")
VALIDATION_EPOCH_TAGS = ("epoch_loss", "epoch_accuracy", "evaluation_loss_vs_iterations")
BATCH_TAGS = ("batch_loss", "batch_accuracy")
APPENDS = (1_000, 10_000, 100_000)
MANY_RUNS = 1_000


# -- data ---------------------------------------------------------------------------
def _batches_per_epoch(total: int) -> int:
    """Batches per epoch so that the folder holds ``total`` scalars."""
    per_epoch = total // (RUNS * EPOCHS) - len(TRAIN_EPOCH_TAGS) - len(VALIDATION_EPOCH_TAGS)
    batches, rest = divmod(per_epoch, len(BATCH_TAGS))
    if rest or batches < 1:
        raise ValueError(f"{total:,} scalars do not split into {RUNS} runs x {EPOCHS} epochs")
    return batches


def write_keras_like(folder: Path, total: int, seed: int = 0) -> dict[str, str]:
    """Write ``total`` scalars as Keras would over ``EPOCHS`` epochs of ``RUNS`` runs,
    one tag and one epoch per :func:`write_scalars` call; returns each train run's file
    (run -> path)."""
    from nnwidgets.logs import write_scalars

    rng = np.random.default_rng(seed)
    batches = _batches_per_epoch(total)
    start = 1.7e9
    files: dict[str, str] = {}
    for k in range(RUNS):
        train, validation = f"run{k}/train", f"run{k}/validation"
        for epoch in range(EPOCHS):
            steps = np.arange(epoch * batches, (epoch + 1) * batches)
            walls = start + steps * 0.01
            for tag in BATCH_TAGS:
                files[train] = write_scalars(
                    folder / train, tag, steps, rng.random(batches), walls, files.get(train)
                )
            end = walls[-1:]
            for run, tags in ((train, TRAIN_EPOCH_TAGS), (validation, VALIDATION_EPOCH_TAGS)):
                for tag in tags:
                    files[run] = write_scalars(
                        folder / run, tag, [epoch], rng.random(1), end, files.get(run)
                    )
    return {run: path for run, path in files.items() if run.endswith("/train")}


def append_batches(train_files: dict[str, str], k: int, next_step: dict[str, int]) -> int:
    """Append ``k`` batch scalars, spread over the train files (half ``batch_loss``,
    half ``batch_accuracy``); returns the bytes appended."""
    from nnwidgets.logs import write_scalars

    per_file = k // (len(train_files) * len(BATCH_TAGS))
    if per_file * len(train_files) * len(BATCH_TAGS) != k:
        raise ValueError(f"{k:,} records do not split over {len(train_files)} files")
    before = sum(os.path.getsize(p) for p in train_files.values())
    for run, path in train_files.items():
        steps = np.arange(next_step[run], next_step[run] + per_file)
        next_step[run] += per_file
        for tag in BATCH_TAGS:
            write_scalars(Path(path).parent, tag, steps, np.linspace(1, 0, per_file), path=path)
    return sum(os.path.getsize(p) for p in train_files.values()) - before


# -- read_scalars against tbparse -----------------------------------------------------
def _ours(logdir: str) -> int:
    from nnwidgets.logs import read_scalars

    return len(read_scalars(logdir))


def _tbparse(logdir: str) -> int:
    from tbparse import SummaryReader

    return len(SummaryReader(logdir, pivot=False, extra_columns={"dir_name", "wall_time"}).tensors)


def read_all(folder: Path, total: int, repeats: int, tb_repeats: int) -> dict:
    """Median seconds of read_scalars and of tbparse, alternating."""
    logdir = str(folder)
    ours, theirs = [], []
    rows_ours = rows_tb = None
    for i in range(max(repeats, tb_repeats)):
        if i < repeats:
            start = time.perf_counter()
            rows_ours = _ours(logdir)
            ours.append(time.perf_counter() - start)
        if i < tb_repeats:
            start = time.perf_counter()
            rows_tb = _tbparse(logdir)
            theirs.append(time.perf_counter() - start)
    a, b = statistics.median(ours), statistics.median(theirs)
    row = {
        "scalars": total,
        "MB": f"{sum(f.stat().st_size for f in folder.rglob('*tfevents*')) / 1e6:.0f}",
        "nnwidgets s": f"{a:.2f}",
        "tbparse s": f"{b:.2f}",
        "tbparse / nnwidgets": f"{b / a:.1f}x",
        "µs per scalar (nnw / tbparse)": f"{a / total * 1e6:.2f} / {b / total * 1e6:.1f}",
        "rows (nnw / tbparse)": f"{rows_ours:,} / {rows_tb:,}",
        "same rows": "yes" if rows_ours == rows_tb == total else "NO",
        "runs (nnw / tbparse)": f"{repeats} / {tb_repeats}",
    }
    print(row, flush=True)
    return row


# -- reloads -------------------------------------------------------------------------
def reloads(folder: Path, train_files: dict[str, str], total: int, repeats: int) -> list[dict]:
    """A LogReader's first read of the folder, then polls after appends of k records."""
    from nnwidgets.logs import LogReader

    reader = LogReader(folder)
    start = time.perf_counter()
    first = reader.poll()
    first_s = time.perf_counter() - start
    per_record = first_s / first.points
    rows = [
        {
            "poll": "first (whole folder)",
            "records": first.points,
            "bytes read": first.bytes_read,
            "bytes appended": "",
            "poll ms": f"{first_s * 1000:.0f}",
            "µs per record": f"{per_record * 1e6:.2f}",
            "vs first read": "1.0x",
        }
    ]
    print(rows[-1], flush=True)
    step = _batches_per_epoch(total) * EPOCHS
    next_step = dict.fromkeys(train_files, step)
    for k in APPENDS:
        times, ok = [], True
        appended = read = points = 0
        for _ in range(repeats):
            size = append_batches(train_files, k, next_step)
            start = time.perf_counter()
            found = reader.poll()
            times.append(time.perf_counter() - start)
            ok &= found.bytes_read == size and found.points == k
            appended, read, points = appended + size, read + found.bytes_read, points + found.points
        t = statistics.median(times)
        rows.append(
            {
                "poll": f"after appending {k:,} (x{repeats})",
                "records": points,
                "bytes read": read,
                "bytes appended": f"{appended:,}" + ("" if ok else " (NOT EQUAL)"),
                "poll ms": f"{t * 1000:.1f}",
                "µs per record": f"{t / k * 1e6:.2f}",
                "vs first read": f"{t / k / per_record:.1f}x",
            }
        )
        print(rows[-1], flush=True)
    quiet = median_ms(reader.poll, 20)
    rows.append(
        {
            "poll": f"nothing changed ({RUNS * 2} runs)",
            "records": 0,
            "bytes read": reader.poll().bytes_read,
            "bytes appended": 0,
            "poll ms": f"{quiet:.2f}",
            "µs per record": "",
            "vs first read": "",
        }
    )
    print(rows[-1], flush=True)
    return rows


def unchanged_many_runs(folder: Path, repeats: int) -> dict:
    """Polls of an unchanged folder of MANY_RUNS runs (one file of 20 scalars each)."""
    from nnwidgets.logs import LogReader, write_scalars

    for k in range(MANY_RUNS // 2):
        for part in ("train", "validation"):
            path = None
            for tag in ("epoch_loss", "epoch_accuracy"):
                path = write_scalars(
                    folder / f"run{k:03d}" / part, tag, range(10), np.linspace(1, 0, 10), path=path
                )
    files = sum(1 for _ in folder.rglob("*tfevents*"))
    reader = LogReader(folder)
    start = time.perf_counter()
    first = reader.poll()
    first_ms = (time.perf_counter() - start) * 1000
    quiet = median_ms(reader.poll, repeats)
    row = {
        "runs": len(reader.runs()),
        "event files": files,
        "first poll ms": f"{first_ms:.0f} ({first.points:,} scalars)",
        "unchanged poll ms": f"{quiet:.1f}",
        "µs per file": f"{quiet / files * 1000:.0f}",
        "bytes read": reader.poll().bytes_read,
    }
    print(row, flush=True)
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="250,000 scalars only")
    args = parser.parse_args()
    sizes = (250_000,) if args.quick else (250_000, 1_000_000)
    repeats = 3 if args.quick else 5

    began = time.monotonic()
    top = Path(tempfile.mkdtemp(prefix="nnw-bench-logs-"))
    try:
        warm = top / "warm"  # imports (pandas, protobuf, tbparse) out of the timings
        write_keras_like(warm, RUNS * EPOCHS * 10, seed=1)
        _ours(str(warm)), _tbparse(str(warm))
        reads, folders = [], {}
        for total in sizes:
            start = time.monotonic()
            folder = top / f"scalars_{total}"
            folders[total] = (folder, write_keras_like(folder, total))
            print(f"(wrote {total:,} scalars in {time.monotonic() - start:.0f} s)", flush=True)
            tb_repeats = 1 if args.quick or total > 250_000 else 3
            reads.append(read_all(folder, total, repeats, tb_repeats))
        total = sizes[-1]
        reload_rows = reloads(*folders[total], total, 1 if args.quick else 3)
        many = unchanged_many_runs(top / "many_runs", 20)
    finally:
        shutil.rmtree(top, ignore_errors=True)
    print(f"(in all: {time.monotonic() - began:.0f} s)", flush=True)

    print_table("read_scalars against tbparse (goal: >= 5x faster, same rows)", reads)
    print_table(
        f"LogReader on {total:,} scalars: polls after appends "
        "(goal: bytes read = bytes appended, time per record about the first read's)",
        reload_rows,
    )
    print_table(f"a poll when nothing changed, {MANY_RUNS:,} runs", [many])


if __name__ == "__main__":
    main()
