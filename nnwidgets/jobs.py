"""Small training jobs that run in other processes and write TensorBoard logs.

They give :class:`nnwidgets.RunComparison` (or TensorBoard) something real to follow:
a dense classifier of scikit-learn's bundled 8x8 digits (read offline by
:func:`nnwidgets.datasets.load_digits`), trained in a few seconds per run on a CPU.

From a shell::

    python -m nnwidgets.jobs --logdir logs --run lr0.01 --epochs 5 --lr 0.01
    python -m nnwidgets.jobs --logdir logs --run mw --multiworker 2   # 2 local workers

From a notebook, in one line (the jobs run in the background)::

    >>> procs = start_jobs("logs", {"a": {"lr": 0.01}, "b": {"lr": 0.1}})  # doctest: +SKIP
    >>> procs = start_multiworker("logs", "mw", workers=2)  # doctest: +SKIP

Layout of what is written (TensorBoard's usual one, so tools read it as they read any
Keras run): ``LOGDIR/RUN/train`` and ``LOGDIR/RUN/validation`` hold the scalars
(``batch_loss``, ``batch_accuracy`` every batch, ``epoch_loss``, ``epoch_accuracy``
and, from Keras, ``epoch_learning_rate``), ``LOGDIR/RUN`` holds the HParams summary, and
``LOGDIR/RUN/job.log`` what the process printed when started by :func:`start_jobs` or
:func:`start_multiworker`.

Multi-worker runs use ``tf.distribute.MultiWorkerMirroredStrategy`` with a custom
training loop (``strategy.run``), not ``model.fit``: with Keras 3.15 and TensorFlow 2.21
``fit`` fails under that strategy as soon as there are two workers (keras-team/keras
#20585; see :func:`train_multiworker`). Only the chief (worker 0) writes logs, into
``LOGDIR/RUN``; the other workers write nothing, as their reduced loss and accuracy are
the chief's. Across machines, start one worker per machine with ``TF_CONFIG`` naming
every worker (see :func:`tf_config`) and ``--strategy multiworker``, and give them all
the same ``--logdir``, a shared folder or a ``gs://`` path.

TensorFlow and Keras are imported inside the functions, so importing this module is quick.
"""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
from pathlib import Path

#: Hyperparameters of a job and their defaults (also the command-line options).
DEFAULTS = {"lr": 0.01, "units": 32, "optimizer": "adam", "seed": 0}
BATCH_SIZE = 64  # the global batch (split over the workers of a multi-worker run)
#: Batch-level scalars every batch. Keras 3.15's TensorBoard callback with an integer
#: ``update_freq`` N > 1 drops every ``epoch_*`` scalar of an epoch whose last global batch
#: is not a multiple of N (its ``record_if`` is still active at ``on_epoch_end``;
#: tensorflow/tensorboard#4975), and a digits epoch has 23 batches.
UPDATE_FREQ = 1


def load_data(seed: int = 0):
    """The digits as ``(x_train, y_train, x_val, y_val)``: ``x`` float32 ``(N, 64)`` in
    0..1, ``y`` int64 labels; shuffled with ``seed``, the last fifth for validation.

    >>> x, y, xv, yv = load_data()
    >>> x.shape, xv.shape, float(x.min()), float(x.max())
    ((1437, 64), (360, 64), 0.0, 1.0)
    """
    import numpy as np

    from nnwidgets.datasets import load_digits  # sklearn's file, without importing sklearn

    x, y = load_digits()
    order = np.random.default_rng(seed).permutation(len(x))
    x, y = x[order].reshape(len(x), 64), y[order]
    cut = len(x) * 4 // 5
    return x[:cut], y[:cut], x[cut:], y[cut:]


def build_model(units: int = 32):
    """An uncompiled dense classifier of the 64 digit pixels: ``units`` ReLUs, 10 logits."""
    import keras

    return keras.Sequential(
        [
            keras.Input((64,)),
            keras.layers.Dense(int(units), activation="relu", name="hidden"),
            keras.layers.Dense(10, name="logits"),
        ],
        name="digits_mlp",
    )


def make_optimizer(optimizer: str = "adam", lr: float = 0.01):
    """A Keras optimizer by name (``"adam"``, ``"sgd"``, ``"rmsprop"``...) with rate ``lr``."""
    import keras

    return keras.optimizers.get({"class_name": optimizer, "config": {"learning_rate": lr}})


def train(
    logdir: str | os.PathLike,
    run: str,
    epochs: int = 3,
    lr: float = DEFAULTS["lr"],
    units: int = DEFAULTS["units"],
    optimizer: str = DEFAULTS["optimizer"],
    seed: int = DEFAULTS["seed"],
    crash_after_epoch: int | None = None,
) -> dict:
    """Train the digits classifier in this process and log to ``logdir/run``.

    Logs with Keras' ``TensorBoard`` callback (``update_freq="batch"``, see
    :data:`UPDATE_FREQ`) and TensorBoard's HParams ``KerasCallback``
    (``lr``, ``units``, ``optimizer``).

    Parameters
    ----------
    logdir, run : the run's folder is ``logdir/run``.
    epochs : number of passes over the 1437 training digits (23 batches of 64).
    lr, units, optimizer : learning rate, hidden units, Keras optimizer name.
    seed : seeds the data split and the weights.
    crash_after_epoch : if given, the process dies with ``os._exit(1)`` (no clean-up)
        at the end of that (0-based) epoch. What was logged until then is on disk:
        TensorFlow flushes a summary writer whenever a ``with writer.as_default()``
        block ends, and Keras' callback leaves one after every batch and epoch.

    Returns
    -------
    dict
        Keras' history: metric name -> one value per epoch.
    """
    import keras
    from tensorboard.plugins.hparams import api as hp

    keras.utils.set_random_seed(seed)
    x, y, xv, yv = load_data(seed)
    model = build_model(units)
    model.compile(
        optimizer=make_optimizer(optimizer, lr),
        loss=keras.losses.SparseCategoricalCrossentropy(from_logits=True),
        metrics=["accuracy"],
    )
    run_dir = os.path.join(os.fspath(logdir), run)
    board = keras.callbacks.TensorBoard(run_dir, update_freq="batch", write_graph=False)
    hparams = {"lr": float(lr), "units": int(units), "optimizer": str(optimizer)}
    callbacks = [board, hp.KerasCallback(run_dir, hparams)]
    if crash_after_epoch is not None:
        callbacks.append(_crash_callback(int(crash_after_epoch)))
    history = model.fit(
        x, y, batch_size=BATCH_SIZE, epochs=epochs, validation_data=(xv, yv),
        callbacks=callbacks, verbose=0,
    )  # fmt: skip
    return history.history


def _crash_callback(epoch: int):
    """A Keras callback that kills the process at the end of ``epoch`` (after the
    callbacks before it): a worker dying between epochs."""
    import keras

    class CrashAfterEpoch(keras.callbacks.Callback):
        def on_epoch_end(self, current, logs=None):
            if current == epoch:
                print(f"crashing after epoch {current}", flush=True)
                os._exit(1)

    return CrashAfterEpoch()


def tf_config(workers: list[str], index: int) -> dict:
    """The ``TF_CONFIG`` of worker ``index`` of a cluster of ``workers`` (``host:port``);
    worker 0 is the chief. Set it as JSON in each worker's environment.

    >>> tf_config(["10.0.0.1:2222", "10.0.0.2:2222"], 1)["task"]
    {'type': 'worker', 'index': 1}
    """
    return {"cluster": {"worker": list(workers)}, "task": {"type": "worker", "index": index}}


def free_ports(n: int) -> list[int]:
    """``n`` distinct TCP ports free on the loopback interface right now.

    >>> ports = free_ports(2)
    >>> len(set(ports))
    2
    """
    sockets = [socket.socket(socket.AF_INET, socket.SOCK_STREAM) for _ in range(n)]
    try:
        for s in sockets:  # all bound at once, so the ports differ
            s.bind(("127.0.0.1", 0))
        return [s.getsockname()[1] for s in sockets]
    finally:
        for s in sockets:
            s.close()


def train_multiworker(
    logdir: str | os.PathLike,
    run: str,
    epochs: int = 3,
    lr: float = DEFAULTS["lr"],
    units: int = DEFAULTS["units"],
    optimizer: str = DEFAULTS["optimizer"],
    seed: int = DEFAULTS["seed"],
    threads: int = 1,
) -> dict:
    """Be one worker of a ``MultiWorkerMirroredStrategy`` run described by the
    ``TF_CONFIG`` environment variable; every worker of the cluster calls this.

    A custom loop (``strategy.run``; the Keras 3 optimizer sums the gradients over the
    workers) since ``model.fit`` does not work under this strategy with two or more
    workers in Keras 3.15: ``_maybe_symbolic_build`` passes the whole ``(x, y)`` batch
    to ``strategy.reduce``, which takes one value, not a nest (``ValueError: Attempt to
    convert a value (PerReplica...)``); and, once that is patched, ``reduce_per_replica``
    averages the scalar metrics with ``strategy.reduce("MEAN", v, axis=0)`` (``Invalid
    reduction dimension 0 for input with 0 dimensions``). Patching both makes ``fit``
    run, but they are Keras internals.

    Each worker reads its shard of the training digits (global batch
    :data:`BATCH_SIZE`). The chief (worker 0) writes ``batch_loss``/``batch_accuracy``
    every :data:`UPDATE_FREQ` steps and ``epoch_loss``/``epoch_accuracy`` into
    ``logdir/run/train``, the validation ones into ``logdir/run/validation`` (it
    evaluates alone: no collective ops there) and the hparams (with
    ``strategy="multiworker"`` and ``workers``, the number of replicas in sync) into
    ``logdir/run``. The other workers write nothing.

    Parameters
    ----------
    logdir, run, epochs, lr, units, optimizer, seed : as in :func:`train`.
    threads : TensorFlow's intra- and inter-op threads in this worker.

    Returns
    -------
    dict
        ``loss`` and ``accuracy`` per epoch (the same on every worker).
    """
    import time

    import tensorflow as tf

    start = time.perf_counter()
    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    strategy = tf.distribute.MultiWorkerMirroredStrategy()
    resolver = strategy.cluster_resolver
    chief = resolver.task_type in (None, "chief") or (
        resolver.task_type == "worker" and resolver.task_id == 0
    )
    me = f"{resolver.task_type} {resolver.task_id}"
    print(f"{me}: {strategy.num_replicas_in_sync} replicas in sync", flush=True)
    tf.keras.utils.set_random_seed(seed)
    x, y, xv, yv = load_data(seed)
    steps = len(x) // BATCH_SIZE
    with strategy.scope():
        model = build_model(units)
        opt = make_optimizer(optimizer, lr)
    step_fn = _distributed_step(strategy, model, opt)
    batches = iter(strategy.distribute_datasets_from_function(_shards(x, y, seed)))
    writers = _writers(logdir, run, chief)
    if chief:
        hparams = {"lr": float(lr), "units": int(units), "optimizer": str(optimizer)}
        _log_hparams(writers["run"], hparams, strategy.num_replicas_in_sync)
    history = {"loss": [], "accuracy": []}
    for epoch in range(epochs):
        total_loss = total_right = 0.0
        for i in range(steps):
            loss, right = (float(v) for v in step_fn(next(batches)))
            total_loss, total_right = total_loss + loss, total_right + right
            if (i + 1) % UPDATE_FREQ == 0:
                batch = epoch * steps + i + 1
                _scalars(writers["train"], "batch", loss, right / BATCH_SIZE, batch)
        history["loss"].append(total_loss / steps)
        history["accuracy"].append(total_right / (steps * BATCH_SIZE))
        _scalars(writers["train"], "epoch", history["loss"][-1], history["accuracy"][-1], epoch)
        if chief:
            _scalars(writers["validation"], "epoch", *_evaluate(model, xv, yv), epoch)
    for writer in writers.values():
        writer.close()
    print(f"{me}: {epochs} epochs in {time.perf_counter() - start:.1f} s", flush=True)
    return history


def _shards(x, y, seed: int):
    """The ``dataset_fn`` of ``distribute_datasets_from_function``: this worker's shard,
    shuffled, repeated, in per-replica batches."""
    import tensorflow as tf

    def dataset_fn(context):
        data = tf.data.Dataset.from_tensor_slices((x, y))
        data = data.shard(context.num_input_pipelines, context.input_pipeline_id)
        size = context.get_per_replica_batch_size(BATCH_SIZE)
        return data.shuffle(len(x), seed=seed).repeat().batch(size, drop_remainder=True)

    return dataset_fn


def _distributed_step(strategy, model, opt):
    """A ``tf.function`` of one synchronous step: returns the global batch's mean loss
    and its number of right answers, summed over the replicas."""
    import tensorflow as tf

    def replica_step(batch):
        xb, yb = batch
        with tf.GradientTape() as tape:
            logits = model(xb, training=True)
            per_example = tf.nn.sparse_softmax_cross_entropy_with_logits(yb, logits)
            loss = tf.nn.compute_average_loss(per_example, global_batch_size=BATCH_SIZE)
        grads = tape.gradient(loss, model.trainable_variables)
        opt.apply_gradients(zip(grads, model.trainable_variables, strict=True))
        right = tf.reduce_sum(tf.cast(tf.argmax(logits, 1) == yb, "float32"))
        return loss, right

    @tf.function
    def step(batch):
        loss, right = strategy.run(replica_step, args=(batch,))
        return strategy.reduce("SUM", loss, axis=None), strategy.reduce("SUM", right, axis=None)

    return step


def _evaluate(model, x, y) -> tuple[float, float]:
    """Mean loss and accuracy of ``model`` on ``(x, y)``, in this process alone."""
    import tensorflow as tf

    logits = model(x, training=False)
    loss = tf.reduce_mean(tf.nn.sparse_softmax_cross_entropy_with_logits(y, logits))
    accuracy = tf.reduce_mean(tf.cast(tf.argmax(logits, 1) == y, "float32"))
    return float(loss), float(accuracy)


def _writers(logdir, run: str, chief: bool) -> dict:
    """Summary writers ``run``, ``train``, ``validation``: files for the chief, no-ops
    for the other workers."""
    import tensorflow as tf

    run_dir = os.path.join(os.fspath(logdir), run)
    if not chief:
        return {k: tf.summary.create_noop_writer() for k in ("run", "train", "validation")}
    return {
        "run": tf.summary.create_file_writer(run_dir),
        "train": tf.summary.create_file_writer(os.path.join(run_dir, "train")),
        "validation": tf.summary.create_file_writer(os.path.join(run_dir, "validation")),
    }


def _scalars(writer, prefix: str, loss: float, accuracy: float, step: int) -> None:
    """Write ``{prefix}_loss`` and ``{prefix}_accuracy`` at ``step``, as Keras names them."""
    import tensorflow as tf

    with writer.as_default():
        tf.summary.scalar(f"{prefix}_loss", loss, step=step)
        tf.summary.scalar(f"{prefix}_accuracy", accuracy, step=step)


def _log_hparams(writer, hparams: dict, workers: int) -> None:
    """The run's HParams summary, with ``strategy="multiworker"`` and ``workers``."""
    from tensorboard.plugins.hparams import api as hp

    with writer.as_default():
        hp.hparams({**hparams, "strategy": "multiworker", "workers": int(workers)})
    writer.flush()


def _options(hparams: dict) -> list[str]:
    """Command-line options of the hyperparameters ``hparams`` (keys of :data:`DEFAULTS`).

    >>> _options({"lr": 0.1, "units": 8})
    ['--lr', '0.1', '--units', '8']
    """
    unknown = set(hparams) - set(DEFAULTS)
    if unknown:
        raise ValueError(f"unknown hyperparameters {sorted(unknown)}; known: {sorted(DEFAULTS)}")
    return [arg for k, v in hparams.items() for arg in (f"--{k}", str(v))]


def _spawn(args: list[str], log_path: Path, env: dict | None = None) -> subprocess.Popen:
    """Start ``python -m nnwidgets.jobs args`` with its output in ``log_path``."""
    env = {**os.environ, **(env or {}), "TF_CPP_MIN_LOG_LEVEL": "3"}
    root = str(Path(__file__).resolve().parent.parent)  # finds nnwidgets if not installed
    env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    with open(log_path, "ab") as out:
        return subprocess.Popen(
            [sys.executable, "-m", "nnwidgets.jobs", *args],
            stdout=out, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env,
        )  # fmt: skip


def start_jobs(
    logdir: str | os.PathLike, runs: dict[str, dict], epochs: int = 3
) -> list[subprocess.Popen]:
    """Start one background process per run, each training as :func:`train` does.

    Parameters
    ----------
    logdir : the runs go into ``logdir/<name>``.
    runs : run name -> its hyperparameters (keys of :data:`DEFAULTS`, and
        ``crash_after_epoch``); the others keep their defaults.
    epochs : epochs of every run.

    Returns
    -------
    list of subprocess.Popen
        The processes, in the order of ``runs``; their output goes to
        ``logdir/<name>/job.log``.
    """
    procs = []
    for name, hparams in runs.items():
        hparams = dict(hparams)
        crash = hparams.pop("crash_after_epoch", None)
        args = ["--logdir", os.fspath(logdir), "--run", name, "--epochs", str(epochs)]
        args += _options(hparams) + ([] if crash is None else ["--crash-after-epoch", str(crash)])
        procs.append(_spawn(args, Path(logdir, name, "job.log")))
    return procs


def start_multiworker(
    logdir: str | os.PathLike, run: str, workers: int = 2, epochs: int = 3, **hparams
) -> list[subprocess.Popen]:
    """Start ``workers`` local processes training one model together with
    ``MultiWorkerMirroredStrategy`` (see :func:`train_multiworker`), on loopback ports.

    A worker waits for all the others: if one never starts or dies, the rest wait
    (forever when the cluster is forming; a worker whose peer never came up was seen
    waiting 17 minutes and surviving SIGTERM), so kill the others then.

    Returns
    -------
    list of subprocess.Popen
        Worker 0 (the chief, who writes ``logdir/run``) first; the output of worker
        ``i`` goes to ``logdir/run/job.log`` for the chief, ``logdir/run/job-worker<i>.log``
        for the others.
    """
    hosts = [f"127.0.0.1:{port}" for port in free_ports(workers)]
    args = ["--logdir", os.fspath(logdir), "--run", run, "--epochs", str(epochs)]
    args += ["--strategy", "multiworker", *_options(hparams)]
    procs = []
    for i in range(workers):
        log = Path(logdir, run, "job.log" if i == 0 else f"job-worker{i}.log")
        procs.append(_spawn(args, log, {"TF_CONFIG": json.dumps(tf_config(hosts, i))}))
    return procs


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="python -m nnwidgets.jobs", description=__doc__.split("\n\n")[0]
    )
    p.add_argument("--logdir", required=True, help="folder of the runs (or gs://...)")
    p.add_argument("--run", required=True, help="name of this run: its folder in logdir")
    p.add_argument("--epochs", type=int, default=3)
    p.add_argument("--lr", type=float, default=DEFAULTS["lr"])
    p.add_argument("--units", type=int, default=DEFAULTS["units"])
    p.add_argument("--optimizer", default=DEFAULTS["optimizer"])
    p.add_argument("--seed", type=int, default=DEFAULTS["seed"])
    p.add_argument("--crash-after-epoch", type=int, default=None, metavar="K",
                   help="exit abruptly (code 1) after epoch K (0-based)")  # fmt: skip
    p.add_argument("--strategy", choices=["single", "multiworker"], default="single",
                   help="multiworker: be one worker of the cluster in TF_CONFIG")  # fmt: skip
    p.add_argument("--multiworker", type=int, default=0, metavar="N",
                   help="start N local workers (multiworker strategy) and wait for them")  # fmt: skip
    return p


def main(argv: list[str] | None = None) -> int:
    """The command line; returns the exit code."""
    import time

    start = time.perf_counter()
    a = _parser().parse_args(argv)
    hparams = {"lr": a.lr, "units": a.units, "optimizer": a.optimizer, "seed": a.seed}
    if a.multiworker:
        procs = start_multiworker(a.logdir, a.run, a.multiworker, a.epochs, **hparams)
        codes = [p.wait() for p in procs]
        print(f"workers exited with {codes}; logs in {Path(a.logdir, a.run)}")
        return max(codes, key=abs)
    if a.strategy == "multiworker":
        history = train_multiworker(a.logdir, a.run, a.epochs, **hparams)
    else:
        history = train(a.logdir, a.run, a.epochs, **hparams, crash_after_epoch=a.crash_after_epoch)
    print(json.dumps(history))
    print(f"done in {time.perf_counter() - start:.1f} s (from the start of main)", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
