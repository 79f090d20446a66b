"""nnwidgets.logs: reading TensorBoard event files as tbparse and TensorBoard do,
incrementally, through corruption, deletion and growth."""

from __future__ import annotations

import os
import shutil

import numpy as np
import pandas as pd
import pytest

from nnwidgets.logs import LogReader, read_hparams, read_scalars, write_hparams, write_scalars
from nnwidgets.logs.records import HEADER, crc32c_rows, frame_records, split_records


def tbparse_scalars(logdir) -> pd.DataFrame:
    """tbparse's reading of every scalar (both event kinds), in our columns."""
    from tbparse import SummaryReader

    reader = SummaryReader(str(logdir), pivot=False, extra_columns={"dir_name", "wall_time"})
    tensors = reader.tensors
    if len(tensors):  # .tensors holds every tensor summary: keep rank-0 numbers
        numeric = tensors["value"].map(lambda v: np.ndim(v) == 0 and not isinstance(v, bytes))
        tensors = tensors[numeric]
    frames = [f for f in (reader.scalars, tensors) if len(f)]
    ref = pd.concat(frames).rename(columns={"dir_name": "run"})
    ref["run"] = ref["run"].replace("", ".")
    return ref[["run", "tag", "step", "value", "wall_time"]]


def same_rows(ours: pd.DataFrame, ref: pd.DataFrame) -> None:
    key = ["run", "tag", "step", "wall_time"]
    a = ours.sort_values(key, kind="stable").reset_index(drop=True)
    b = ref.sort_values(key, kind="stable").reset_index(drop=True)
    assert len(a) == len(b) > 0
    assert a["run"].tolist() == b["run"].tolist()
    assert a["tag"].tolist() == b["tag"].tolist()
    np.testing.assert_array_equal(a["step"].to_numpy(), b["step"].to_numpy())
    np.testing.assert_allclose(a["value"].to_numpy(float), b["value"].to_numpy(float), rtol=1e-6)
    np.testing.assert_allclose(a["wall_time"].to_numpy(), b["wall_time"].to_numpy())


@pytest.fixture(scope="module")
def keras_logs(tmp_path_factory):
    """Two runs by Keras' own TensorBoard callback and TensorBoard's hp.KerasCallback,
    plus tf.summary scalars, a histogram and an image in a third run."""
    import keras
    import tensorflow as tf
    from tensorboard.plugins.hparams import api as hp

    root = tmp_path_factory.mktemp("logs")
    rng = np.random.default_rng(0)
    x, y = rng.normal(size=(64, 4)).astype("float32"), rng.integers(0, 2, 64)
    for name, lr in (("lr_0.01", 0.01), ("lr_0.1", 0.1)):
        model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(2, activation="softmax")])
        model.compile(
            keras.optimizers.SGD(lr), "sparse_categorical_crossentropy", metrics=["accuracy"]
        )
        callbacks = [
            keras.callbacks.TensorBoard(str(root / name), update_freq=1),
            hp.KerasCallback(str(root / name), {"lr": lr, "optimizer": "sgd", "units": 2}),
        ]
        model.fit(
            x, y, epochs=3, batch_size=16, validation_split=0.25, verbose=0, callbacks=callbacks
        )
    writer = tf.summary.create_file_writer(str(root / "misc"))
    with writer.as_default():
        for step in range(5):
            tf.summary.scalar("custom/metric", step * 0.5, step=step)
            tf.summary.histogram("weights", rng.normal(size=100), step=step)
            tf.summary.image("picture", rng.random((1, 4, 4, 1)), step=step)
    writer.close()
    return root


def test_read_scalars_equals_tbparse_on_keras_logs(keras_logs):
    ours = read_scalars(keras_logs)
    assert list(ours.columns) == ["run", "tag", "step", "value", "wall_time"]
    same_rows(ours, tbparse_scalars(keras_logs))
    runs = set(ours["run"])
    assert {"lr_0.01/train", "lr_0.01/validation", "lr_0.1/train", "misc"} <= runs
    tags = set(ours.loc[ours["run"] == "lr_0.1/validation", "tag"])
    assert {"epoch_loss", "epoch_accuracy"} <= tags
    assert set(ours.loc[ours["run"] == "misc", "tag"]) == {"custom/metric"}  # no histogram


def test_non_scalar_summaries_are_counted_not_read(keras_logs):
    reader = LogReader(keras_logs)
    reader.poll()
    assert reader.other["histograms"] == 5 and reader.other["images"] == 5
    steps, values, _ = reader.series("misc", "custom/metric")
    assert steps.tolist() == [0, 1, 2, 3, 4] and values.tolist() == [0.0, 0.5, 1.0, 1.5, 2.0]


def test_read_hparams_equals_tbparse(keras_logs):
    from tbparse import SummaryReader

    ours = read_hparams(keras_logs).set_index("run")
    assert ours.loc["lr_0.1", "lr"] == pytest.approx(0.1)
    assert ours.loc["lr_0.01", "optimizer"] == "sgd" and ours.loc["lr_0.01", "units"] == 2
    ref = SummaryReader(str(keras_logs), pivot=False, extra_columns={"dir_name"}).hparams
    for row in ref.itertuples():
        assert ours.loc[row.dir_name, row.tag] == pytest.approx(row.value)


def test_simple_value_events_are_scalars(tmp_path):
    from tensorboard.compat.proto import event_pb2, summary_pb2

    events = [
        event_pb2.Event(
            step=s,
            wall_time=100.0 + s,
            summary=summary_pb2.Summary(
                value=[summary_pb2.Summary.Value(tag="old/loss", simple_value=1.0 / (s + 1))]
            ),
        ).SerializeToString()
        for s in range(4)
    ]
    (tmp_path / "events.out.tfevents.1.host").write_bytes(frame_records(events))
    frame = read_scalars(tmp_path)
    assert frame["run"].unique().tolist() == ["."]
    np.testing.assert_allclose(frame["value"], [1, 0.5, 1 / 3, 0.25], rtol=1e-6)
    same_rows(frame, tbparse_scalars(tmp_path))


def test_crc32c_matches_tensorboard():
    from tensorboard.compat.tensorflow_stub.pywrap_tensorflow import masked_crc32c

    from nnwidgets.logs.records import masked

    data = [b"", b"a", b"tensorboard", bytes(range(200))]
    for item in data:
        ours = masked(crc32c_rows(np.frombuffer(item, np.uint8)[None]))[0]
        assert int(ours) == masked_crc32c(item)


def test_a_second_poll_reads_only_what_was_appended(tmp_path):
    path = write_scalars(tmp_path / "run", "loss", range(100), np.linspace(1, 0, 100))
    reader = LogReader(tmp_path)
    first = reader.poll()
    assert first.points == 100 and first.bytes_read == os.path.getsize(path)
    assert reader.poll().bytes_read == 0
    before = os.path.getsize(path)
    write_scalars(tmp_path / "run", "loss", [100, 101], [0.1, 0.05], path=path)
    second = reader.poll()
    assert second.bytes_read == os.path.getsize(path) - before
    assert second.points == 2 and second.changed == {("run", "loss")}
    assert reader.series("run", "loss")[0][-3:].tolist() == [99, 100, 101]


def test_an_incomplete_record_waits_for_the_rest(tmp_path):
    whole = frame_records([b"x" * 10, b"y" * 10])
    found = split_records(whole[:-5])
    assert len(found.starts) == 1 and found.end == HEADER + 10 + 4 and not found.skipped
    path = write_scalars(tmp_path / "run", "loss", range(3), [3.0, 2.0, 1.0])
    blob = open(path, "rb").read()
    extra = open(write_scalars(tmp_path / "spare", "loss", [3], [0.5]), "rb").read()
    shutil.rmtree(tmp_path / "spare")
    tail = split_records(extra)
    record = extra[tail.starts[-1] - HEADER :]  # the last record: the value at step 3
    with open(path, "ab") as f:
        f.write(record[:20])  # half written
    reader = LogReader(tmp_path)
    assert reader.poll().points == 3 and not reader.messages
    with open(path, "ab") as f:
        f.write(record[20:])
    poll = reader.poll()
    assert poll.points == 1 and poll.bytes_read == len(blob) + len(record) - len(blob) - 20 + 20
    assert reader.series("run", "loss")[1].tolist() == [3.0, 2.0, 1.0, 0.5]


def test_corrupted_records_are_skipped_and_said(tmp_path):
    path = write_scalars(tmp_path / "run", "loss", range(50), np.arange(50.0))
    blob = bytearray(open(path, "rb").read())
    framed = split_records(bytes(blob))
    data_10 = framed.starts[11]  # record 0 is the file header: step 10 is record 11
    blob[data_10 + 3] ^= 0x55  # a bit flip in the data of step 10
    blob[framed.starts[31] - HEADER + 1] ^= 0x10  # a corrupted length: step 30
    open(path, "wb").write(bytes(blob))
    reader = LogReader(tmp_path)
    reader.poll()
    steps = reader.series("run", "loss")[0].tolist()
    assert steps == [s for s in range(50) if s not in (10, 30)]
    said = " ".join(reader.messages)
    assert "1 corrupted record" in said and "corrupted bytes" in said


def test_a_folder_that_appears_later_and_runs_that_go(tmp_path):
    logdir = tmp_path / "not yet"
    reader = LogReader(logdir)
    assert reader.poll().points == 0 and reader.runs() == []
    write_scalars(logdir / "a", "loss", [1], [1.0])
    write_scalars(logdir / "b", "loss", [1], [2.0])
    poll = reader.poll()
    assert poll.added == ["a", "b"] and reader.runs() == ["a", "b"]
    shutil.rmtree(logdir / "a")
    poll = reader.poll()
    assert poll.removed == ["a"] and reader.runs() == ["b"]
    assert "run 'a' was removed" in reader.messages[-1]
    assert reader.scalars()["run"].tolist() == ["b"]


def test_every_file_of_a_run_is_followed(tmp_path):
    """TensorBoard's default watcher misses older files (tensorboard #2050)."""
    old = write_scalars(tmp_path / "run", "loss", [1, 2], [1.0, 0.9], wall_times=[10.0, 11.0])
    reader = LogReader(tmp_path)
    reader.poll()
    write_scalars(tmp_path / "run", "loss", [3], [0.8], wall_times=[12.0])  # a newer file
    write_scalars(tmp_path / "run", "acc", [2], [0.5], wall_times=[11.5], path=old)  # the old grows
    poll = reader.poll()
    assert poll.changed == {("run", "loss"), ("run", "acc")}
    assert reader.series("run", "loss")[0].tolist() == [1, 2, 3]
    assert reader.series("run", "acc")[1].tolist() == [0.5]


def test_a_rewritten_file_is_read_again(tmp_path):
    path = write_scalars(tmp_path / "r", "loss", range(10), np.ones(10))
    reader = LogReader(tmp_path)
    reader.poll()
    os.remove(path)
    write_scalars(tmp_path / "r", "loss", [0], [5.0], path=path)
    reader.poll()
    assert reader.series("r", "loss")[1].tolist() == [5.0]


def test_ten_thousand_runs(tmp_path):
    from nnwidgets.logs.writer import _scalar_payloads

    payload = frame_records(_scalar_payloads("loss", [1], [0.5], [1.0]))
    for i in range(10_000):
        folder = tmp_path / f"run{i:05d}"
        folder.mkdir()
        (folder / "events.out.tfevents.1.h").write_bytes(payload)
    reader = LogReader(tmp_path)
    assert reader.poll().points == 10_000 and len(reader.runs()) == 10_000
    assert reader.poll().bytes_read == 0
    assert len(reader.scalars()) == 10_000


def test_bad_input(tmp_path):
    with pytest.raises(ValueError, match="one length"):
        write_scalars(tmp_path, "loss", [1, 2], [1.0])
    with pytest.raises(ValueError, match="'model' is a list"):
        write_hparams(tmp_path, {"model": [1, 2]})
    (tmp_path / "events.out.tfevents.junk").write_bytes(b"not a record file at all, really")
    reader = LogReader(tmp_path)
    assert reader.poll().points == 0
    assert read_scalars(tmp_path).empty and read_hparams(tmp_path).empty


def _tensor_event(tag, step, value, with_metadata):
    from tensorboard.compat.proto import event_pb2, summary_pb2, tensor_pb2

    tensor = tensor_pb2.TensorProto(dtype=1, tensor_content=np.float32(value).tobytes())
    tensor.tensor_shape.SetInParent()
    v = summary_pb2.Summary.Value(tag=tag, tensor=tensor)
    if with_metadata:
        v.metadata.plugin_data.plugin_name = "scalars"
    return event_pb2.Event(step=step, wall_time=float(step), summary=summary_pb2.Summary(value=[v]))


@pytest.mark.parametrize("count", [5, 100])
def test_metadata_on_the_first_value_only(tmp_path, count):
    """TF 1's FileWriter writes a tag's metadata with its first value only."""
    events = [_tensor_event("loss", s, s * 0.5, s == 0).SerializeToString() for s in range(count)]
    (tmp_path / "events.out.tfevents.1.h").write_bytes(frame_records(events))
    frame = read_scalars(tmp_path)
    assert frame["step"].tolist() == list(range(count))
    same_rows(frame, tbparse_scalars(tmp_path))


def test_a_file_replaced_by_a_bigger_one_is_read_again(tmp_path):
    path = write_scalars(tmp_path / "r", "loss", [1, 2, 3], [1.0, 2.0, 3.0])
    reader = LogReader(tmp_path)
    reader.poll()
    os.remove(path)
    write_scalars(tmp_path / "r", "loss", range(10, 20), np.arange(10.0), path=path)
    poll = reader.poll()
    assert reader.series("r", "loss")[0].tolist() == list(range(10, 20))
    assert ("r", "loss") in poll.changed and "rewritten" in reader.messages[-1]


def test_big_files_are_read_in_bounded_chunks(tmp_path, monkeypatch):
    from nnwidgets.logs import reader as reader_module

    write_scalars(tmp_path / "r", "loss", range(5000), np.linspace(0, 1, 5000))
    whole = read_scalars(tmp_path)
    monkeypatch.setattr(reader_module, "CHUNK", 1000)  # about 20 records a read
    reads = []
    original = reader_module._Local.read
    monkeypatch.setattr(
        reader_module._Local,
        "read",
        lambda self, p, o, n: reads.append(n) or original(self, p, o, n),
    )
    chunked = LogReader(tmp_path)
    chunked.poll()
    assert max(reads) <= 1000 and len(reads) > 100
    assert chunked.scalars().equals(whole) and not chunked.messages
