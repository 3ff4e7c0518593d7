"""Polygon functions: ``geo_polygon_area``, ``geo_polygon_perimeter``, ``geo_polygon_centroid``,
``geo_polygon_densify``, ``geo_polygon_simplify``, ``geo_polygon_buffer``, ``geo_line_buffer``,
``geo_intersects_2polygons``, ``geo_intersection_2polygons``, ``geo_intersects_line_with_polygon``,
``geo_intersection_line_with_polygon``, ``geo_union_polygons_array``,
``geo_simplify_polygons_array``.

Polygons are S2 polygons (see ``geo_model``): measures are S2's (area in square meters on the
6,371,010 m sphere), boolean operations S2's ``S2BooleanOperation`` and buffers
``S2BufferOperation`` with the tolerance as the error fraction of the radius, which reproduce
Kusto's published shapes vertex for vertex.
"""

from __future__ import annotations

import itertools
from typing import Any

import s2geometry as s2

from . import geo_model as gm
from .common import K
from .geo_lines import (
    _array,
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


def _edge_strip(a: Any, b: Any, radius: float) -> Any | None:
    """A thin quadrilateral around the edge ab, ``radius`` (radians) to either side."""
    from .geo_lines import cross

    ra, rb = gm.raw(a), gm.raw(b)
    n = cross(ra, rb)
    try:
        axis = gm.from_raw(normalize(n))
    except ValueError:
        return None
    del axis
    offsets = []
    for p in (a, b):
        rp = gm.raw(p)
        side = normalize(cross(n, rp))  # tangent along the edge; its cross with p points sideways
        sideways = normalize(cross(rp, side))
        for sign in (1.0, -1.0):
            offsets.append(
                gm.from_raw(
                    normalize(tuple(rp[k] * (1 - radius * radius / 2) + sign * radius * sideways[k] for k in range(3)))
                )
            )
    quad = [offsets[0], offsets[2], offsets[3], offsets[1]]
    loop = s2.S2Loop(quad)
    if not loop.IsValid():
        return None
    loop.Normalize()
    return s2.S2Polygon(loop)


@geo_function("geo_line_buffer", (D, R, R), D, required=2, defaults=(10.0,))
def geo_line_buffer(line: str | None, radius: Any, tolerance: Any) -> dict[str, Any]:
    # S2's Python binding has no polyline buffer: the buffer of a line is the union of the
    # buffers of its vertices and of a strip around each edge (within the tolerance of Kusto's).
    lines = gm.lines(line)
    options = buffer_options(radius, tolerance)
    pieces = []
    for polyline in lines:
        points = gm.polyline_points(polyline)
        for p in points:
            pieces.append(run_buffer(options, lambda op, p=p: op.AddPoint(p)))
        for a, b in itertools.pairwise(points):
            strip = _edge_strip(a, b, gm.radians(radius))
            if strip is not None:
                pieces.append(run_buffer(options, lambda op, strip=strip: op.AddPolygon(strip)))
    return gm.polygon_geojson(gm.union_all(pieces))


# --------------------------------------------------------------------------- intersections


@geo_function("geo_intersects_2polygons", (D, D), B)
def geo_intersects_2polygons(polygon1: str | None, polygon2: str | None) -> bool:
    return bool(gm.polygon(polygon1).Intersects(gm.polygon(polygon2)))


@geo_function("geo_intersection_2polygons", (D, D), D)
def geo_intersection_2polygons(polygon1: str | None, polygon2: str | None) -> dict[str, Any]:
    result = gm.boolean(s2.S2BooleanOperation.OpType_INTERSECTION, gm.polygon(polygon1), gm.polygon(polygon2))
    return gm.polygon_geojson(result)


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
