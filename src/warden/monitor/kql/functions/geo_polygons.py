"""Polygon functions: ``geo_polygon_area``, ``geo_polygon_perimeter``, ``geo_polygon_centroid``,
``geo_polygon_densify``, ``geo_polygon_simplify``, ``geo_polygon_buffer``, ``geo_line_buffer``,
``geo_intersects_2polygons``, ``geo_intersection_2polygons``, ``geo_intersects_line_with_polygon``,
``geo_intersection_line_with_polygon``, ``geo_union_polygons_array``,
``geo_simplify_polygons_array``.

Polygons are S2 polygons (see ``geo_model``): measures are S2's (area in square meters on the
6,371,010 m sphere), boolean operations S2's ``S2BooleanOperation`` and buffers
``S2BufferOperation`` with the tolerance as the error fraction of the radius, which reproduce
Kusto's published shapes vertex for vertex. Polygons contain their boundaries: two that only touch
intersect, in the points they share. Unions merge the two polygons with the fewest vertices first
(S2's ``DestructiveUnion`` order), which fixes where the result's rings start as Kusto's do.
Simplification is a spherical Douglas-Peucker pass per ring (Kusto snaps with S2's builder; the
two agree on the vertices kept for ordinary shapes).
"""

from __future__ import annotations

import math
from typing import Any

import s2geometry as s2

from . import geo_model as gm
from .common import K
from .geo_lines import (
    _array,
    chord2,
    cross,
    densify_chain,
    densify_tolerance,
    douglas_peucker,
    normalize,
    simplify_tolerance,
)
from .geo_points import buffer_options, run_buffer
from .geo_udf import geo_function

R, L, S, D, B = K.REAL, K.LONG, K.STRING, K.DYNAMIC, K.BOOL


@geo_function("geo_polygon_area", (D,), R)
def geo_polygon_area(polygon: str | None) -> float:
    return gm.meters(gm.meters(gm.polygon(polygon).GetArea()))


def loop_perimeter(loop: Any) -> float:
    points = gm.loop_points(loop)
    return sum(s2.S1Angle(a, b).radians() for a, b in zip(points, points[1:] + points[:1], strict=True))


@geo_function("geo_polygon_perimeter", (D,), R)
def geo_polygon_perimeter(polygon: str | None) -> float:
    shape = gm.polygon(polygon)
    return gm.meters(sum(loop_perimeter(shape.loop(i)) for i in range(shape.num_loops())))


@geo_function("geo_polygon_centroid", (D,), D)
def geo_polygon_centroid(polygon: str | None) -> dict[str, Any]:
    centroid = gm.raw(gm.polygon(polygon).GetCentroid())
    return gm.point_geojson(gm.from_raw(normalize(centroid)))


# ------------------------------------------------------------------------------- densify


@geo_function("geo_polygon_densify", (D, R, B), D, required=1, defaults=(10.0, False))
def geo_polygon_densify(polygon: str | None, tolerance: Any, preserve_crossing: Any) -> dict[str, Any]:
    tolerance = densify_tolerance(tolerance)
    parts = []
    for rings in gm.polygon_rings(gm.geojson(polygon)):
        loops = []
        for ring in rings:
            coords = gm.coordinates(ring)
            if len(coords) < 4 or coords[0] != coords[-1]:
                raise gm.invalid("invalid ring")
            points = densify_chain(coords, tolerance)[:-1]
            loop = s2.S2Loop([gm.from_raw(p) for p in points])
            if not loop.IsValid():
                raise gm.invalid("invalid densified ring")
            loop.Normalize()
            loops.append(loop)
        parts.append(gm.polygon_of_loops(loops))
    return gm.polygon_geojson(gm.union_all(parts))


# ------------------------------------------------------------------------------ simplify


def simplify_polygon(shape: Any, tolerance: float) -> Any:
    """Each loop simplified (Douglas-Peucker from its first vertex); loops that collapse vanish."""
    loops = []
    for i in range(shape.num_loops()):
        points = [gm.raw(p) for p in gm.loop_points(shape.loop(i))]
        kept = douglas_peucker([*points, points[0]], tolerance)[:-1]
        if len(kept) < 3:
            continue
        loop = s2.S2Loop([gm.from_raw(p) for p in kept])
        if not loop.IsValid():
            continue
        if shape.loop(i).is_hole():
            loop.Normalize()
        loops.append(loop)
    if not loops:
        raise gm.invalid("the polygon vanished")
    result = s2.S2Polygon()
    result.InitNested(loops)
    if not result.IsValid() or result.is_empty():
        raise gm.invalid("the polygon vanished")
    return result


@geo_function("geo_polygon_simplify", (D, R), D, required=1, defaults=(10.0,))
def geo_polygon_simplify(polygon: str | None, tolerance: Any) -> dict[str, Any]:
    radians = simplify_tolerance(tolerance)
    return gm.polygon_geojson(simplify_polygon(gm.polygon(polygon), radians))


def _polygons(array: str | None) -> list[Any]:
    return [gm.polygon(item) for item in _array(array)]


@geo_function("geo_simplify_polygons_array", (D, R), D, required=1, defaults=(10.0,))
def geo_simplify_polygons_array(polygons: str | None, tolerance: Any) -> dict[str, Any]:
    radians = simplify_tolerance(tolerance)
    return gm.polygon_geojson(simplify_polygon(gm.union_all(_polygons(polygons)), radians))


@geo_function("geo_union_polygons_array", (D,), D)
def geo_union_polygons_array(polygons: str | None) -> dict[str, Any]:
    return gm.polygon_geojson(gm.union_all(_polygons(polygons)))


# -------------------------------------------------------------------------------- buffers


@geo_function("geo_polygon_buffer", (D, R, R), D, required=2, defaults=(10.0,))
def geo_polygon_buffer(polygon: str | None, radius: Any, tolerance: Any) -> dict[str, Any]:
    shape = gm.copy_polygon(gm.polygon(polygon))
    options = buffer_options(radius, tolerance)
    return gm.polygon_geojson(run_buffer(options, lambda op: op.AddPolygon(shape)))


def _start_cap(points: list[Any], radius: float) -> tuple[float, float, float]:
    """Where S2's polyline buffer starts: ``radius`` (radians) left of the line's first vertex."""
    a, b = gm.raw(points[0]), gm.raw(points[1])
    left = normalize(cross(a, b))
    c, s = math.cos(radius), math.sin(radius)
    return (c * a[0] + s * left[0], c * a[1] + s * left[1], c * a[2] + s * left[2])


@geo_function("geo_line_buffer", (D, R, R), D, required=2, defaults=(10.0,))
def geo_line_buffer(line: str | None, radius: Any, tolerance: Any) -> dict[str, Any]:
    # S2's Python binding has no S2BufferOperation::AddPolyline: each line goes in as the
    # degenerate loop that walks it forth and back (no interior; its buffer is the line's, both
    # sides, round caps), and each output loop is rotated to start where S2 starts a polyline's
    # buffer (the first vertex of its start cap), as Kusto's output does.
    lines = gm.lines(line)
    options = buffer_options(radius, tolerance)
    walks, starts = [], []
    for polyline in lines:
        points = gm.polyline_points(polyline)
        walks.append(s2.S2Polygon(s2.S2Loop(points + points[-2:0:-1])))
        starts.append(_start_cap(points, gm.radians(radius)))

    def add(operation: Any) -> None:
        for walk in walks:
            operation.AddPolygon(walk)

    shape = run_buffer(options, add)
    geo = gm.polygon_geojson(shape)
    polygons = [geo["coordinates"]] if geo["type"] == "Polygon" else geo.get("coordinates", [])
    for rings in polygons:
        shell = [gm.raw(gm.s2_point(lng, lat)) for lng, lat in rings[0][:-1]]
        start = min(starts, key=lambda t: min(chord2(p, t) for p in shell))
        first = min(range(len(shell)), key=lambda i: chord2(shell[i], start))
        vertices = rings[0][first:-1] + rings[0][:first]
        rings[0] = [*vertices, list(vertices[0])]
    return geo


# --------------------------------------------------------------------------- intersections


#: How close (radians) a vertex must be to a polygon to touch it: about 0.6 micrometers.
_TOUCH = 1e-13


def touch_points(a: Any, b: Any, result: Any | None) -> list[Any]:
    """Vertices where the closed polygons meet outside ``result`` (their areal intersection).

    Kusto's polygons contain their boundaries: two polygons that only share a vertex intersect
    in that point, which S2's (semi-open) areal intersection drops."""
    points: list[Any] = []
    seen: set[tuple[float, float, float]] = set()
    for shape, other in ((a, b), (b, a)):
        for i in range(shape.num_loops()):
            for p in gm.loop_points(shape.loop(i)):
                key = gm.raw(p)
                if key in seen or other.GetDistance(p).radians() > _TOUCH:
                    continue
                if result is not None and not result.is_empty() and result.GetDistance(p).radians() <= _TOUCH:
                    continue
                seen.add(key)
                points.append(p)
    return points


@geo_function("geo_intersects_2polygons", (D, D), B)
def geo_intersects_2polygons(polygon1: str | None, polygon2: str | None) -> bool:
    a, b = gm.polygon(polygon1), gm.polygon(polygon2)
    return bool(a.Intersects(b)) or bool(touch_points(a, b, None))


@geo_function("geo_intersection_2polygons", (D, D), D)
def geo_intersection_2polygons(polygon1: str | None, polygon2: str | None) -> dict[str, Any]:
    a, b = gm.polygon(polygon1), gm.polygon(polygon2)
    result = gm.boolean(s2.S2BooleanOperation.OpType_INTERSECTION, a, b)
    points = touch_points(a, b, result)
    area = gm.polygon_geojson(result)
    if not points:
        return area
    coordinates = [gm.lnglat(p) for p in points]
    point = (
        {"type": "Point", "coordinates": coordinates[0]}
        if len(coordinates) == 1
        else {"type": "MultiPoint", "coordinates": coordinates}
    )
    if result.is_empty():
        return point
    return {"type": "GeometryCollection", "geometries": [point, area]}


def _line_pieces(line: str | None, polygon: str | None) -> list[list[Any]]:
    shape = gm.polygon(polygon)
    pieces = []
    for polyline in gm.lines(line):
        for piece in shape.IntersectWithPolyline(polyline):
            pieces.append(gm.polyline_points(piece))
    return pieces


@geo_function("geo_intersects_line_with_polygon", (D, D), B)
def geo_intersects_line_with_polygon(line: str | None, polygon: str | None) -> bool:
    shape = gm.polygon(polygon)
    for polyline in gm.lines(line):
        if any(shape.Contains(p) for p in gm.polyline_points(polyline)):
            return True
        if shape.IntersectWithPolyline(polyline):
            return True
    return False


@geo_function("geo_intersection_line_with_polygon", (D, D), D)
def geo_intersection_line_with_polygon(line: str | None, polygon: str | None) -> dict[str, Any]:
    return gm.lines_geojson(_line_pieces(line, polygon))
