"""ModelGraph: the model's layers as a clickable graph, top to bottom, linked to
``state.layer``.

The graph comes from Keras' own node graph (:func:`nnwidgets.structure.layer_graph`), the
positions from a layered layout computed once in Python
(:func:`nnwidgets.compute.layout.layered_layout`); the page draws them in SVG with a small
script of ours (no library, no network: offline and in Voila), zooms and pans there, and
sends back clicks. Nested models and users' composite layers open and close (the layout
is computed again, a few ms for DenseNet121's 428 layers).
"""

from __future__ import annotations

import pathlib

import anywidget
from traitlets import Dict, Int, TraitError, Tuple, Unicode, validate

from .. import structure
from .base import ModelView
from .panels import status_html

_STATIC = pathlib.Path(__file__).parent / "static"

#: A node's box: height of a node, of a row of a composite layer's list, and font widths.
NODE_H, ROW_H, NAME_PX, META_PX = 36, 17, 7.4, 6.2


class GraphCanvas(anywidget.AnyWidget):
    """The drawing in the page (see ``static/graph.js``): ``graph`` is what to draw,
    ``selected`` what was clicked, ``holder`` the node holding the selected layer
    when that layer is inside a closed one."""

    _esm = _STATIC / "graph.js"
    graph = Dict().tag(sync=True)
    selected = Unicode("").tag(sync=True)
    holder = Unicode("").tag(sync=True)
    height_px = Int(520).tag(sync=True)
    width_px = Int(640).tag(sync=True)


class ModelGraph(ModelView):
    """The model's layers as a graph: click a layer to pick it (``state.layer``); the
    picked layer is highlighted, with its edges, and kept in view.

    Each node shows the layer's name, type and output shape (hover for its parameters);
    edges go from a layer to those reading its output. Drag to pan, scroll to zoom;
    "fit" shows the whole model. Nested models and composite layers open (▸) and close.

    Parameters
    ----------
    state : ModelState
    expanded : tuple of str, optional
        Nested models and composite layers shown open (default: none; a nested model
        holding the picked layer opens by itself).
    height : int
        Height of the drawing in pixels.

    Attributes
    ----------
    selected : str
        The layer picked (kept equal to ``state.layer``); setting it picks the layer.
    nodes, edges : tuple
        What is drawn: node names and ``(source, target)`` pairs
        (:func:`nnwidgets.structure.layer_graph` with the open nodes expanded).
    note : str
        What the drawing cannot show (a subclassed model has no graph).

    Examples
    --------
    >>> import keras, numpy as np
    >>> from nnwidgets import ModelState, ModelGraph
    >>> m = keras.Sequential([keras.Input((3,), name="x"), keras.layers.Dense(2, name="d")])
    >>> view = ModelGraph(ModelState(m, np.ones((2, 3))))
    >>> view.nodes, view.edges, view.selected
    (('x', 'd'), (('x', 'd'),), 'd')
    >>> view.close()
    """

    follows = ("layer", "layer_names", "version")

    selected = Unicode("", help="The layer picked (follows state.layer).")
    expanded = Tuple(help="Nested models and composite layers shown open.").tag(option=True)
    height = Int(520, min=160, max=4000, help="Height of the drawing in pixels.").tag(option=True)
    nodes = Tuple(read_only=True, help="Node names drawn.")
    edges = Tuple(read_only=True, help="(source, target) pairs drawn.")
    note = Unicode("", read_only=True, help="What the drawing cannot show.")

    def build(self) -> tuple:
        self._graph = structure.has_graph(self.state.model)
        self._built = _built(self.state.model)
        self.canvas = GraphCanvas(height_px=self.height)
        self.canvas.observe(self._on_click, names="selected")
        self.canvas.on_msg(self._on_message)
        self.observe(self._on_selected, names="selected")
        self._layout_key = None
        return (self.message, self.canvas)

    @property
    def _openable(self) -> frozenset:
        if "_openable_names" not in self.__dict__:
            self._openable_names = frozenset(structure.openable(self.state.model))
        return self._openable_names

    @property
    def _pickable(self) -> frozenset:
        return frozenset(self.state.layer_names)

    @validate("selected")
    def _check_selected(self, proposal):
        name = proposal["value"]
        if name and name not in self._pickable:
            raise TraitError(
                f"{name!r} is not a layer one can pick; the model's layers: "
                + _some(sorted(self._pickable))
            )
        return name

    @validate("expanded")
    def _check_expanded(self, proposal):
        names = tuple(proposal["value"])
        bad = [n for n in names if n not in self._openable]
        if bad:
            opens = ", ".join(sorted(self._openable)) or "none"
            raise TraitError(
                f"expanded: {', '.join(map(repr, bad))} cannot open (nested models and "
                f"composite layers can: {opens})"
            )
        return tuple(sorted(set(names)))

    def on_state(self, change) -> None:
        if change["name"] == "layer":
            self.draw()
        elif _built(self.state.model) != self._built:  # built (by its first data)
            self._forget()
            self.draw()

    def _forget(self) -> None:
        """Drop what was worked out from the model's structure (it has changed)."""
        self._graph = structure.has_graph(self.state.model)
        self._built = _built(self.state.model)
        self.__dict__.pop("_openable_names", None)
        self.__dict__.pop("_infos", None)
        self._layout_key = None
        self.expanded = tuple(n for n in self.expanded if n in self._openable)

    def render(self) -> None:
        layer = self.state.layer
        self._open_to(layer)
        key = (self.expanded,)
        if key != self._layout_key:
            self._draw_graph()
            self._layout_key = key
        with self.syncing():
            self.selected = layer
            with self.canvas.hold_sync():
                self.canvas.height_px = self.height
                self.canvas.holder = self._holder(layer)
                self.canvas.selected = layer

    def _open_to(self, layer: str) -> None:
        """Open the nested models and composite layers holding ``layer``."""
        if not layer or layer in self.nodes:
            return
        parts = layer.split("/")
        outer = ["/".join(parts[:i]) for i in range(1, len(parts))]
        wanted = [name for name in outer if name in self._openable]
        if wanted and not set(wanted) <= set(self.expanded):
            self.expanded = tuple(set(self.expanded) | set(wanted))

    def _info(self) -> dict:
        if "_infos" not in self.__dict__:
            nodes, _ = structure.layer_graph(self.state.model, expand_nested=True)
            self._infos = structure.describe(self.state.model, nodes)
        return self._infos

    def _holder(self, layer: str) -> str:
        """The drawn node holding ``layer`` ('' when ``layer`` is drawn itself)."""
        if layer in self.nodes:
            return ""
        parts = layer.split("/")
        for i in range(len(parts) - 1, 0, -1):
            name = "/".join(parts[:i])
            if name in self.nodes:
                return name
        return ""

    def _draw_graph(self) -> None:
        model = self.state.model
        nodes, edges = structure.layer_graph(model, expand_nested=set(self.expanded))
        infos = self._info()
        subs = {n: self._subs_of(n, nodes) for n in nodes if infos[n].kind == "composite"}
        drawn = [n for n in nodes if not _inside_composite(n, subs)]
        self.set_trait("nodes", tuple(drawn))
        self.set_trait("edges", tuple(edges))
        if self._graph:
            note = ""
            layout_edges = edges
        else:
            note = _no_graph_note(model)
            layout_edges = list(zip(drawn, drawn[1:], strict=False))
        self.set_trait("note", note)
        sizes = {n: _size(infos[n], len(subs.get(n, ()))) for n in drawn}
        from ..compute.layout import layered_layout

        layout = layered_layout(drawn, layout_edges, sizes)
        shown = edges if self._graph else []
        self.canvas.graph = _payload(drawn, shown, layout, sizes, infos, subs, self.expanded, note)

    def _subs_of(self, name: str, nodes: list) -> list:
        prefix = name + "/"
        return [n for n in nodes if n.startswith(prefix) and "/" not in n[len(prefix) :]]

    # -- from the page -----------------------------------------------------
    def _on_click(self, change) -> None:
        name = change["new"]
        if not self.from_user or not name or name == self.state.layer:
            return
        if name not in self._pickable:  # an input: the input picker shows it
            self.message.value = status_html(
                f"{name} is a model input: pick an input sample with the input picker"
            )
            self.canvas.selected = self.state.layer
            return
        self.message.value = ""
        self.selected = name

    def _on_selected(self, change) -> None:
        if self.from_user and change["new"] and change["new"] != self.state.layer:
            self.state.layer = change["new"]

    def _on_message(self, _widget, content, _buffers) -> None:
        name = content.get("toggle") if isinstance(content, dict) else None
        if name not in self._openable:
            return
        opened = set(self.expanded)
        if name in opened:
            opened -= {n for n in opened if n == name or n.startswith(name + "/")}
        else:
            opened.add(name)
        self.expanded = tuple(opened)

    def close(self) -> None:
        if not self._closed and getattr(self, "canvas", None) is not None:
            self.canvas.unobserve(self._on_click, names="selected")
        super().close()


def _no_graph_note(model) -> str:
    import keras

    if isinstance(model, keras.Sequential):
        return (
            "this Sequential model is not built yet (give it keras.Input or data): its "
            "layers are listed in order"
        )
    return (
        "Keras keeps no graph of a subclassed model (its call() is plain Python): its "
        "layers are listed in the order they were made"
    )


def _built(model) -> tuple:
    """What changes when a model given unbuilt is built."""
    return (bool(model.built), structure.has_graph(model))


def _some(names: list, shown: int = 12) -> str:
    return ", ".join(names[:shown]) + (", \u2026" if len(names) > shown else "")


def _inside_composite(name: str, subs: dict) -> bool:
    outer = name.rpartition("/")[0]
    return outer in subs and name in subs[outer]


def _size(info, rows: int) -> tuple[float, float]:
    label = info.name.rpartition("/")[2]
    meta = _meta(info)
    width = max(len(label) * NAME_PX + 30, len(meta) * META_PX + 18, 90)
    height = NODE_H + (rows * ROW_H + 6 if rows else 0)
    return (min(width, 320), height)


def _meta(info) -> str:
    return f"{info.type_name} \u00b7 {info.output_shape}"


def _tip(info) -> str:
    params = f"{info.params:,} parameters"
    if info.params and info.trainable_params != info.params:
        params += f" ({info.trainable_params:,} trainable)"
    return f"{info.name}\n{info.type_name}, output {info.output_shape}\n{params}"


def _payload(nodes, edges, layout, sizes, infos, subs, expanded, note) -> dict:
    """What the page draws: nodes with positions and text, edges as SVG paths, boxes
    around open nested models."""
    out_nodes = []
    for n in nodes:
        info = infos[n]
        w, h = sizes[n]
        opened = n in expanded
        out_nodes.append(
            {
                "id": n,
                "label": n.rpartition("/")[2] if info.kind != "input" else n,
                "meta": _meta(info),
                "tip": _tip(info),
                "type": info.type_name,
                "kind": info.kind,
                "x": round(layout.x[n], 1),
                "y": round(layout.y[n], 1),
                "w": round(w, 1),
                "h": round(h, 1),
                "opens": info.kind in ("model", "composite"),
                "open": opened,
                "subs": [
                    {"id": s, "label": _sub_label(infos[s]), "tip": _tip(infos[s])}
                    for s in (subs.get(n, ()) if opened else ())
                ],
            }
        )
    drawn = {d["id"]: d for d in out_nodes}
    paths = []
    for s, t in edges:
        route = layout.routes.get((s, t))
        if not route:
            continue
        paths.append({"s": s, "t": t, "d": _path(route), "back": (s, t) in layout.reversed})
    boxes = [_box(name, nodes, drawn) for name in expanded if infos[name].kind == "model"]
    return {
        "nodes": out_nodes,
        "edges": paths,
        "boxes": [b for b in boxes if b],
        "width": round(layout.width, 1),
        "height": round(layout.height, 1),
        "note": note,
    }


def _sub_label(info) -> str:
    return f"{info.name.rpartition('/')[2]} \u00b7 {info.type_name}"


def _path(points) -> str:
    """An SVG path through ``points``: vertical cubic curves between them."""
    (x, y), *rest = points
    parts = [f"M{x:.1f},{y:.1f}"]
    for nx, ny in rest:
        mid = (y + ny) / 2
        parts.append(f"C{x:.1f},{mid:.1f} {nx:.1f},{mid:.1f} {nx:.1f},{ny:.1f}")
        x, y = nx, ny
    return " ".join(parts)


def _box(name: str, nodes, drawn: dict) -> dict | None:
    """The frame around an open nested model's layers (and its own node)."""
    members = [drawn[n] for n in nodes if n == name or n.startswith(name + "/")]
    if not members:
        return None
    pad, top = 10, 24
    x0 = min(d["x"] - d["w"] / 2 for d in members) - pad
    x1 = max(d["x"] + d["w"] / 2 for d in members) + pad
    y0 = min(d["y"] - d["h"] / 2 for d in members) - top
    y1 = max(d["y"] + d["h"] / 2 for d in members) + pad
    return {
        "id": name,
        "x": round(x0, 1),
        "y": round(y0, 1),
        "w": round(x1 - x0, 1),
        "h": round(y1 - y0, 1),
    }
