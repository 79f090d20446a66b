"""The shape of a Keras model: which layer feeds which, from Keras' own node graph.

:func:`layer_graph` is pure (names in, names out) and is what
:class:`~nnwidgets.ModelGraph` draws; :func:`describe` adds what each node is.

Names are those of ``ModelState.layer_names`` (nested layers read ``outer/inner``) plus
the model's input layers. Keras records a node each time a layer is called on symbolic
tensors; an edge ``(a, b)`` means some call of ``b`` received an output of ``a``:

- a layer called several times (shared) is one node with the edges of every call;
- a Keras op used directly in a functional model (``keras.ops.add(x, y)``, ``x + y``) is
  not a layer and not pickable: its inputs are wired straight to what reads it;
- a nested functional or Sequential model is one node, or, expanded, its own layers
  (``outer/inner``) wired to what feeds it, its outputs feeding the node ``outer``
  (what picking ``outer`` shows: the nested model's output), which feeds what reads it;
- layers inside a user's composite layer (a ``TransformerBlock`` calling its
  ``MultiHeadAttention`` from ``call``) are not in Keras' graph: expanded, they are
  listed right after their composite layer, with no edges;
- a subclassed model has no graph at all: :func:`layer_graph` lists its layers without
  edges and :func:`has_graph` is False.
"""

from __future__ import annotations

from dataclasses import dataclass

from .compute import graph as _graph


def has_graph(model) -> bool:
    """Whether Keras keeps a graph of ``model`` (functional and Sequential models do;
    subclassed models, whose ``call`` is plain Python, do not).

    >>> import keras
    >>> has_graph(keras.Sequential([keras.Input((2,)), keras.layers.Dense(1)]))
    True
    """
    _check_model(model)
    return _graph.graph_of(model) is not None


def layer_graph(model, expand_nested=False) -> tuple[list[str], list[tuple[str, str]]]:
    """The model's layers and which feeds which.

    Parameters
    ----------
    model : keras.Model
        Any Keras 3 model.
    expand_nested : bool or collection of str
        Open nested models and composite layers: all of them (True), none (False), or
        those named (e.g. ``{"encoder"}``; a nested model inside an opened one must be
        named too).

    Returns
    -------
    nodes : list of str
        Input layer names, then layer names in graph order (each once).
    edges : list of (str, str)
        ``(source, target)``: target receives an output of source (each pair once).

    Examples
    --------
    >>> import keras
    >>> x = keras.Input((4,), name="x")
    >>> a = keras.layers.Dense(3, name="a")(x)
    >>> b = keras.layers.Dense(3, name="b")(x)
    >>> y = keras.layers.Add(name="sum")([a, b])
    >>> layer_graph(keras.Model(x, y))
    (['x', 'a', 'b', 'sum'], [('x', 'a'), ('x', 'b'), ('a', 'sum'), ('b', 'sum')])
    """
    _check_model(model)
    walk = _Walk(_expander(expand_nested))
    graph = _graph.graph_of(model)
    if graph is None:
        walk.composites(model, "")
        return walk.nodes, []
    walk.run(model, "", feeds=None)
    return walk.nodes, walk.edges


@dataclass(frozen=True)
class NodeInfo:
    """What a node of :func:`layer_graph` is.

    ``kind`` is ``"input"`` (a model input), ``"layer"``, ``"model"`` (a nested model:
    it can open) or ``"composite"`` (a user's layer holding layers: it can open).
    ``inside`` is the composite layer or nested model it is in ('' at the top).
    """

    name: str
    kind: str
    type_name: str
    output_shape: str
    params: int
    trainable_params: int
    inside: str


def describe(model, nodes) -> dict[str, NodeInfo]:
    """:class:`NodeInfo` of each node name of :func:`layer_graph`.

    >>> import keras
    >>> m = keras.Sequential([keras.Input((4,), name="x"), keras.layers.Dense(2, name="d")])
    >>> info = describe(m, layer_graph(m)[0])
    >>> info["x"].kind, info["d"].type_name, info["d"].output_shape, info["d"].params
    ('input', 'Dense', '(N, 2)', 10)
    """
    keras = _graph._keras()
    rows = {info.name: info for info in _graph.layer_table(model)}
    inputs = {_op_of(t).name: t for t in _inputs_of(model)}
    out = {}
    for name in nodes:
        if name in rows:
            info = rows[name]
            layer = info.layer
            kind = (
                "model"
                if isinstance(layer, keras.Model) and _graph.graph_of(layer) is not None
                else "composite"
                if _composite(layer)
                else "layer"
            )
            trainable = int(sum(_size(w) for w in layer.trainable_weights))
            out[name] = NodeInfo(
                name,
                kind,
                info.type_name,
                info.output_shape,
                info.param_count,
                trainable,
                name.rpartition("/")[0],
            )
        elif name in inputs:
            shape = str(tuple(inputs[name].shape)).replace("None", "N")
            out[name] = NodeInfo(name, "input", "Input", shape, 0, 0, "")
        else:
            raise ValueError(f"{name!r} is not a layer nor an input of this model")
    return out


def openable(model) -> list[str]:
    """Names of the nodes that open: nested models and users' composite layers.

    >>> import keras
    >>> inner = keras.Sequential([keras.Input((2,)), keras.layers.Dense(2)], name="inner")
    >>> openable(keras.Sequential([keras.Input((2,)), inner]))
    ['inner']
    """
    keras = _graph._keras()
    names = []
    for info in _graph.layer_table(model):
        layer = info.layer
        if isinstance(layer, keras.Model) and _graph.graph_of(layer) is not None:
            names.append(info.name)
        elif _composite(layer):
            names.append(info.name)
    return names


class _Walk:
    """Walks functional graphs, nested ones included, gathering nodes and edges."""

    def __init__(self, expand):
        self.expand = expand
        self.nodes: list[str] = []
        self.edges: list[tuple[str, str]] = []
        self._seen_nodes: set = set()
        self._seen_edges: set = set()
        self._opened: set = set()

    def node(self, name: str) -> None:
        if name not in self._seen_nodes:
            self._seen_nodes.add(name)
            self.nodes.append(name)

    def edge(self, source: str, target: str) -> None:
        if (source, target) not in self._seen_edges:
            self._seen_edges.add((source, target))
            self.edges.append((source, target))

    def run(self, model, prefix: str, feeds) -> list[frozenset]:
        """Walk ``model``'s graph; ``feeds`` are the producers of each of its inputs
        (None at the top: the input layers are nodes). Returns the producers of each
        of its outputs."""
        graph = _graph.graph_of(model)
        made: dict[tuple, frozenset] = {}
        for i, tensor in enumerate(graph.inputs):
            if feeds is None:
                name = _op_of(tensor).name
                self.node(name)
                made[_key(tensor)] = frozenset([name])
            else:
                made[_key(tensor)] = feeds[i] if i < len(feeds) else frozenset()
        for node in _ordered_nodes(graph):
            if node.is_input:
                continue
            feeds = [made.get(_key(t), frozenset()) for t in node.arguments.keras_tensors]
            outputs = self.call(node, prefix, feeds)
            op = node.operation
            index = op._inbound_nodes.index(node)
            for t in range(len(_graph.flatten(node.outputs))):
                made[(id(op), index, t)] = outputs
        return [made.get(_key(t), frozenset()) for t in graph.outputs]

    def call(self, node, prefix: str, feeds: list) -> frozenset:
        """Wire one call (a Keras node) whose tensor arguments come from ``feeds`` (the
        producers of each); returns the producers of its outputs."""
        keras = _graph._keras()
        op = node.operation
        sources = frozenset().union(*feeds)
        if not isinstance(op, keras.layers.Layer):  # a Keras op: wired through
            return sources
        name = prefix + op.name
        self.node(name)
        if isinstance(op, keras.Model) and _graph.graph_of(op) is not None and self.expand(name):
            inner = self.run(op, name + "/", feeds=feeds)
            if name not in self._opened:  # its node follows its layers (first call)
                self._opened.add(name)
                self.nodes.remove(name)
                self.nodes.append(name)
            for producers in inner:
                for source in sorted(producers):
                    self.edge(source, name)
        else:
            for source in sorted(sources):
                self.edge(source, name)
            self.composites_of(op, name)
        return frozenset([name])

    def composites_of(self, layer, name: str) -> None:
        """List the layers inside an opened composite layer (those inside a sublayer
        only when that one is opened too)."""
        if not (_composite(layer) and self.expand(name)):
            return
        shown = {name}
        for sub in _graph._sublayers(layer, name + "/", 1):
            outer = sub.name.rpartition("/")[0]
            if outer in shown and (outer == name or self.expand(outer)):
                shown.add(sub.name)
                self.node(sub.name)

    def composites(self, model, prefix: str) -> None:
        """A model without a graph: its layers, in order (composites opened when asked)."""
        for info in _graph.layer_table(model):
            outer = info.name.rpartition("/")[0]
            if not outer or self.expand(outer):
                self.node(info.name)


def _ordered_nodes(graph) -> list:
    """The graph's Keras nodes, from the inputs to the outputs."""
    out = []
    for depth in sorted(graph._nodes_by_depth, reverse=True):
        out.extend(graph._nodes_by_depth[depth])
    return out


def _key(tensor) -> tuple:
    history = tensor._keras_history
    return (id(history.operation), history.node_index, history.tensor_index)


def _op_of(tensor):
    return tensor._keras_history.operation


def _inputs_of(model) -> list:
    try:
        return list(model.inputs or [])
    except (AttributeError, ValueError):
        return []


def _composite(layer) -> bool:
    """A layer whose sublayers are pickable (a user's own layer, a wrapper)."""
    keras = _graph._keras()
    if isinstance(layer, keras.Model):
        return False
    return bool(_graph._sublayers(layer, "", 1))


def _size(variable) -> int:
    size = 1
    for d in variable.shape:
        size *= int(d)
    return size


def _expander(expand_nested):
    if expand_nested is True:
        return lambda name: True
    if expand_nested is False or expand_nested is None:
        return lambda name: False
    if isinstance(expand_nested, str):
        raise TypeError(
            f"expand_nested must be True, False or a collection of layer names; got the "
            f"string {expand_nested!r} (write {{{expand_nested!r}}})"
        )
    names = frozenset(expand_nested)
    return lambda name: name in names


def _check_model(model) -> None:
    if not _graph.is_model(model):
        raise TypeError(f"expected a keras.Model, got {type(model).__name__}")
