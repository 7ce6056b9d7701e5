"""A layered (Sugiyama-style) layout of the entities, left to right: an entity sits one column right of
every entity it references, so references read leftwards from the many side to the one side. networkx
gives the graph work (breaking cycles of optional references, the layers); a reference that spans more
than one column passes through a waypoint in each column between, which holds a slot of its own, so no
line crosses a box. Boxes in a column are ordered by the barycenter heuristic to cut crossings."""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

import networkx as nx

from snapinfra_codegen.diagram.model import Relation

COLUMN_GAP = 120.0
ROW_GAP = 36.0
WAYPOINT_HEIGHT = 14.0
SWEEPS = 6


@dataclass
class Placed:
    """A box or a waypoint, with its column, its order in the column and its top-left corner."""

    id: str
    width: float
    height: float
    layer: int = 0
    x: float = 0.0
    y: float = 0.0
    waypoint: bool = False

    @property
    def center_y(self) -> float:
        return self.y + self.height / 2


@dataclass
class Route:
    """A relation's path: from the source box, through waypoints (if any), to the target box."""

    relation: Relation
    waypoints: list[Placed] = field(default_factory=list)


@dataclass
class Layout:
    boxes: dict[str, Placed]
    routes: list[Route]
    width: float
    height: float


def _acyclic(names: list[str], relations: tuple[Relation, ...]) -> nx.DiGraph:
    """source -> target for every relation between two entities, less one edge of each cycle (an optional
    one first: a cycle of required references is refused by the spec)."""
    graph = nx.DiGraph()
    graph.add_nodes_from(names)
    required = {(r.source, r.target): r.required for r in relations if r.source != r.target}
    graph.add_edges_from(required)
    while True:
        try:
            cycle = nx.find_cycle(graph)
        except nx.NetworkXNoCycle:
            return graph
        edges = [(u, v) for u, v, *_ in cycle]
        graph.remove_edge(*min(edges, key=lambda e: required[e]))


def _layers(names: list[str], relations: tuple[Relation, ...], heights: dict[str, float]) -> dict[str, int]:
    graph = _acyclic(names, relations)
    layer: dict[str, int] = {}
    for name in reversed(list(nx.topological_sort(graph))):  # targets before their sources
        layer[name] = 1 + max((layer[t] for t in graph.successors(name)), default=-1)
    # An entity only referenced moves right, next to its nearest referrer (shorter lines).
    for name in nx.topological_sort(graph):
        referrers = [layer[s] for s in graph.predecessors(name)]
        if referrers and not list(graph.successors(name)):
            layer[name] = min(referrers) - 1
    # An entity on its own goes in the column that is shortest so far.
    alone = [n for n in names if graph.degree(n) == 0]
    connected = [n for n in names if n not in alone]
    columns: dict[int, float] = {}
    for name in connected:
        columns[layer[name]] = columns.get(layer[name], 0.0) + heights[name] + ROW_GAP
    for name in alone:
        target = min(columns, key=lambda c: (columns[c], c)) if columns else 0
        layer[name] = target
        columns[target] = columns.get(target, 0.0) + heights[name] + ROW_GAP
    return layer


def layout(sizes: dict[str, tuple[float, float]], relations: tuple[Relation, ...]) -> Layout:
    """Place boxes of the given (width, height), in the given order, and route the relations."""
    names = list(sizes)
    layer = _layers(names, relations, {n: h for n, (_, h) in sizes.items()})
    boxes = {n: Placed(n, w, h, layer[n]) for n, (w, h) in sizes.items()}
    columns: dict[int, list[Placed]] = {}
    for name in names:
        columns.setdefault(layer[name], []).append(boxes[name])
    routes: list[Route] = []
    neighbours: dict[str, list[str]] = {n: [] for n in names}
    for index, relation in enumerate(relations):
        route = Route(relation)
        a, b = layer[relation.source], layer[relation.target]
        step = 1 if b > a else -1
        chain = [relation.source]
        for middle in range(a + step, b, step):
            point = Placed(f"~{index}:{middle}", 0.0, WAYPOINT_HEIGHT, middle, waypoint=True)
            columns.setdefault(middle, []).append(point)
            route.waypoints.append(point)
            neighbours[point.id] = []
            chain.append(point.id)
        chain.append(relation.target)
        for u, v in itertools.pairwise(chain):
            if u != v:
                neighbours[u].append(v)
                neighbours[v].append(u)
        routes.append(route)
    placed = {p.id: p for column in columns.values() for p in column}
    order = _order(columns, neighbours, placed)
    _place(order, neighbours, placed)
    width = max(p.x + p.width for p in placed.values())
    height = max(p.y + p.height for p in placed.values())
    return Layout(boxes, routes, width, height)


def _order(
    columns: dict[int, list[Placed]], neighbours: dict[str, list[str]], placed: dict[str, Placed]
) -> list[list[Placed]]:
    """Each column's items, ordered by the mean position of their neighbours in the column before (then
    after), a few sweeps each way."""
    order = [columns.get(i, []) for i in range(max(columns) + 1)]
    rank = {p.id: i for column in order for i, p in enumerate(column)}

    def sweep(indices: range, side: int) -> None:
        for i in indices:

            def key(p: Placed, layer: int = i + side) -> float:
                near = [rank[n] for n in neighbours[p.id] if placed[n].layer == layer]
                return sum(near) / len(near) if near else float(rank[p.id])

            order[i] = sorted(order[i], key=key)
            rank.update({p.id: r for r, p in enumerate(order[i])})

    for _ in range(SWEEPS):
        sweep(range(1, len(order)), -1)
        sweep(range(len(order) - 2, -1, -1), 1)
    return order


def _place(order: list[list[Placed]], neighbours: dict[str, list[str]], placed: dict[str, Placed]) -> None:
    """x from the widest box of each column; y near the neighbours already placed, without overlaps."""
    x = 0.0
    for column in order:
        width = max((p.width for p in column), default=0.0)
        for p in column:
            p.x = x
            if p.waypoint:
                p.width = width  # a line crosses the whole column at its slot
        x += width + COLUMN_GAP
    done: set[str] = set()
    for column in order:
        wanted = []
        for p in column:
            near = [placed[n].center_y for n in neighbours[p.id] if n in done]
            wanted.append(sum(near) / len(near) - p.height / 2 if near else None)
        _stack(column, wanted)
        done.update(p.id for p in column)
    top = min((p.y for column in order for p in column), default=0.0)
    for column in order:
        for p in column:
            p.y -= top


def _stack(column: list[Placed], wanted: list[float | None]) -> None:
    """Put each item at its wanted y (or right below the one above), keeping the order and a gap; then
    lift the column by the mean of how far items were pushed below where they wanted to be."""
    bottom = float("-inf")
    pushed: list[float] = []
    for p, want in zip(column, wanted, strict=True):
        gap = ROW_GAP / 2 if p.waypoint else ROW_GAP
        lowest = bottom + gap if bottom > float("-inf") else (want if want is not None else 0.0)
        p.y = max(want, lowest) if want is not None else lowest
        if want is not None:
            pushed.append(p.y - want)
        bottom = p.y + p.height
    if pushed:
        lift = sum(pushed) / len(pushed)
        for p in column:
            p.y -= lift
