"""What a model's inputs and outputs are: images, tokens, sequences, classes, masks.

Every view draws an input or an output for what it is, so the kinds are inferred once
from the model (shapes, dtypes, the layers that read an input or make an output, the
last activation and the compiled loss) and from the labels, and can be overridden.

Input kinds
    ``"tokens"``: integer ids per step, read by an ``Embedding`` (or integer data of
    more than one step). ``"image"``: ``(h, w, c)`` with ``c`` in 1, 3 or 4, or a square
    ``(h, w)`` not read by a sequence layer. ``"sequence"``: ``(steps, features)``.
    ``"tabular"``: a flat vector of features. ``"other"``: anything else.
Output kinds
    ``"classes"``: a softmax, a single sigmoid unit, or logits trained with a
    ``from_logits`` cross-entropy, or a vector whose labels are class indices.
    ``"multilabel"``: several sigmoid units (not trained with a categorical loss).
    ``"segmentation"``: ``(h, w, c)`` with a softmax over ``c > 1`` or a categorical
    loss, or one sigmoid channel whose labels are 0/1 masks. ``"image"``: another
    ``(h, w, 1|3|4)`` output (an autoencoder's or a decoder's). ``"regression"``: a
    linear (or ReLU, tanh) output trained with a regression loss, or a single unit.
    ``"other"``: anything else (e.g. a VAE's latent ``z_mean``).
"""

from __future__ import annotations

import numpy as np

INPUT_KINDS = ("image", "tokens", "sequence", "tabular", "other")
OUTPUT_KINDS = ("classes", "multilabel", "regression", "segmentation", "image", "other")

_SEQUENCE_LAYERS = (
    "Conv1D",
    "SeparableConv1D",
    "DepthwiseConv1D",
    "LSTM",
    "GRU",
    "SimpleRNN",
    "RNN",
    "Bidirectional",
    "MultiHeadAttention",
    "GlobalAveragePooling1D",
    "GlobalMaxPooling1D",
    "MaxPooling1D",
    "AveragePooling1D",
    "LayerNormalization",
)
_REGRESSION_LOSSES = (
    "mse",
    "mae",
    "mape",
    "msle",
    "mean_squared",
    "mean_absolute",
    "huber",
    "log_cosh",
    "logcosh",
    "cosine",
    "poisson",
)


# -- inputs -----------------------------------------------------------------
def input_kind(shape: tuple, dtype: str, readers: tuple[str, ...] = ()) -> str:
    """The kind of one model input, from one sample's shape (no batch axis), its dtype
    and the class names of the layers that read it.

    >>> input_kind((28, 28, 1), "float32")
    'image'
    >>> input_kind((200,), "int32", ("Embedding",))
    'tokens'
    >>> input_kind((500, 1), "float32", ("Conv1D",))
    'sequence'
    >>> input_kind((4,), "float32")
    'tabular'
    """
    shape = tuple(shape)
    integer = np.dtype(dtype).kind in "iub" if _is_numeric(dtype) else False
    if "Embedding" in readers or "TokenAndPositionEmbedding" in readers:
        return "tokens" if len(shape) <= 1 and not _single(shape) else "tabular"
    if len(shape) == 0:
        return "tabular"
    if len(shape) == 1:
        return "tokens" if integer and (shape[0] or 2) > 1 and "Dense" not in readers else "tabular"
    if len(shape) == 2:
        if any(r in _SEQUENCE_LAYERS for r in readers):
            return "sequence"
        square = shape[0] is not None and shape[0] == shape[1]
        return "image" if square and (shape[0] or 0) >= 4 else "sequence"
    if len(shape) == 3:
        return "image" if shape[-1] in (1, 3, 4) else "other"
    return "other"


def _single(shape) -> bool:
    return len(shape) == 0 or tuple(shape) == (1,)


def _is_numeric(dtype) -> bool:
    try:
        np.dtype(dtype)
    except TypeError:
        return False
    return True


def model_input_kinds(model, data=None) -> tuple[str, ...]:
    """One kind per ``model.inputs`` entry (``data``: the samples, a list per input)."""
    tensors = _safe_inputs(model)
    if tensors is None:  # a subclassed or unbuilt model: read the data
        arrays = data if isinstance(data, list) else [data] if data is not None else []
        return tuple(input_kind(a.shape[1:], str(a.dtype)) for a in arrays)
    readers = _readers(model)
    kinds = []
    for i, t in enumerate(tensors):
        dtype = str(t.dtype)
        if data is not None:
            arr = data[i] if isinstance(data, list) else data
            if np.asarray(arr[:1]).dtype.kind in "iu" and dtype.startswith("float"):
                dtype = "int32"  # integer ids fed to a float input (a Sequential default)
        kinds.append(input_kind(tuple(t.shape[1:]), dtype, readers.get(id(t), ())))
    return tuple(kinds)


def _safe_inputs(model):
    try:
        return list(model.inputs)
    except (AttributeError, ValueError):
        return None


def _readers(model) -> dict[int, tuple[str, ...]]:
    """Class names of the layers reading each input tensor (through nested models)."""
    out: dict[int, tuple[str, ...]] = {}
    for t in _safe_inputs(model) or []:
        out[id(t)] = tuple(_reader_names(model, t))
    return out


def _reader_names(model, tensor) -> list[str]:
    names = []
    for layer in getattr(model, "layers", []):
        for node in getattr(layer, "_inbound_nodes", []):
            if any(x is tensor for x in _node_inputs(node)):
                names.append(type(layer).__name__)
                inner = _safe_inputs(layer) if hasattr(layer, "layers") else None
                if inner:  # a nested model: what reads its first input
                    names.extend(_reader_names(layer, inner[0]))
    return names


def _node_inputs(node) -> list:
    try:
        return list(node.input_tensors)
    except AttributeError:
        return []


# -- outputs ----------------------------------------------------------------
def output_kind(shape: tuple, activation: str = "", loss: str = "", labels=None) -> str:
    """The kind of one model output from one sample's shape (no batch axis), the name
    of the last activation, the name of its compiled loss and (optionally) its labels.

    >>> output_kind((10,), "softmax")
    'classes'
    >>> output_kind((1,), "sigmoid")
    'classes'
    >>> output_kind((5,), "sigmoid")
    'multilabel'
    >>> output_kind((128, 128, 3), "softmax")
    'segmentation'
    >>> output_kind((28, 28, 1), "sigmoid")
    'image'
    >>> output_kind((4,), "linear", "mse")
    'regression'
    >>> output_kind((2,), "linear")
    'other'
    """
    shape, loss = tuple(shape), loss.lower()
    categorical = "categorical" in loss or "sparse" in loss or "focal" in loss
    binary = "binary" in loss
    from_logits = "logits" in loss
    labels = None if labels is None else np.asarray(labels)
    rank = len(shape)
    if rank == 3 and shape[-1] is not None:
        return _map_kind(shape, activation, categorical, binary, labels)
    if rank > 1:
        return "other"
    units = shape[0] if rank == 1 else 1
    if activation == "softmax":
        return "classes"
    if activation == "sigmoid":
        return "classes" if units == 1 or categorical else "multilabel"
    if any(r in loss for r in _REGRESSION_LOSSES):
        return "regression"
    if from_logits or categorical:
        return "classes" if categorical or units == 1 else "multilabel"
    if binary:
        return "classes" if units == 1 else "multilabel"
    if labels is not None and _class_labels(labels, units):
        return "classes"
    return "regression" if units == 1 else "other"


def _map_kind(shape, activation, categorical, binary, labels) -> str:
    channels = shape[-1]
    if activation == "softmax" and channels > 1:
        return "segmentation"
    if categorical:
        return "segmentation"
    if labels is not None and labels.ndim >= 3 and _mask_labels(labels, channels):
        return "segmentation"
    if binary and channels == 1 and labels is not None and _mask_labels(labels, 2):
        return "segmentation"
    return "image" if channels in (1, 3, 4) else "other"


def _class_labels(labels: np.ndarray, units: int) -> bool:
    """Labels that are class indices (or one-hot rows) for ``units`` classes."""
    if labels.dtype.kind in "iub" and labels.ndim <= 2 and labels.size:
        flat = labels.reshape(len(labels), -1)
        if flat.shape[1] == 1:
            return 0 <= int(flat.min()) and int(flat.max()) < max(units, 2)
        return flat.shape[1] == units and set(np.unique(flat)) <= {0, 1}
    return False


def _mask_labels(labels: np.ndarray, classes: int) -> bool:
    """Integer-valued masks with values below ``classes``."""
    if not labels.size:
        return False
    sample = labels[: min(len(labels), 8)]
    if sample.dtype.kind == "f" and not np.all(sample == np.round(sample)):
        return False
    return 0 <= float(sample.min()) and float(sample.max()) < max(classes, 2)


def model_output_kinds(model, labels=None) -> tuple[str, ...]:
    """One kind per model output (``labels``: one entry per output, or None)."""
    outputs = _safe_outputs(model)
    losses = output_losses(model)
    if outputs is None:
        return ()
    kinds = []
    for i, t in enumerate(outputs):
        y = labels[i] if isinstance(labels, list) and i < len(labels) else None
        kinds.append(
            output_kind(tuple(t.shape[1:]), last_activation(t), losses[i] if losses else "", y)
        )
    return tuple(kinds)


def _safe_outputs(model):
    try:
        return list(model.outputs)
    except (AttributeError, ValueError):
        return None


def output_names(model) -> tuple[str, ...]:
    """The outputs' names (``model.output_names``, else the producing layers')."""
    names = getattr(model, "output_names", None)
    outputs = _safe_outputs(model) or []
    if names and len(names) == len(outputs):
        return tuple(str(n) for n in names)
    return tuple(
        _producer(t)[0].name if _producer(t) else f"output_{i}" for i, t in enumerate(outputs)
    )


def input_names(model) -> tuple[str, ...]:
    """The inputs' names, in ``model.inputs`` order."""
    return tuple(
        str(getattr(t, "name", f"input_{i}")) for i, t in enumerate(_safe_inputs(model) or [])
    )


def _producer(tensor):
    history = getattr(tensor, "_keras_history", None)
    return (history[0], history[2]) if history else None


def last_activation(tensor) -> str:
    """The name of the activation that made ``tensor``: a layer's ``activation``,
    an ``Activation`` or ``Softmax`` layer, entering nested models.
    """
    found = _producer(tensor)
    if found is None:
        return ""
    layer, index = found
    outputs = _safe_outputs(layer) if hasattr(layer, "layers") else None
    if outputs:  # a nested model: its own output
        return last_activation(outputs[min(index, len(outputs) - 1)])
    if type(layer).__name__ == "Softmax":
        return "softmax"
    activation = getattr(layer, "activation", None)
    name = getattr(activation, "__name__", "") or str(activation or "")
    return name.lower()


def output_activations(model) -> tuple[str, ...]:
    """The last activation of each output ('' where unknown)."""
    return tuple(last_activation(t) for t in _safe_outputs(model) or [])


def output_losses(model) -> list[str]:
    """The compiled loss of each output as lower-case text (class name, function name,
    ``from_logits`` noted), '' where unknown."""
    outputs = _safe_outputs(model) or []
    loss = getattr(model, "loss", None)
    names = output_names(model)
    if isinstance(loss, dict):
        per = [loss.get(n) for n in names]
    elif isinstance(loss, (list, tuple)):
        per = list(loss) + [None] * (len(outputs) - len(loss))
    else:
        per = [loss] * len(outputs)
    return [_loss_text(item) for item in per]


def _loss_text(loss) -> str:
    if loss is None:
        return ""
    if isinstance(loss, str):
        return loss.lower()
    name = getattr(loss, "name", None) or getattr(loss, "__name__", None) or type(loss).__name__
    text = str(name).lower()
    if getattr(loss, "from_logits", False) or getattr(loss, "_fn_kwargs", {}).get("from_logits"):
        text += " from_logits"
    return text


def check_kinds(given, names: tuple[str, ...], allowed: tuple[str, ...], what: str) -> tuple:
    """Check user-given kinds: one string (one input/output), a sequence (one per) or a
    dict by name; unknown kinds raise ``ValueError`` naming the allowed ones."""
    if isinstance(given, str):
        given = [given]
    if isinstance(given, dict):
        unknown = set(given) - set(names)
        if unknown:
            raise ValueError(f"{what} names {sorted(unknown)} are not among {list(names)}")
        return tuple(given.get(n) for n in names)
    given = tuple(given)
    if len(given) != len(names):
        raise ValueError(
            f"{what} needs one kind per {what.split('_')[0]} ({len(names)}: {list(names)}); "
            f"got {len(given)}"
        )
    for kind in given:
        if kind is not None and kind not in allowed:
            raise ValueError(f"{what} entries must be one of {allowed}; got {kind!r}")
    return given


def check_values(given, allowed: tuple[str, ...], what: str) -> None:
    """Raise ``ValueError`` early for kinds that do not exist (names are checked once
    the model's inputs and outputs are known)."""
    if given is None:
        return
    if not isinstance(given, (str, list, tuple, dict)):
        raise TypeError(f"{what} must be a kind, a list of kinds or a dict by name; got {given!r}")
    values = (
        [given]
        if isinstance(given, str)
        else list(given.values() if isinstance(given, dict) else given)
    )
    for kind in values:
        if kind is not None and kind not in allowed:
            raise ValueError(f"{what} entries must be one of {allowed}; got {kind!r}")
