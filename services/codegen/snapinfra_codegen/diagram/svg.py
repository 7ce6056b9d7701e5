"""The architecture diagram as SVG (drawn with drawsvg): the data model on top, entities as boxes laid out
in columns with crow's-foot lines for references, and below it what the project deploys.

Text widths are estimated (no font metrics without a renderer): names and types use a monospace stack,
titles a bold sans-serif, with widths sized generously so text never overflows its box."""

from __future__ import annotations

import math
from dataclasses import dataclass

import drawsvg as draw

from snapinfra_codegen.diagram.layout import Layout, Placed, Route, layout
from snapinfra_codegen.diagram.model import Architecture, Column, Entity, Infrastructure, Resource

SANS = "'Segoe UI', 'Helvetica Neue', Helvetica, Arial, 'DejaVu Sans', sans-serif"
MONO = "'SFMono-Regular', Menlo, Consolas, 'DejaVu Sans Mono', 'Liberation Mono', monospace"
MONO_EM = 0.62  # width of a monospace character, in em

MARGIN = 32.0
HEADER = 32.0
ROW = 22.0
ROW_FONT = 12.0
TITLE_FONT = 14.0
SLOT_MIN = 14.0  # apart, the line ends on one side of a box
TYPE_LIMIT = 24  # characters of a type shown before an ellipsis

INK = "#0f172a"
MUTED = "#64748b"
LINE = "#475569"
BORDER = "#cbd5e1"
ENTITY = "#1d4ed8"
REFERENCE = "#1d4ed8"
API = "#c2410c"
TABLE = "#4338ca"
CLIENT = "#334155"
PACKAGE = "#047857"
STACK = "#be185d"


def _mono_width(text: str, size: float = ROW_FONT) -> float:
    return len(text) * size * MONO_EM


_NARROW = frozenset("iljtfr.,:;'|!()[] ·-/")


def _sans_width(text: str, size: float, *, bold: bool = True) -> float:
    """A generous estimate: capitals, digits and _ are wide, a few letters narrow, the rest in between."""
    ems = sum(0.74 if c.isupper() or c.isdigit() or c in "_$mwMW<>" else 0.34 if c in _NARROW else 0.58 for c in text)
    return ems * size * (1.06 if bold else 1.0)


def _short(text: str, limit: int = TYPE_LIMIT) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _type_text(column: Column) -> str:
    return _short(column.type) + ("" if column.required else "?")


@dataclass(frozen=True)
class _Box:
    entity: Entity
    width: float
    height: float
    key_width: float
    name_width: float


def _box(entity: Entity) -> _Box:
    key_width = 30.0 if any(c.keys for c in entity.columns) else 0.0
    name_width = max(_mono_width(c.name) for c in entity.columns)
    type_width = max(_mono_width(_type_text(c)) for c in entity.columns)
    body = 12 + key_width + name_width + 24 + type_width + 12
    width = max(170.0, body, _sans_width(entity.name, TITLE_FONT) + 28)
    return _Box(entity, math.ceil(width), HEADER + ROW * len(entity.columns) + 6, key_width, name_width)


def _text(text: str, size: float, x: float, y: float, **attrs: object) -> draw.Text:
    return draw.Text(text, size, x, y, dominant_baseline="central", **attrs)


def _draw_entity(d: draw.Drawing, box: _Box, at: Placed) -> None:
    x, y, w, h = at.x, at.y, box.width, box.height
    d.append(draw.Rectangle(x + 2, y + 3, w, h, rx=6, fill="#0f172a", fill_opacity=0.08))
    d.append(draw.Rectangle(x, y, w, h, rx=6, fill="white", stroke=BORDER, stroke_width=1))
    d.append(draw.Path(d=_top_rounded(x, y, w, HEADER, 6), fill=ENTITY))
    d.append(
        _text(
            box.entity.name,
            TITLE_FONT,
            x + w / 2,
            y + HEADER / 2,
            text_anchor="middle",
            font_family=SANS,
            font_weight="bold",
            fill="white",
        )
    )
    for i, column in enumerate(box.entity.columns):
        row_y = y + HEADER + ROW * i
        if i % 2 == 1:
            d.append(draw.Rectangle(x + 1, row_y, w - 2, ROW, fill="#f1f5f9"))
        middle = row_y + ROW / 2
        if column.keys:
            d.append(
                _text(
                    "·".join(column.keys),
                    9,
                    x + 10,
                    middle,
                    font_family=SANS,
                    font_weight="bold",
                    fill=REFERENCE if "FK" in column.keys else MUTED,
                )
            )
        weight = "bold" if column.required else "normal"
        d.append(
            _text(column.name, ROW_FONT, x + 12 + box.key_width, middle, font_family=MONO, fill=INK, font_weight=weight)
        )
        d.append(
            _text(
                _type_text(column),
                ROW_FONT,
                x + w - 12,
                middle,
                text_anchor="end",
                font_family=MONO,
                fill=REFERENCE if column.references else MUTED,
            )
        )


def _top_rounded(x: float, y: float, w: float, h: float, r: float) -> str:
    return (
        f"M{x},{y + h} L{x},{y + r} Q{x},{y} {x + r},{y} L{x + w - r},{y} Q{x + w},{y} {x + w},{y + r} "
        f"L{x + w},{y + h} Z"
    )


def _row_y(box: _Box, at: Placed, field: str) -> float:
    index = next(i for i, c in enumerate(box.entity.columns) if c.name == field)
    return at.y + HEADER + ROW * index + ROW / 2


def _side(at: Placed, toward: Placed) -> tuple[float, float]:
    """The x of the side of `at` that faces `toward`, and the outward direction (-1 left, 1 right)."""
    if toward.layer < at.layer:
        return at.x, -1.0
    return at.x + at.width, 1.0


def _curve(points: list[tuple[float, float]]) -> str:
    """Horizontal-tangent cubic curves through the points."""
    (x0, y0), path = points[0], [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for x1, y1 in points[1:]:
        if abs(y1 - y0) < 0.5:
            path.append(f"L{x1:.1f},{y1:.1f}")
        else:
            dx = (x1 - x0) / 2
            path.append(f"C{x0 + dx:.1f},{y0:.1f} {x1 - dx:.1f},{y1:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return " ".join(path)


def _many(d: draw.Drawing, x: float, y: float, out: float) -> None:
    """Crow's foot with a ring (zero or many), its toes on the box side at x."""
    heel = x + out * 14
    for dy in (-7.0, 0.0, 7.0):
        d.append(draw.Line(heel, y, x, y + dy, stroke=LINE, stroke_width=1.5))
    d.append(draw.Circle(x + out * 20, y, 4, fill="white", stroke=LINE, stroke_width=1.5))


def _one(d: draw.Drawing, x: float, y: float, out: float, required: bool) -> None:
    """Exactly one (two bars) or zero or one (a bar and a ring), on the box side at x."""
    d.append(draw.Line(x + out * 7, y - 7, x + out * 7, y + 7, stroke=LINE, stroke_width=1.5))
    if required:
        d.append(draw.Line(x + out * 13, y - 7, x + out * 13, y + 7, stroke=LINE, stroke_width=1.5))
    else:
        d.append(draw.Circle(x + out * 18, y, 4, fill="white", stroke=LINE, stroke_width=1.5))


def _target_slots(plan: Layout, boxes: dict[str, _Box]) -> dict[int, float]:
    """Where each route ends on its target: the id row for a lone reference, else spread down the side
    in the order the routes arrive from, so they do not cross at the box."""
    ends: dict[tuple[str, float], list[tuple[float, int]]] = {}
    for index, route in enumerate(plan.routes):
        r = route.relation
        target, source = plan.boxes[r.target], plan.boxes[r.source]
        before = route.waypoints[-1] if route.waypoints else source
        if r.source == r.target:
            side = target.x if _loop_out(plan, r.target) < 0 else target.x + target.width
        else:
            side, _ = _side(target, before)
        arrive = before.center_y if route.waypoints else _row_y(boxes[r.source], source, r.field)
        ends.setdefault((r.target, side), []).append((arrive, index))
    slots: dict[int, float] = {}
    for (name, _), arrivals in ends.items():
        at = plan.boxes[name]
        if len(arrivals) == 1:
            slots[arrivals[0][1]] = at.y + HEADER + ROW / 2
            continue
        # Beside the header and the id row (what a reference points at), wider apart when crowded, and
        # closer together rather than past the box's bottom.
        top = at.y + 8
        step = min(max(SLOT_MIN, (HEADER + ROW - 12) / (len(arrivals) - 1)), (at.height - 16) / (len(arrivals) - 1))
        for k, (_, index) in enumerate(sorted(arrivals)):
            slots[index] = top + step * k
    return slots


LOOP_REACH = 46.0


def _loop_out(plan: Layout, name: str) -> float:
    """The side a self-reference loops on: the left (-1) when no other line meets the box there (its
    references to earlier columns, and references to it from them), else the right (1)."""
    at = plan.boxes[name]
    for route in plan.routes:
        r = route.relation
        if r.source == r.target:
            continue
        other = r.target if r.source == name else r.source if r.target == name else None
        if other is not None:
            before = route.waypoints[0 if r.source == name else -1] if route.waypoints else plan.boxes[other]
            if before.layer < at.layer:
                return 1.0
    return -1.0


def _draw_route(d: draw.Drawing, plan: Layout, boxes: dict[str, _Box], route: Route, end_y: float) -> None:
    r = route.relation
    source, target = plan.boxes[r.source], plan.boxes[r.target]
    start_y = _row_y(boxes[r.source], source, r.field)
    if r.source == r.target or (not route.waypoints and source.layer == target.layer):
        out = _loop_out(plan, r.source) if r.source == r.target else 1.0
        sx, tx = (source.x, target.x) if out < 0 else (source.x + source.width, target.x + target.width)
        reach = (max(sx, tx) if out > 0 else min(sx, tx)) + out * LOOP_REACH
        path = f"M{sx},{start_y} C{reach},{start_y} {reach},{end_y} {tx},{end_y}"
        d.append(draw.Path(d=path, fill="none", stroke=LINE, stroke_width=1.5))
        _many(d, sx, start_y, out)
        _one(d, tx, end_y, out, r.required)
        _label(d, r, reach - out * 6, (start_y + end_y) / 2, "end" if out > 0 else "start")
        return
    first = route.waypoints[0] if route.waypoints else target
    sx, s_out = _side(source, first)
    last = route.waypoints[-1] if route.waypoints else source
    tx, t_out = _side(target, last)
    points = [(sx, start_y)]
    for point in route.waypoints:
        enter, leave = (point.x + point.width, point.x) if s_out < 0 else (point.x, point.x + point.width)
        points += [(enter, point.center_y), (leave, point.center_y)]
    points.append((tx, end_y))
    d.append(draw.Path(d=_curve(points), fill="none", stroke=LINE, stroke_width=1.5))
    _many(d, sx, start_y, s_out)
    _one(d, tx, end_y, t_out, r.required)
    _label(d, r, tx + t_out * 24, end_y - 10, "start" if t_out > 0 else "end")


def _label(d: draw.Drawing, relation: object, x: float, y: float, anchor: str) -> None:
    on_delete = getattr(relation, "on_delete", "restrict")
    if on_delete == "cascade":
        d.append(_text("cascade", 10, x, y, text_anchor=anchor, font_family=SANS, font_style="italic", fill=MUTED))


@dataclass(frozen=True)
class _Card:
    resource: Resource
    width: float
    height: float


def _card(resource: Resource) -> _Card:
    width = max(
        150.0,
        _sans_width(resource.title, 13) + 32,
        *(_sans_width(line, 11, bold=False) + 32 for line in resource.lines),
    )
    return _Card(resource, math.ceil(width), 36 + 16 * len(resource.lines))


_COLORS = {"client": CLIENT, "api": API, "table": TABLE, "package": PACKAGE}


def _draw_card(d: draw.Drawing, card: _Card, x: float, y: float) -> None:
    color = _COLORS[card.resource.kind]
    d.append(draw.Rectangle(x, y, card.width, card.height, rx=8, fill="white", stroke=color, stroke_width=1.5))
    d.append(draw.Rectangle(x, y, 6, card.height, fill=color))
    d.append(_text(card.resource.title, 13, x + 16, y + 18, font_family=SANS, font_weight="bold", fill=color))
    for i, line in enumerate(card.resource.lines):
        d.append(_text(line, 11, x + 16, y + 38 + 16 * i, font_family=SANS, fill=INK if i == 0 else MUTED))


def _arrow(d: draw.Drawing, x0: float, y: float, x1: float, label: str) -> None:
    d.append(draw.Line(x0, y, x1 - 8, y, stroke=LINE, stroke_width=1.5))
    d.append(draw.Lines(x1, y, x1 - 10, y - 5, x1 - 10, y + 5, close=True, fill=LINE))
    d.append(_text(label, 11, (x0 + x1) / 2, y - 11, text_anchor="middle", font_family=SANS, fill=MUTED))


@dataclass(frozen=True)
class _InfraPlan:
    cards: dict[str, _Card]
    outside: list[str]  # the resources left of the group, in order
    columns: list[list[_Card]]  # the group's cards, column by column
    group_width: float
    width: float
    height: float


ARROW = 110.0
PAD = 16.0


def _plan_infrastructure(infra: Infrastructure) -> _InfraPlan:
    cards = {r.id: _card(r) for r in infra.resources}
    members = [cards[m] for m in infra.group_members]
    outside = [r.id for r in infra.resources if r.id not in infra.group_members]
    columns: list[list[_Card]] = []
    group_width = group_height = 0.0
    if members:
        per_column = math.ceil(len(members) / math.ceil(len(members) / 5))
        columns = [
            [_Card(c.resource, max(m.width for m in column), c.height) for c in column]
            for column in (members[i : i + per_column] for i in range(0, len(members), per_column))
        ]
        group_width = max(
            sum(max(c.width for c in column) for column in columns) + PAD * (len(columns) + 1),
            _sans_width(infra.group_title or "", 12) + 2 * PAD,
        )
        group_height = max(sum(c.height for c in column) + 12 * (len(column) - 1) for column in columns) + 56
    width = sum(cards[r].width + ARROW for r in outside) + (group_width if members else -ARROW)
    height = max([group_height, *(cards[r].height for r in outside)])
    return _InfraPlan(cards, outside, columns, group_width, width, height)


def _draw_infrastructure(d: draw.Drawing, infra: Infrastructure, plan: _InfraPlan, x: float, y: float) -> None:
    middle = y + plan.height / 2
    right: dict[str, float] = {}
    cursor = x
    for rid in plan.outside:
        card = plan.cards[rid]
        _draw_card(d, card, cursor, middle - card.height / 2)
        right[rid] = cursor + card.width
        cursor += card.width + ARROW
    for frm, _to, label in infra.calls:
        _arrow(d, right[frm] + 4, middle, right[frm] + ARROW - 4, label)
    if not plan.columns:
        return
    stack = infra.group_id == "stack"
    d.append(
        draw.Rectangle(
            cursor,
            y,
            plan.group_width,
            plan.height,
            rx=10,
            fill="#fdf2f8" if stack else "#f8fafc",
            stroke=STACK if stack else MUTED,
            stroke_width=1.2,
            stroke_dasharray="6 4",
        )
    )
    d.append(
        _text(
            infra.group_title or "",
            12,
            cursor + PAD,
            y + 20,
            font_family=SANS,
            font_weight="bold",
            fill=STACK if stack else MUTED,
        )
    )
    col_x = cursor + PAD
    for column in plan.columns:
        row_y = y + 40
        for card in column:
            _draw_card(d, card, col_x, row_y)
            row_y += card.height + 12
        col_x += max(c.width for c in column) + PAD


LEGEND_WIDTH = 790.0


def _legend(d: draw.Drawing, x: float, y: float) -> None:
    """The line ends as drawn, with what they mean, and the field conventions."""

    def say(text: str, at: float) -> None:
        d.append(_text(text, 11, at, y, font_family=SANS, fill=MUTED))

    for at, glyph, text in ((x, "many", "many"), (x + 90, "one", "exactly one"), (x + 210, "optional", "zero or one")):
        d.append(draw.Line(at, y, at + 30, y, stroke=LINE, stroke_width=1.5))
        if glyph == "many":
            _many(d, at, y, 1.0)
        else:
            _one(d, at, y, 1.0, glyph == "one")
        say(text, at + 38)
    say("bold: required · type?: optional · cascade: deleting the one deletes the many", x + 330)


def render_svg(arch: Architecture) -> str:
    boxes = {e.name: _box(e) for e in arch.entities}
    plan = layout({n: (b.width, b.height) for n, b in boxes.items()}, arch.relations)
    infra = _plan_infrastructure(arch.infrastructure)
    title = f"{arch.project_name} · architecture"
    summary = (
        f"{arch.project_type} project · {len(arch.entities)} entit{'y' if len(arch.entities) == 1 else 'ies'} · "
        f"{len(arch.relations)} reference{'' if len(arch.relations) == 1 else 's'} · generated by Snapinfra"
    )
    er_top = MARGIN + 116
    er_right_extra = 60.0  # room for loops of self-references on the right
    infra_top = er_top + plan.height + 110
    note_width = _sans_width(arch.infrastructure.note, 11, bold=False)
    width = MARGIN * 2 + max(
        plan.width + er_right_extra + LOOP_REACH + 8,
        infra.width,
        _sans_width(title, 20),
        LEGEND_WIDTH,
        note_width + 140,
    )
    height = infra_top + infra.height + MARGIN
    d = draw.Drawing(math.ceil(width), math.ceil(height), font_family=SANS)
    d.append(draw.Title(f"{title}: {summary}"))
    d.append(draw.Rectangle(0, 0, math.ceil(width), math.ceil(height), fill="#ffffff"))
    d.append(_text(title, 20, MARGIN, MARGIN + 8, font_family=SANS, font_weight="bold", fill=INK))
    d.append(_text(summary, 12, MARGIN, MARGIN + 34, font_family=SANS, fill=MUTED))
    d.append(_text("Data model", 15, MARGIN, er_top - 50, font_family=SANS, font_weight="bold", fill=INK))
    _legend(d, MARGIN, er_top - 24)
    left = MARGIN  # and room for a self-reference looping left of the first column
    if any(
        r.source == r.target and _loop_out(plan, r.source) < 0 and plan.boxes[r.source].layer == 0
        for r in arch.relations
    ):
        left += LOOP_REACH + 8
    for p in plan.boxes.values():
        p.x += left
        p.y += er_top
    for route in plan.routes:
        for point in route.waypoints:
            point.x += left
            point.y += er_top
    slots = _target_slots(plan, boxes)
    for index, route in enumerate(plan.routes):
        _draw_route(d, plan, boxes, route, slots[index])
    for name, box in boxes.items():
        _draw_entity(d, box, plan.boxes[name])
    d.append(_text("Infrastructure", 15, MARGIN, infra_top - 50, font_family=SANS, font_weight="bold", fill=INK))
    d.append(_text(arch.infrastructure.note, 11, MARGIN, infra_top - 26, font_family=SANS, fill=MUTED))
    _draw_infrastructure(d, arch.infrastructure, infra, MARGIN, infra_top)
    return str(d.as_svg())
