"""nnwidgets.jobs: real training processes writing TensorBoard logs, read back with tbparse.

All jobs start at once (module fixture) so that their TensorFlow imports overlap: two
single-process runs, one that crashes after epoch 1, and a two-worker
MultiWorkerMirroredStrategy run.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
import time

import pytest

from nnwidgets import jobs

if not all(importlib.util.find_spec(m) for m in ("tensorflow", "tbparse")):
    pytest.skip("needs tensorflow and tbparse", allow_module_level=True)

TIMEOUT = 150  # seconds for every job (about 40 s on 2 busy cores)
RUNS = {"a": {"lr": 0.01, "units": 16}, "b": {"lr": 0.2, "units": 8, "optimizer": "sgd"}}


@pytest.fixture(scope="module")
def started(tmp_path_factory):
    logdir = tmp_path_factory.mktemp("runs")
    yield from _start(logdir)


@pytest.fixture(scope="module")
def comparison(started):
    """A RunComparison following the jobs' folder from before they write anything."""
    import nnwidgets as nw

    logdir, _ = started
    view = nw.RunComparison(logdir, interval=0.2)
    yield view
    view.close()


def _start(logdir):
    procs = {
        "mw": jobs.start_multiworker(logdir, "mw", workers=2, epochs=2),
        **dict(zip(RUNS, jobs.start_jobs(logdir, RUNS, epochs=2), strict=True)),
        "crash": jobs.start_jobs(logdir, {"crash": {"crash_after_epoch": 1}}, epochs=4),
    }
    yield logdir, procs
    for p in _flat(procs.values()):
        if p.poll() is None:
            p.kill()
            p.wait()


def _flat(groups):
    return [p for g in groups for p in (g if isinstance(g, list) else [g])]


def _wait(procs, logdir, run) -> list[int]:
    procs = procs if isinstance(procs, list) else [procs]
    try:
        return [p.wait(timeout=TIMEOUT) for p in procs]
    except subprocess.TimeoutExpired:
        pytest.fail(f"{run} still running after {TIMEOUT} s:\n{_output(logdir, run)}")


def _output(logdir, run) -> str:
    folder = logdir / run
    return "\n".join(f"--- {f.name}\n{f.read_text()}" for f in sorted(folder.glob("job*.log")))


def _reader(logdir, run):
    """tbparse's reader of ``logdir/run``, imported here: it imports TensorFlow (7 s of CPU),
    which overlaps the jobs' own imports once they have started."""
    import tbparse

    return tbparse.SummaryReader(str(logdir / run), pivot=False, extra_columns={"dir_name"})


def _steps(logdir, run) -> dict[tuple[str, str], list[int]]:
    """(sub-folder, tag) -> sorted steps of the scalars of ``logdir/run``."""
    frame = _reader(logdir, run).tensors
    return {key: sorted(group.step.tolist()) for key, group in frame.groupby(["dir_name", "tag"])}


def _values(logdir, run, folder, tag) -> list[float]:
    frame = _reader(logdir, run).tensors
    rows = frame[(frame.dir_name == folder) & (frame.tag == tag)].sort_values("step")
    return rows.value.astype(float).tolist()


def _hparams(logdir, run) -> dict:
    frame = _reader(logdir, run).hparams
    return dict(zip(frame.tag, frame.value, strict=True))


def test_unknown_hyperparameter_is_refused_before_any_process(tmp_path):
    with pytest.raises(ValueError, match="unknown hyperparameters \\['lr_'\\]"):
        jobs.start_jobs(tmp_path, {"x": {"lr_": 0.1}})
    assert not (tmp_path / "x").exists()


def test_the_comparison_shows_points_before_the_jobs_end(started, comparison):
    """Followed live: batch points of a running job are drawn while it still runs."""
    _, procs = started
    seen = {}
    deadline = time.monotonic() + TIMEOUT
    while len(seen) < 2 and time.monotonic() < deadline:
        for run in RUNS:
            marks = comparison._marks.get((f"{run}/train", "batch_loss"))
            if run not in seen and marks is not None and len(marks["raw"].x):
                seen[run] = procs[run].poll() is None  # drawn while the job runs?
        if all(procs[r].poll() is not None for r in RUNS) and len(seen) < 2:
            break
        time.sleep(0.05)
    assert seen == {"a": True, "b": True}, seen


def test_the_comparison_reads_what_tbparse_reads(started, comparison):
    from tests.test_logs import same_rows, tbparse_scalars

    logdir, procs = started
    for name in ("mw", *RUNS, "crash"):
        _wait(procs[name], logdir, name)
    comparison.reload()
    same_rows(comparison.scalars(), tbparse_scalars(logdir))
    assert set(comparison.runs) == {"a", "b", "crash", "mw"}  # experiments, not folders
    hparams = comparison.hparams().set_index("run")
    assert hparams.loc["a", "lr"] == 0.01 and hparams.loc["b", "optimizer"] == "sgd"
    assert hparams.loc["mw", "strategy"] == "multiworker"
    # the multi-worker run and the crashed one are drawn like the others
    for run, points in (("mw", 44), ("crash", 46), ("b", 46)):
        marks = comparison._marks[(f"{run}/train", "batch_loss")]
        assert len(marks["raw"].x) == points and marks["raw"].visible, run
    summary = comparison.summary().set_index("run")
    assert summary.loc["crash", "validation/epoch_loss"] == pytest.approx(
        _values(logdir, "crash", "validation", "epoch_loss")[-1], rel=1e-6
    )


def test_the_comparison_survives_corruption_and_reads_only_what_is_appended(started, comparison):
    from nnwidgets.logs import write_scalars

    logdir, procs = started
    for name in RUNS:
        _wait(procs[name], logdir, name)
    comparison.reload()
    (path,) = sorted((logdir / "a" / "train").glob("events*"))
    before = path.stat().st_size
    with open(path, "ab") as f:  # a torn write: garbage, then a good record
        f.write(b"\x17" * 37)
    write_scalars(logdir / "a" / "train", "batch_loss", [47], [0.125], path=str(path))
    poll = comparison.reload()
    assert poll.bytes_read == path.stat().st_size - before  # only what was appended
    assert poll.points == 1 and "37 corrupted bytes" in comparison.status.value
    steps = comparison.follower.reader.series("a/train", "batch_loss")[0]
    assert steps.tolist() == list(range(1, 48))  # everything before and after kept
    assert comparison._marks[("a/train", "batch_loss")]["raw"].y[-1] == 0.125


@pytest.mark.parametrize("run", list(RUNS))
def test_background_jobs_write_scalars_and_hparams(started, run):
    logdir, procs = started
    assert _wait(procs[run], logdir, run) == [0], _output(logdir, run)
    steps = _steps(logdir, run)
    for tag in ("batch_loss", "batch_accuracy"):  # every batch: 23 a epoch
        assert steps[("train", tag)] == list(range(1, 47)), tag
    for folder in ("train", "validation"):
        for tag in ("epoch_loss", "epoch_accuracy"):
            assert steps[(folder, tag)] == [0, 1], (folder, tag)
    losses = _values(logdir, run, "train", "epoch_loss")
    assert losses[1] < losses[0] < 2.4, losses  # it learns (chance is ln 10 = 2.3)
    assert _hparams(logdir, run) == {"lr": 0.01, "units": 32, "optimizer": "adam", **RUNS[run]}


def test_multiworker_run_logs_only_the_chiefs_view(started):
    logdir, procs = started
    codes = _wait(procs["mw"], logdir, "mw")
    output = _output(logdir, "mw")
    assert codes == [0, 0], output
    steps = _steps(logdir, "mw")
    # only the chief wrote, into mw/: no per-worker folders
    assert {folder for folder, _ in steps} == {"train", "validation"}, sorted(steps)
    assert steps[("train", "batch_loss")] == list(range(1, 45))  # 1437 // 64 = 22 a epoch
    assert steps[("train", "epoch_loss")] == [0, 1]
    assert steps[("validation", "epoch_accuracy")] == [0, 1]
    losses = _values(logdir, "mw", "train", "epoch_loss")
    assert losses[1] < losses[0] < 2.4, losses
    assert _hparams(logdir, "mw") == {
        "lr": 0.01, "units": 32.0, "optimizer": "adam", "strategy": "multiworker",
        "workers": 2.0,
    }  # fmt: skip
    # both workers trained the same model: the same losses, reduced over both
    histories = [
        json.loads(line)
        for f in ("job.log", "job-worker1.log")
        for line in (logdir / "mw" / f).read_text().splitlines()
        if line.startswith("{")
    ]
    assert len(histories) == 2 and histories[0] == histories[1], output
    assert histories[0]["loss"] == pytest.approx(losses, rel=1e-5)
    assert "2 replicas in sync" in (logdir / "mw" / "job-worker1.log").read_text()


def test_crashed_job_leaves_the_epochs_before_the_crash(started):
    logdir, procs = started
    (code,) = _wait(procs["crash"], logdir, "crash")
    output = _output(logdir, "crash")
    assert code == 1, output
    assert "crashing after epoch 1" in output
    steps = _steps(logdir, "crash")
    assert steps[("train", "epoch_loss")] == [0, 1]  # of 4 epochs
    assert steps[("validation", "epoch_loss")] == [0, 1]
    assert steps[("train", "batch_loss")] == list(range(1, 47))
    assert _hparams(logdir, "crash")["optimizer"] == "adam"


def test_module_imports_without_tensorflow():
    code = "import sys, nnwidgets.jobs; print('tensorflow' in sys.modules, 'keras' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True,
        env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"},
    )  # fmt: skip
    assert out.stdout.split() == ["False", "False"]
