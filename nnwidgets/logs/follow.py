"""RunFollower: a log folder followed live, off the kernel's main thread, as state that
views observe (no widget here); and how runs group into experiments.

Keras' TensorBoard callback writes one experiment as ``NAME/train`` and
``NAME/validation``; ``hp.KerasCallback(NAME, ...)`` writes its hyperparameters in
``NAME`` itself. :func:`group_runs` puts those back together: each run belongs to the
nearest folder above it (or itself) that holds hyperparameters, else to its parent when
its own name is ``train``, ``validation`` and the like.
"""

from __future__ import annotations

import threading
import time

from traitlets import Bool, Float, HasTraits, Int, Unicode

from .reader import LogReader, Poll

#: Folder names Keras and common scripts give to validation logs.
VALIDATION = ("validation", "val", "eval", "evaluation", "test")
#: Folder names of training logs.
TRAIN = ("train", "training")


def group_runs(runs, hparam_runs=()) -> dict[str, tuple[str, str, str]]:
    """Each run's ``(group, sub, kind)``: the experiment it belongs to, its path inside
    it ('' for the experiment's own folder) and ``"train"`` or ``"val"``.

    >>> group_runs(["a/train", "a/validation", "b", "c/x/train"], hparam_runs=["c"])
    ... # doctest: +NORMALIZE_WHITESPACE
    {'a/train': ('a', 'train', 'train'), 'a/validation': ('a', 'validation', 'val'),
     'b': ('b', '', 'train'), 'c/x/train': ('c', 'x/train', 'train')}
    >>> group_runs(["train", "validation"])  # Keras' own log_dir, followed itself
    {'train': ('.', 'train', 'train'), 'validation': ('.', 'validation', 'val')}
    """
    with_hparams = set(hparam_runs)
    out = {}
    for run in runs:
        parts = run.split("/")
        group = None
        for i in range(len(parts), 0, -1):
            if "/".join(parts[:i]) in with_hparams:
                group = "/".join(parts[:i])
                break
        if group is None and run != "." and "." in with_hparams:
            group = "."  # hyperparameters in the log folder itself
        if group is None and parts[-1] in (*TRAIN, *VALIDATION):
            group = "/".join(parts[:-1]) or "."  # Keras' log_dir itself followed: "."
        group = group or run
        if group == ".":
            sub = "" if run == "." else run
        else:
            sub = run[len(group) + 1 :] if run != group else ""
        kind = "val" if sub.split("/")[-1] in VALIDATION else "train"
        out[run] = (group, sub, kind)
    return out


class RunFollower(HasTraits):
    """A TensorBoard log folder followed live: a thread polls it every
    :attr:`interval` seconds (the kernel stays free) and bumps :attr:`version` when
    something changed; views observe it.

    Parameters
    ----------
    logdir : str or path
        The folder (it may not exist yet; ``gs://`` and ``s3://`` through
        ``tf.io.gfile``).
    interval : float
        Seconds between polls.
    start : bool
        Start following at once (else call :meth:`start`, or :meth:`reload` by hand).

    Attributes
    ----------
    version : int
        Bumped after each poll that found something (read-only).
    status : str
        What is followed and what was last found or skipped (read-only).
    following : bool
        Whether the polling thread runs (read-only).

    Examples
    --------
    >>> import tempfile
    >>> from nnwidgets.logs import write_scalars
    >>> folder = tempfile.mkdtemp()
    >>> follower = RunFollower(folder, start=False)
    >>> _ = write_scalars(f"{folder}/run", "loss", [1, 2], [0.5, 0.4])
    >>> follower.reload().points, follower.version
    (2, 1)
    """

    version = Int(0, read_only=True, help="Bumped after each poll that found something.")
    status = Unicode("", read_only=True, help="What is followed, found and skipped.")
    following = Bool(False, read_only=True, help="Whether the polling thread runs.")
    interval = Float(2.0, min=0.05, help="Seconds between polls.")

    def __init__(self, logdir, interval: float = 2.0, start: bool = True):
        if not isinstance(logdir, str) and not hasattr(logdir, "__fspath__"):
            raise TypeError(f"logdir must be a path, got {type(logdir).__name__}")
        super().__init__(interval=interval)
        self.reader = LogReader(logdir)
        self.polls: list[Poll] = []  # the polls that changed something, oldest first
        self.dropped = 0  # how many old polls were let go (views then redraw all)
        self.error = ""
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._say()
        if start:
            self.start()

    @property
    def logdir(self) -> str:
        return self.reader.logdir

    # -- following -----------------------------------------------------------------
    def reload(self) -> Poll:
        """Poll now (from any thread); returns what changed."""
        with self._lock:
            try:
                poll = self.reader.poll()
                self.error = ""
            except Exception as err:  # noqa: BLE001 - said, and the next poll tries again
                self.error = f"{type(err).__name__}: {err}"
                poll = Poll()
            found = poll.points or poll.added or poll.removed or poll.hparams or poll.messages
            if found:
                self.polls.append(poll)
                if len(self.polls) > 200:
                    self.dropped += len(self.polls) - 100
                    self.polls = self.polls[-100:]
        self._say()  # observers run outside the lock: they may ask for changes
        if found:
            self.set_trait("version", self.version + 1)
        return poll

    def start(self) -> None:
        """Poll every :attr:`interval` seconds in a daemon thread."""
        if self._thread is not None and self._thread.is_alive():
            return
        self._stop = threading.Event()  # its own: an old thread still polling keeps its own
        self._thread = threading.Thread(
            target=self._loop, args=(self._stop,), name="nnwidgets-runs", daemon=True
        )
        self.set_trait("following", True)
        self._thread.start()

    def stop(self) -> None:
        """Stop polling (what was read stays)."""
        self._stop.set()
        if self._thread is not None and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)
        self._thread = None
        self.set_trait("following", False)
        self._say()

    def _loop(self, stop: threading.Event) -> None:
        while not stop.is_set():
            started = time.perf_counter()
            self.reload()
            spent = time.perf_counter() - started
            stop.wait(max(self.interval, 2 * spent))  # a slow folder is polled less

    def changes_since(self, cursor: int) -> tuple[list[Poll] | None, int]:
        """The polls after ``cursor`` (None if some were let go: redraw all) and the
        new cursor; a view keeps its cursor between draws."""
        with self._lock:
            end = self.dropped + len(self.polls)
            if cursor < self.dropped:
                return None, end
            return self.polls[cursor - self.dropped :], end

    # -- reading --------------------------------------------------------------------
    def scalars(self):
        """Every scalar read so far (the frame of :func:`~nnwidgets.logs.read_scalars`)."""
        return self.reader.scalars()

    def hparams(self):
        """The hyperparameters read so far (as :func:`~nnwidgets.logs.read_hparams`)."""
        return self.reader.hparams()

    def groups(self) -> dict[str, tuple[str, str, str]]:
        """:func:`group_runs` of the runs read so far."""
        return group_runs(self.reader.runs(), self.reader.hparam_runs())

    def _say(self) -> None:
        reader = self.reader
        if not reader.exists:
            text = f"waiting for {reader.logdir} to appear"
        else:
            folders = reader.runs()
            runs = len({g for g, _, _ in group_runs(folders, reader.hparam_runs()).values()})
            text = f"{'following' if self.following else 'read'} {reader.logdir}: "
            text += f"{runs:,} run{'s' * (runs != 1)}"
            if len(folders) != runs:
                text += f" ({len(folders):,} folders)"
        if reader.other:
            kinds = ", ".join(f"{n:,} {k}" for k, n in sorted(reader.other.items()))
            text += f" · not drawn: {kinds}"
        if reader.messages:
            text += f" · skipped or noticed: {reader.messages[-1]}"
            if len(reader.messages) > 1:
                text += f" (and {len(reader.messages) - 1} more: .reader.messages)"
        if self.error:
            text += f" · the last poll failed: {self.error}"
        self.set_trait("status", text)
