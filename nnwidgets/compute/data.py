"""User data in every form it comes in, as numpy: inputs and labels.

Inputs are kept as one array (a model with one input) or a list of arrays in
``model.inputs`` order; labels as one array (one output) or a list with one entry per
output (``None`` where not given). What users hold is turned into that here:

- arrays, lists of arrays (one per input, in ``model.inputs`` order);
- a dict keyed by input name, a pandas ``DataFrame`` whose columns name the inputs (or
  whose columns are the features of a model's single input);
- a ``tf.data.Dataset`` (batched or not, elements ``x`` or ``(x, y[, weights])``), a
  ``keras.utils.PyDataset`` or a generator of batches: the first ``max_samples``
  samples are read (see :data:`MAX_SAMPLES`, :data:`MAX_BYTES`);
- labels as an array, a list (one per output) or a dict keyed by output name.
"""

from __future__ import annotations

import numpy as np

#: Samples read at most from a dataset, a ``PyDataset`` or a generator.
MAX_SAMPLES = 1000
#: Bytes of samples read at most from a dataset or generator (a Binder has 2 GB).
MAX_BYTES = 256 * 2**20


def _as_array(a, what: str) -> np.ndarray:
    if hasattr(a, "to_numpy") and not isinstance(a, np.ndarray):
        a = a.to_numpy()  # pandas, and eager tensors
    elif hasattr(a, "numpy") and not isinstance(a, np.ndarray):
        a = a.numpy()
    try:
        arr = np.asarray(a)
    except (ValueError, TypeError) as err:
        raise ValueError(f"{what} could not be turned into an array: {err}") from err
    if arr.dtype == object:
        raise TypeError(
            f"{what} must be numeric arrays, got ragged or object data "
            "(pad sequences to one length, e.g. keras.utils.pad_sequences, and encode text "
            "as ids first)"
        )
    if arr.dtype.kind not in "biuf":
        raise TypeError(f"{what} must be numeric, got dtype {arr.dtype}")
    return arr


# -- what the model expects ------------------------------------------------
def input_specs(model) -> list[tuple[str, tuple]] | None:
    """``(name, shape)`` of each model input, batch axis included, or None (unknown)."""
    try:
        return [(str(t.name), tuple(t.shape)) for t in model.inputs]
    except (AttributeError, ValueError):
        return None


def expects(model) -> str:
    """What the model's inputs are, as text: ``{'num': (None, 4), 'cat': (None, 1)}``."""
    specs = input_specs(model)
    if specs is None:
        return "inputs of a shape known only once it is called"
    if len(specs) == 1:
        return f"input {specs[0][0]!r} of shape {specs[0][1]}"
    return "inputs {" + ", ".join(f"{n!r}: {s}" for n, s in specs) + "}"


# -- streams: datasets, PyDatasets, generators -------------------------------
def is_stream(data) -> bool:
    """A ``tf.data.Dataset``, a ``keras.utils.PyDataset`` or a generator/iterator."""
    if isinstance(data, (np.ndarray, list, tuple, dict)) or hasattr(data, "to_numpy"):
        return False
    if hasattr(data, "element_spec") or _is_pydataset(data):
        return True
    return hasattr(data, "__next__")


def _is_pydataset(data) -> bool:
    return (
        hasattr(data, "__getitem__") and hasattr(data, "__len__") and hasattr(data, "on_epoch_end")
    )


def read_stream(data, model, max_samples: int = MAX_SAMPLES, max_bytes: int = MAX_BYTES):
    """Read the first samples of a dataset or generator: ``(x, y, note)``.

    ``x`` and ``y`` are as the user would have given them (an array, a list or a dict
    of arrays; ``y`` None when the elements carry no labels); ``note`` says what was
    read ("the first 1000 samples of a tf.data.Dataset").
    """
    kind = _stream_name(data)
    batched = None
    xs, ys, count, size, more = [], [], 0, 0, False
    for element in _elements(data):
        x, y = _split(element)
        x, y = _to_numpy(x), _to_numpy(y)
        if batched is None:
            batched = _looks_batched(x, model, kind)
        if not batched:
            x, y = _add_batch_axis(x), _add_batch_axis(y)
        n = _rows(x)
        xs.append(x)
        ys.append(y)
        count, size = count + n, size + _nbytes(x)
        if count >= max_samples or size >= max_bytes:
            more = True
            break
    if not xs:
        raise ValueError(f"the {kind} gave no samples")
    x, y = _concat(xs), (None if ys[0] is None else _concat(ys))
    if count > max_samples:
        x = _head(x, max_samples)
        y = None if y is None else _head(y, max_samples)
        count = max_samples
    what = f"the first {count} samples of a {kind}" if more else f"{count} samples of a {kind}"
    if more and size >= max_bytes:
        what += f" ({max_bytes // 2**20} MB)"
    return x, y, what


def _stream_name(data) -> str:
    if hasattr(data, "element_spec"):
        return "tf.data.Dataset"
    if _is_pydataset(data):
        return type(data).__name__ + " (PyDataset)"
    return "generator"


def _elements(data):
    if _is_pydataset(data):
        for i in range(len(data)):
            yield data[i]
    elif hasattr(data, "element_spec"):
        yield from data.as_numpy_iterator() if hasattr(data, "as_numpy_iterator") else data
    else:
        yield from data


def _split(element):
    if isinstance(element, (tuple, list)) and len(element) in (2, 3):  # Keras: (x, y[, w])
        return element[0], element[1]
    if isinstance(element, tuple) and len(element) == 1:
        return element[0], None
    return element, None


def _to_numpy(a):
    if a is None:
        return None
    if isinstance(a, dict):
        return {k: _to_numpy(v) for k, v in a.items()}
    if isinstance(a, (list, tuple)):
        return [_to_numpy(v) for v in a]
    return _as_array(a, "a dataset element")


def _looks_batched(x, model, kind: str) -> bool:
    """Whether elements are batches: their rank equals the model input's with the batch
    axis (a PyDataset or generator always gives batches, as ``fit`` expects)."""
    if not kind.startswith("tf.data"):
        return True
    first = next(iter(x.values())) if isinstance(x, dict) else x[0] if isinstance(x, list) else x
    specs = input_specs(model)
    if specs is None:
        return first.ndim >= 2
    rank = (
        len(specs[0][1])
        if not isinstance(x, dict)
        else len(dict(specs).get(next(iter(x)), specs[0][1]))
    )
    return first.ndim == rank


def _add_batch_axis(a):
    if a is None:
        return None
    if isinstance(a, dict):
        return {k: v[None] for k, v in a.items()}
    if isinstance(a, list):
        return [v[None] for v in a]
    return a[None]


def _rows(a) -> int:
    if isinstance(a, dict):
        return len(next(iter(a.values())))
    if isinstance(a, list):
        return len(a[0])
    return len(a)


def _nbytes(a) -> int:
    if isinstance(a, dict):
        return sum(v.nbytes for v in a.values())
    if isinstance(a, list):
        return sum(v.nbytes for v in a)
    return a.nbytes


def _concat(parts):
    first = parts[0]
    if isinstance(first, dict):
        return {k: np.concatenate([p[k] for p in parts]) for k in first}
    if isinstance(first, list):
        return [np.concatenate([p[i] for p in parts]) for i in range(len(first))]
    return np.concatenate(parts)


def _head(a, n: int):
    if isinstance(a, dict):
        return {k: v[:n] for k, v in a.items()}
    if isinstance(a, list):
        return [v[:n] for v in a]
    return a[:n]


# -- inputs ------------------------------------------------------------------
def as_inputs(inputs, model) -> np.ndarray | list[np.ndarray]:
    """Turn user inputs into a numpy array (or a list in ``model.inputs`` order, for
    models with several inputs). Raises ``TypeError``/``ValueError`` saying what the
    model expects and what was given."""
    if inputs is None:
        raise TypeError("inputs must be an array of samples (batch axis first), got None")
    specs = input_specs(model)
    if isinstance(inputs, dict) or (hasattr(inputs, "columns") and specs and len(specs) > 1):
        x: np.ndarray | list = _by_name(inputs, model, specs)
    elif hasattr(inputs, "columns"):
        x = _as_array(inputs, "inputs")
    elif isinstance(inputs, (list, tuple)) and _several_inputs(inputs, model):
        x = [_as_array(a, f"inputs[{i}]") for i, a in enumerate(inputs)]
        if specs is not None and len(x) != len(specs):
            raise ValueError(f"model expects {expects(model)}; got a list of {len(x)} arrays")
    else:
        x = _as_array(inputs, "inputs")
        if x.ndim == 0:
            raise ValueError("inputs must have a batch axis first, got a scalar")
    if isinstance(x, list):
        x = x[0] if len(x) == 1 else x
    if isinstance(x, list) and len({len(a) for a in x}) != 1:
        raise ValueError(f"all inputs need the same number of samples, got {[len(a) for a in x]}")
    if n_samples(x) == 0:
        raise ValueError("inputs are empty: give at least one sample")
    check_shapes(x, model)
    return x


def _by_name(inputs, model, specs) -> list[np.ndarray]:
    """A dict or DataFrame keyed by input name, as a list in ``model.inputs`` order."""
    frame = hasattr(inputs, "columns")
    keys = [str(k) for k in (inputs.columns if frame else inputs.keys())]
    given = "a DataFrame with columns" if frame else "a dict with keys"
    if specs is None:
        raise ValueError(
            f"named inputs ({given} {keys}) need a model whose inputs are known; "
            "build the model with keras.Input(..., name=...)"
        )
    missing = [n for n, _ in specs if n not in keys]
    if missing:
        raise ValueError(f"model expects {expects(model)}; got {given} {keys} (missing {missing})")
    out = []
    for name, shape in specs:
        arr = _as_array(inputs[name], f"inputs[{name!r}]")
        if arr.ndim == 1 and len(shape) == 2 and shape[1] == 1:  # a column for (None, 1)
            arr = arr.reshape(-1, 1)
        out.append(arr)
    return out


def _several_inputs(inputs, model) -> bool:
    """Whether a list is one array per model input (not a list of samples)."""
    specs = input_specs(model)
    if specs is not None:
        return len(specs) > 1
    arrays = [a for a in inputs if isinstance(a, np.ndarray)]
    return len(arrays) == len(inputs) > 1 and len({a.shape[1:] for a in arrays}) > 1


def check_shapes(x, model) -> None:
    """Compare the samples' shapes with the model inputs'; raise a ``ValueError`` that
    names both when they cannot fit."""
    specs = input_specs(model)
    if specs is None:
        return
    arrays = x if isinstance(x, list) else [x]
    if len(arrays) != len(specs):
        raise ValueError(f"model expects {expects(model)}; got {describe(x)}")
    for arr, (_, shape) in zip(arrays, specs, strict=True):
        want = shape[1:]
        got = arr.shape[1:]
        if len(got) == len(want) - 1 and want[-1] == 1:  # Keras adds a last axis of 1
            got = (*got, 1)
        elif len(got) == len(want) + 1 and got[-1] == 1:  # and drops one
            got = got[:-1]
        fits = len(want) == len(got) and all(
            w is None or w == g for w, g in zip(want, got, strict=True)
        )
        if not fits:
            raise ValueError(f"model expects {expects(model)}; got {describe(x)}")


# -- labels ------------------------------------------------------------------
def as_labels(labels, n: int, names: tuple[str, ...] = ("output",)) -> list | None:
    """Check labels: one entry per sample, for one output or for each of ``names``.

    Returns None or a list with one array (or None) per output.
    """
    if labels is None:
        return None
    several = len(names) > 1
    if isinstance(labels, dict):
        unknown = [k for k in labels if k not in names]
        if unknown:
            raise ValueError(
                f"labels are keyed by output name; the model's outputs are {list(names)}, "
                f"got keys {unknown}"
            )
        per = [labels.get(name) for name in names]
    elif several and isinstance(labels, (list, tuple)) and len(labels) == len(names):
        per = list(labels)
    elif several:
        raise ValueError(
            f"the model has {len(names)} outputs {list(names)}: give labels as a dict "
            "keyed by output name or a list with one array per output"
        )
    else:
        per = [labels]
    out = []
    for name, y in zip(names, per, strict=True):
        if y is None:
            out.append(None)
            continue
        what = f"labels[{name!r}]" if several else "labels"
        arr = _as_array(y, what)
        if arr.ndim == 0 or len(arr) != n:
            got = "a scalar" if arr.ndim == 0 else f"{len(arr)} labels"
            raise ValueError(f"{what} must have one entry per input ({n}), got {got}")
        out.append(arr)
    return out


def n_samples(x) -> int:
    return len(x[0]) if isinstance(x, list) else len(x)


def sample_shape(x) -> tuple:
    return tuple((x[0] if isinstance(x, list) else x).shape[1:])


def take(x, index: int):
    """A batch of one sample, as the model takes it."""
    if isinstance(x, list):
        return [a[index : index + 1] for a in x]
    return x[index : index + 1]


def describe(x) -> str:
    if isinstance(x, list):
        return f"a list of {len(x)} arrays of shapes " + ", ".join(
            f"{a.shape} {a.dtype}" for a in x
        )
    return f"an array of shape {x.shape} {x.dtype}"


def check_indices(values, n: int, what: str) -> tuple[int, ...]:
    """``values`` as a tuple of input indices (in their order), each an int in
    ``0..n-1``; anything else raises ``ValueError`` naming ``what``.

    >>> check_indices([2, np.int64(0)], 3, "selection")
    (2, 0)
    >>> check_indices([3], 3, "selection")
    Traceback (most recent call last):
    ...
    ValueError: selection: index 3 is out of range 0..2 (3 inputs)
    """
    out = []
    for i in values:
        if isinstance(i, (bool, np.bool_)) or not isinstance(i, (int, np.integer)):
            raise ValueError(f"{what} must hold input indices (ints); got {i!r}")
        if not 0 <= i < n:
            raise ValueError(f"{what}: index {int(i)} is out of range 0..{n - 1} ({n} inputs)")
        out.append(int(i))
    return tuple(out)
