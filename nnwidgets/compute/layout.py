"""A layered (Sugiyama-style) top-to-bottom layout of a directed graph, for drawing a
model's layer graph in the browser: positions are computed once here and sent to the page.

The steps: cycles broken by reversing the back edges of a depth-first search in node
order; ranks by longest path from the sources, then each source pulled down to just above
its highest target; long edges cut into dummy vertices, one per intermediate rank;
vertices ordered within ranks by barycenter sweeps, each followed by swaps of neighbours
that remove crossings, keeping the order with the fewest crossings; x by passes that move
each vertex to the weighted median of its neighbours while keeping order and separation
(an L1 isotonic fit per rank); y by rank. :func:`crossings` counts a layout's crossings.

>>> lay = layered_layout(["in", "conv", "out"], [("in", "conv"), ("conv", "out")])
>>> [lay.layer[n] for n in ("in", "conv", "out")]
[0, 1, 2]
>>> len({lay.x[n] for n in ("in", "conv", "out")})
1
>>> lay.routes[("in", "conv")]
[(70.0, 36.0), (70.0, 84.0)]
"""

from __future__ import annotations

from bisect import bisect_right, insort
from dataclasses import dataclass
from itertools import pairwise

DEFAULT_SIZE = (140.0, 36.0)
LOOP_PAD = 12.0  # how far a self-loop reaches beside and above/below its node
_REAL_WEIGHT = 4.0  # how hard a real node holds its place against a dummy (long edge)
_FREE_WEIGHT = 0.01  # a vertex with no neighbour on the side a pass looks at
_PLACE_PASSES = 4


@dataclass(frozen=True)
class Layout:
    """Where to draw each node and edge (px, y down; node positions are centres).

    ``routes[(s, t)]`` runs from the bottom centre of ``s`` to the top centre of ``t``
    through one bend per intermediate rank. An edge in ``reversed`` was drawn against
    the flow: its route still runs from ``s`` to ``t``, so it starts at the top of ``s``
    and ends at the bottom of ``t`` (a self-loop leaves ``s`` at the bottom, passes on
    its right and comes back in at the top).
    """

    x: dict[str, float]
    y: dict[str, float]
    layer: dict[str, int]
    routes: dict[tuple[str, str], list[tuple[float, float]]]
    width: float
    height: float
    reversed: frozenset


def layered_layout(
    nodes: list[str],
    edges: list[tuple[str, str]],
    sizes: dict[str, tuple[float, float]] | None = None,
    *,
    gap_x: float = 24,
    gap_y: float = 48,
    sweeps: int = 8,
) -> Layout:
    """Lay out a directed graph top to bottom in rows (ranks).

    Parameters
    ----------
    nodes : list of str
        Unique names; their order breaks ties, so the result is deterministic.
    edges : list of (str, str)
        ``(source, target)``; repeats are kept once, cycles and self-loops are allowed.
    sizes : dict, optional
        ``name -> (width, height)`` in px; missing nodes are ``DEFAULT_SIZE``.
    gap_x, gap_y : float
        Least horizontal space between boxes in a rank, and vertical space between ranks.
    sweeps : int
        Down-and-up barycenter sweeps to order the ranks.

    Returns
    -------
    Layout

    Raises
    ------
    ValueError
        A node named twice, or an edge naming a node not in ``nodes``.

    >>> lay = layered_layout(["a", "b"], [("a", "b"), ("b", "a"), ("b", "b")])
    >>> sorted(lay.reversed), lay.layer
    ([('b', 'a'), ('b', 'b')], {'a': 0, 'b': 1})
    """
    index = _index(nodes)
    pairs = _check_edges(edges, index)
    n = len(nodes)
    box = [_size(sizes, name) for name in nodes]
    loops = {u for u, v in pairs if u == v}
    flow = [(u, v) for u, v in pairs if u != v]
    back = _back_edges(n, flow)
    oriented = list(dict.fromkeys((v, u) if (u, v) in back else (u, v) for u, v in flow))
    rank = _ranks(n, oriented)
    g = _Graph(n, rank, oriented)
    _order(g, sweeps)
    widths = [box[i][0] + (2 * LOOP_PAD if i in loops else 0.0) for i in range(n)]
    widths += [0.0] * (len(g.rank) - n)
    xs = _x_coordinates(g, widths, gap_x)
    row_y, row_h = _rows(g, box, gap_y)
    left = min((x - w / 2 for x, w in zip(xs, widths, strict=True)), default=0.0)
    xs = [x - left for x in xs]
    ys = [row_y[g.rank[v]] for v in range(len(g.rank))]
    routes = {}
    for u, v in pairs:
        if u == v:
            routes[(nodes[u], nodes[v])] = _loop_route(xs[u], ys[u], box[u])
            continue
        up, down = (v, u) if (u, v) in back else (u, v)
        chain = g.chains[(up, down)]
        pts = [(xs[up], ys[up] + box[up][1] / 2)]
        pts += [(xs[d], ys[d]) for d in chain[1:-1]]
        pts.append((xs[down], ys[down] - box[down][1] / 2))
        routes[(nodes[u], nodes[v])] = pts if up == u else pts[::-1]
    return Layout(
        x={name: xs[i] for i, name in enumerate(nodes)},
        y={name: ys[i] for i, name in enumerate(nodes)},
        layer={name: g.rank[i] for i, name in enumerate(nodes)},
        routes=routes,
        width=max((x + w / 2 for x, w in zip(xs, widths, strict=True)), default=0.0),
        height=(row_y[-1] + row_h[-1] / 2) if row_y else 0.0,
        reversed=frozenset((nodes[u], nodes[v]) for u, v in pairs if u == v or (u, v) in back),
    )


def crossings(layout: Layout) -> int:
    """Edge crossings between adjacent ranks of a drawn layout (long edges counted
    through their bends), from the routes' x at each rank.

    >>> crossings(layered_layout(list("abcd"), [("a", "d"), ("b", "c")]))
    0
    """
    segments: dict[int, list[tuple[float, float]]] = {}
    for (s, t), pts in layout.routes.items():
        if s == t:
            continue
        a, b = (s, t) if layout.layer[s] < layout.layer[t] else (t, s)
        pts = pts if a == s else pts[::-1]
        xs = [p[0] for p in pts]
        for k in range(len(xs) - 1):
            segments.setdefault(layout.layer[a] + k, []).append((xs[k], xs[k + 1]))
    return sum(_inversions([b for _, b in sorted(seg)]) for seg in segments.values())


# ---------------------------------------------------------------- input checks


def _index(nodes: list[str]) -> dict[str, int]:
    index = {name: i for i, name in enumerate(nodes)}
    if len(index) != len(nodes):
        twice = sorted({name for name in nodes if nodes.count(name) > 1})
        raise ValueError(f"nodes named more than once: {twice}")
    return index


def _check_edges(edges, index: dict[str, int]) -> list[tuple[int, int]]:
    unknown = sorted({str(name) for edge in edges for name in edge if name not in index})
    if unknown:
        raise ValueError(f"edges name nodes that are not in the graph: {unknown}")
    return list(dict.fromkeys((index[u], index[v]) for u, v in edges))


def _size(sizes, name: str) -> tuple[float, float]:
    w, h = (sizes or {}).get(name, DEFAULT_SIZE)
    return float(w), float(h)


# ---------------------------------------------------------------- cycles and ranks


def _back_edges(n: int, edges: list[tuple[int, int]]) -> set[tuple[int, int]]:
    """Edges into a vertex still on the stack of a depth-first search in node order."""
    succ: list[list[int]] = [[] for _ in range(n)]
    for u, v in edges:
        succ[u].append(v)
    state = [0] * n  # 0 unseen, 1 on the stack, 2 done
    back = set()
    for root in range(n):
        if state[root]:
            continue
        state[root] = 1
        stack = [(root, iter(succ[root]))]
        while stack:
            u, children = stack[-1]
            for v in children:
                if state[v] == 1:
                    back.add((u, v))
                elif state[v] == 0:
                    state[v] = 1
                    stack.append((v, iter(succ[v])))
                    break
            else:
                state[u] = 2
                stack.pop()
    return back


def _ranks(n: int, edges: list[tuple[int, int]]) -> list[int]:
    """Longest path from the sources; then each source with targets sits just above
    the highest of them (a second input next to its consumer, not at the top)."""
    succ: list[list[int]] = [[] for _ in range(n)]
    indegree = [0] * n
    for u, v in edges:
        succ[u].append(v)
        indegree[v] += 1
    rank = [0] * n
    ready = [v for v in range(n) if indegree[v] == 0]
    sources = list(ready)
    while ready:
        u = ready.pop()
        for v in succ[u]:
            rank[v] = max(rank[v], rank[u] + 1)
            indegree[v] -= 1
            if indegree[v] == 0:
                ready.append(v)
    for u in sources:
        if succ[u]:
            rank[u] = min(rank[v] for v in succ[u]) - 1
    low = min(rank, default=0)
    return [r - low for r in rank]


# ---------------------------------------------------------------- dummies and order


class _Graph:
    """Real vertices ``0..n-1`` then one dummy per intermediate rank of each long edge;
    ``rows[r]`` the vertices of rank ``r`` in order, ``up``/``down`` the neighbours in
    the rank above/below, ``chains[(u, v)]`` the vertices an edge passes through."""

    def __init__(self, n: int, rank: list[int], edges: list[tuple[int, int]]):
        self.n = n
        self.rank = list(rank)
        self.key = [float(v) for v in range(n)]  # the starting order within a rank
        self.chains: dict[tuple[int, int], list[int]] = {}
        self.up: list[list[int]] = [[] for _ in range(n)]
        self.down: list[list[int]] = [[] for _ in range(n)]
        for u, v in edges:
            chain = [u]
            for r in range(rank[u] + 1, rank[v]):
                chain.append(self._dummy(r, v + (r - rank[u]) / (rank[v] - rank[u] + 1)))
            chain.append(v)
            for a, b in pairwise(chain):
                self.down[a].append(b)
                self.up[b].append(a)
            self.chains[(u, v)] = chain
        height = max(self.rank, default=-1) + 1
        self.rows: list[list[int]] = [[] for _ in range(height)]
        for v in sorted(range(len(self.rank)), key=self.key.__getitem__):
            self.rows[self.rank[v]].append(v)

    def _dummy(self, r: int, key: float) -> int:
        self.rank.append(r)
        self.key.append(key)
        self.up.append([])
        self.down.append([])
        return len(self.rank) - 1

    def is_dummy(self, v: int) -> bool:
        return v >= self.n

    def positions(self) -> list[int]:
        pos = [0] * len(self.rank)
        for row in self.rows:
            for i, v in enumerate(row):
                pos[v] = i
        return pos

    def crossings(self) -> int:
        pos = self.positions()
        total = 0
        for row in self.rows[:-1]:
            seg = sorted((pos[u], pos[v]) for u in row for v in self.down[u])
            total += _inversions([b for _, b in seg])
        return total


def _inversions(seq: list) -> int:
    """Pairs ``i < j`` with ``seq[i] > seq[j]`` (O(m log m) compares, C-speed inserts)."""
    seen: list = []
    count = 0
    for x in seq:
        count += len(seen) - bisect_right(seen, x)
        insort(seen, x)
    return count


def _order(g: _Graph, sweeps: int) -> None:
    """Barycenter sweeps down then up, up to ``sweeps`` rounds (stopping after two
    that gain nothing), each sweep followed by swaps of neighbours; ties keep their
    order in even rounds and flip in odd ones. ``g.rows`` ends as the order with the
    fewest crossings seen (the first such, starting from node order)."""
    best, best_rows = g.crossings(), [list(row) for row in g.rows]
    idle = 0
    for round_ in range(sweeps):
        before = best
        for downward in (True, False):
            if best == 0:
                break
            _sweep(g, downward, flip_ties=round_ % 2 == 1)
            _transpose(g)
            count = g.crossings()
            if count < best:
                best, best_rows = count, [list(row) for row in g.rows]
        idle = idle + 1 if best == before else 0
        if idle == 2 or best == 0:
            break
    g.rows = best_rows


def _sweep(g: _Graph, downward: bool, flip_ties: bool = False) -> None:
    pos = g.positions()
    ranks = range(1, len(g.rows)) if downward else range(len(g.rows) - 2, -1, -1)
    other = g.up if downward else g.down
    tie = -1 if flip_ties else 1
    for r in ranks:
        row = g.rows[r]

        def bary(v):
            nb = other[v]
            if len(nb) == 1:
                return (pos[nb[0]], tie * pos[v])
            return (sum(pos[u] for u in nb) / len(nb) if nb else pos[v], tie * pos[v])

        row.sort(key=bary)
        for i, v in enumerate(row):
            pos[v] = i


def _transpose(g: _Graph, rounds: int = 4) -> None:
    """Swap neighbours within a rank while that removes crossings with both adjacent
    ranks (what barycenters miss, e.g. two parents sharing a child); after the first
    round, only ranks next to a swap are looked at again."""
    pos = g.positions()
    todo = set(range(len(g.rows)))
    for _ in range(rounds):
        swapped = set()
        for r in sorted(todo):
            row = g.rows[r]
            for i in range(len(row) - 1):
                u, v = row[i], row[i + 1]
                now, then = _pair_crossings(g, pos, u, v)
                if then < now:
                    row[i], row[i + 1] = v, u
                    pos[u], pos[v] = i + 1, i
                    swapped.add(r)
        todo = {k for r in swapped for k in (r - 1, r, r + 1) if 0 <= k < len(g.rows)}
        if not todo:
            return


def _pair_crossings(g: _Graph, pos: list[int], left: int, right: int) -> tuple[int, int]:
    """Crossings between the edges of ``left`` and ``right`` as they are, and swapped."""
    now = then = 0
    for nb in (g.up, g.down):
        ours, theirs = nb[left], nb[right]
        if len(ours) == 1 and len(theirs) == 1:  # most vertices: one edge each way
            a, b = pos[ours[0]], pos[theirs[0]]
            now, then = now + (b < a), then + (a < b)
            continue
        for a in ours:
            pa = pos[a]
            for b in theirs:
                pb = pos[b]
                now, then = now + (pb < pa), then + (pa < pb)
    return now, then


# ---------------------------------------------------------------- coordinates


def _x_coordinates(g: _Graph, widths: list[float], gap_x: float) -> list[float]:
    """Each rank packed and centred, then passes (down, using the rank above, and up)
    that move every vertex to the weighted median of its neighbours' x, keeping order
    and separation; a real vertex holds its place harder than a dummy one, and prefers
    real neighbours, so a chain stays straight and skip edges go beside it. Stops early
    once a pass moves nothing by half a pixel."""
    xs = [0.0] * len(g.rank)
    offsets = [_offsets(g, row, widths, gap_x) for row in g.rows]
    for row, offs in zip(g.rows, offsets, strict=True):
        for v, o in zip(row, offs, strict=True):
            xs[v] = o - offs[-1] / 2
    for _ in range(_PLACE_PASSES):
        before = list(xs)
        for r in range(1, len(g.rows)):
            _place(g, g.rows[r], offsets[r], g.up, xs)
        for r in range(len(g.rows) - 2, -1, -1):
            _place(g, g.rows[r], offsets[r], g.down, xs)
        if max((abs(a - b) for a, b in zip(xs, before, strict=True)), default=0.0) < 0.5:
            break
    return xs


def _offsets(g: _Graph, row: list[int], widths: list[float], gap_x: float) -> list[float]:
    """Least x of each vertex of ``row`` relative to the first."""
    offs = [0.0]
    for a, b in pairwise(row):
        gap = gap_x / 2 if g.is_dummy(a) or g.is_dummy(b) else gap_x
        offs.append(offs[-1] + (widths[a] + widths[b]) / 2 + gap)
    return offs


def _place(g: _Graph, row: list[int], offs: list[float], neighbours, xs: list[float]) -> None:
    """Move the vertices of ``row`` as near as order and separation allow to the
    weighted median of their ``neighbours``' x."""
    targets, weights = [], []
    for v in row:
        nb = neighbours[v]
        if len(nb) == 1:  # every dummy, and most layers
            targets.append(xs[nb[0]])
        elif nb:
            w = [1.0 if g.is_dummy(u) or g.is_dummy(v) else 2.0 for u in nb]
            targets.append(_median([xs[u] for u in nb], w))
        else:
            targets.append(xs[v])
        weights.append(_FREE_WEIGHT if not nb else 1.0 if g.is_dummy(v) else _REAL_WEIGHT)
    if len(row) == 1:
        xs[row[0]] = targets[0]
        return
    ys = _isotonic_l1([t - o for t, o in zip(targets, offs, strict=True)], weights)
    for v, y, o in zip(row, ys, offs, strict=True):
        xs[v] = y + o


def _median(values: list[float], weights: list[float]) -> float:
    """Weighted median; the midpoint when the weight splits evenly.

    >>> _median([0.0, 10.0], [1.0, 1.0]), _median([0.0, 10.0], [1.0, 2.0])
    (5.0, 10.0)
    """
    return _sorted_median(sorted(zip(values, weights, strict=True)), sum(weights))


def _sorted_median(pairs: list[tuple[float, float]], total: float) -> float:
    half = total / 2
    cum = 0.0
    for k, (v, w) in enumerate(pairs):
        cum += w
        if abs(cum - half) < 1e-9 and k + 1 < len(pairs):
            return (v + pairs[k + 1][0]) / 2
        if cum > half:
            return v
    return pairs[-1][0]


def _isotonic_l1(values: list[float], weights: list[float]) -> list[float]:
    """Non-decreasing ``y`` minimising ``sum(w * |y - value|)`` (pool adjacent violators
    with weighted medians; each pool keeps its values sorted).

    >>> _isotonic_l1([0.0, -2.0, 5.0], [4.0, 1.0, 1.0])
    [0.0, 0.0, 5.0]
    """
    blocks: list[tuple[list[tuple[float, float]], float, float]] = []  # pairs, weight, median
    for v, w in zip(values, weights, strict=True):
        pairs, total, m = [(v, w)], w, v
        while blocks and blocks[-1][2] > m:
            prev, prev_total, _ = blocks.pop()
            pairs, total = sorted(prev + pairs), prev_total + total  # two sorted runs
            m = _sorted_median(pairs, total)
        blocks.append((pairs, total, m))
    return [m for pairs, _, m in blocks for _ in pairs]


def _rows(g: _Graph, box, gap_y: float) -> tuple[list[float], list[float]]:
    """Centre y and height of each rank: as tall as its tallest node."""
    heights = [max((box[v][1] for v in row if v < g.n), default=0.0) for row in g.rows]
    centres, top = [], 0.0
    for h in heights:
        centres.append(top + h / 2)
        top += h + gap_y
    return centres, heights


def _loop_route(x: float, y: float, size: tuple[float, float]) -> list[tuple[float, float]]:
    w, h = size
    right, below, above = x + w / 2 + LOOP_PAD, y + h / 2 + LOOP_PAD, y - h / 2 - LOOP_PAD
    return [
        (x, y + h / 2),
        (x, below),
        (right, below),
        (right, above),
        (x, above),
        (x, y - h / 2),
    ]
