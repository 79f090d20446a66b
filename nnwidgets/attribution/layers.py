"""Which layers an attribution can use: spatial layers for Grad-CAM, the embedding that
reads a token input."""

from __future__ import annotations

from ..compute import graph as _graph
from ..compute import kinds as _kinds


def output_rank(layer) -> int:
    """Rank of a layer's (first) output, batch axis included; 0 when unknown."""
    try:
        return len(_graph.flatten(layer.output)[0].shape)
    except Exception:  # noqa: BLE001 - unbuilt or shared layers have no single output
        return 0


def spatial_layers(model) -> tuple[str, ...]:
    """Names of the layers whose output has spatial axes (``(n, h, w, c)`` or
    ``(n, steps, c)``), in graph order: the layers Grad-CAM can use.

    >>> import keras
    >>> m = keras.Sequential([keras.Input((8, 8, 1)), keras.layers.Conv2D(2, 3, name="c"),
    ...                       keras.layers.Flatten(name="f"), keras.layers.Dense(3)])
    >>> spatial_layers(m)
    ('c',)
    """
    if _graph.graph_of(model) is None:
        return ()
    names = []
    for info in _graph.layer_table(model):
        if output_rank(info.layer) < 3 or _graph.inside_call(model, info.name) is not None:
            continue
        try:
            tensor = _graph.flatten(info.layer.output)[0]
        except Exception:  # noqa: BLE001
            continue
        positions = [d for d in tuple(tensor.shape)[1:-1] if d is not None]
        if "float" in str(tensor.dtype) and (not positions or max(positions) > 1):
            names.append(info.name)
    return tuple(names)


def check_graph(model, method: str) -> None:
    """``ValueError`` for a subclassed model, whose layers' outputs cannot be reached."""
    if _graph.graph_of(model) is None:
        raise ValueError(
            f"{model.name} is a subclassed model: its layers' outputs cannot be reached, "
            f"so {method} cannot be computed; saliency, integrated gradients and "
            "occlusion work on its inputs"
        )


def check_spatial(model, layer: str | None) -> str:
    """The layer Grad-CAM uses: ``layer`` when it has spatial output, else (``None``)
    the last such layer; ``ValueError`` saying why not otherwise."""
    check_graph(model, "Grad-CAM")
    spatial = spatial_layers(model)
    if layer is None:
        if not spatial:
            raise ValueError(
                f"{model.name} has no layer with spatial output (a feature map or a "
                "sequence of steps): Grad-CAM needs one; use saliency or integrated gradients"
            )
        return spatial[-1]
    names = [info.name for info in _graph.layer_table(model)]
    if layer not in names:
        raise ValueError(f"no layer named {layer!r} in {model.name}")
    if layer not in spatial:
        shown = ", ".join(spatial[-4:]) or "none"
        raise ValueError(
            f"layer {layer!r} has no spatial axes (its output is not a feature map or a "
            f"sequence), so Grad-CAM cannot use it; layers that can: {shown}"
        )
    return layer


def embedding_layer(model, input: int = 0) -> str:
    """The recorded name of the layer that embeds token input ``input`` (an
    ``Embedding``, or a user's layer such as ``TokenAndPositionEmbedding``).

    >>> import keras
    >>> m = keras.Sequential([keras.Input((5,), dtype="int32"),
    ...                       keras.layers.Embedding(10, 4, name="emb"),
    ...                       keras.layers.GlobalAveragePooling1D(), keras.layers.Dense(2)])
    >>> embedding_layer(m)
    'emb'
    """
    check_graph(model, "token attributions")
    try:
        tensor = model.inputs[input]
    except (AttributeError, IndexError, ValueError) as err:
        raise ValueError(f"{model.name} has no input {input}") from err
    found = _reader(model, tensor, "")
    if found is None:
        raise ValueError(
            f"input {input} of {model.name} is not read by an Embedding layer: token "
            "attributions need one (for other integer inputs use occlusion)"
        )
    return found


def _reader(model, tensor, prefix: str) -> str | None:
    for layer in getattr(model, "layers", []):
        for node in getattr(layer, "_inbound_nodes", []):
            if not any(x is tensor for x in _kinds._node_inputs(node)):
                continue
            inner = _kinds._safe_inputs(layer) if hasattr(layer, "layers") else None
            if inner:
                found = _reader(layer, inner[0], prefix + layer.name + "/")
                if found:
                    return found
            elif "Embedding" in type(layer).__name__:
                return prefix + layer.name
    return None
