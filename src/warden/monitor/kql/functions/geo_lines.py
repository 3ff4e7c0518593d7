"""Line functions: ``geo_line_length``, ``geo_line_centroid``, ``geo_line_densify``,
``geo_line_simplify``, ``geo_line_interpolate_point``, ``geo_line_locate_point``,
``geo_intersects_2lines``, ``geo_intersection_2lines``, ``geo_union_lines_array``.

Edges are geodesics on S2's sphere. ``geo_line_densify`` turns planar edges (straight in
longitude/latitude) into geodesic chains the way S2's ``S2EdgeTessellator`` does with a plate
carrée projection: an edge is bisected in the plane until the geodesic through the unprojected
points stays within the tolerance of the planar edge; edges are not wrapped, and a chain crossing
the antimeridian is split there (a MultiLineString) unless ``preserve_crossing``. Simplification
keeps the vertices a spherical Douglas-Peucker pass needs within the tolerance and drops lines
shorter than it. ``geo_line_locate_point`` measures on the sphere even with ``use_spheroid``.
"""

from __future__ import annotations

import itertools
import json
import math
from typing import Any

import s2geometry as s2

from . import geo_model as gm
from .common import K
from .geo_udf import geo_function, load_json

R, L, S, D, B = K.REAL, K.LONG, K.STRING, K.DYNAMIC, K.BOOL
Vector = tuple[float, float, float]

#: Densify tolerances Kusto accepts, in meters.
DENSIFY_TOLERANCE = (0.1, 10000.0)
#: Simplify tolerances Kusto accepts, in meters (about a quarter of the earth's circumference).
SIMPLIFY_MAX_TOLERANCE = 7_800_000.0
#: Most points a densified shape may have.
MAX_DENSIFIED_POINTS = 10_485_760


# ------------------------------------------------------------------------------ vector math


def dot(a: Vector, b: Vector) -> float:
    return a[0] * b[0] + a[1] * b[1] + a[2] * b[2]


def cross(a: Vector, b: Vector) -> Vector:
    return (a[1] * b[2] - a[2] * b[1], a[2] * b[0] - a[0] * b[2], a[0] * b[1] - a[1] * b[0])


def norm(a: Vector) -> float:
    return math.sqrt(dot(a, a))


def normalize(a: Vector) -> Vector:
    n = norm(a)
    if n == 0:
        raise gm.invalid("zero vector")
    return (a[0] / n, a[1] / n, a[2] / n)


def chord2(a: Vector, b: Vector) -> float:
    """S1ChordAngle(a, b): the squared chord length, at most 4."""
    d = (a[0] - b[0], a[1] - b[1], a[2] - b[2])
    return min(4.0, dot(d, d))


def chord2_of_angle(radians: float) -> float:
    length = 2 * math.sin(0.5 * min(math.pi, radians))
    return length * length


def angle(a: Vector, b: Vector) -> float:
    return math.atan2(norm(cross(a, b)), dot(a, b))


# ---------------------------------------------------------------------------- tessellation

_INTERPOLATION_FRACTION = 0.31215691082248312
_SCALE_FACTOR = 0.83829992569888509
_MIN_TOLERANCE = 1e-13  # radians


def _unproject(x: float, y: float) -> Vector:
    """PlateCarreeProjection(180).Unproject of (x, y) degrees, longitude wrapped."""
    to_radians = math.pi / 180.0
    return gm.raw(s2.S2LatLng.FromRadians(to_radians * y, to_radians * math.remainder(x, 360.0)).ToPoint())


class Tessellator:
    """S2EdgeTessellator.AppendUnprojected for planar longitude/latitude edges (no wrapping)."""

    def __init__(self, tolerance_meters: float) -> None:
        radians = max(gm.radians(tolerance_meters), _MIN_TOLERANCE)
        self.scaled_tolerance = chord2_of_angle(_SCALE_FACTOR * radians)

    def _error(self, pa: tuple[float, float], a: Vector, pb: tuple[float, float], b: Vector) -> float:
        if dot(a, b) < -1e-14:
            return math.inf
        pa_point, pb_point = gm.from_raw(a), gm.from_raw(b)
        worst = 0.0
        for t in (_INTERPOLATION_FRACTION, 1 - _INTERPOLATION_FRACTION):
            mid = gm.raw(s2.Interpolate(pa_point, pb_point, t))
            pmid = _unproject((1.0 - t) * pa[0] + t * pb[0], (1.0 - t) * pa[1] + t * pb[1])
            worst = max(worst, chord2(mid, pmid))
        return worst

    def append(self, pa: tuple[float, float], pb: tuple[float, float], out: list[Vector]) -> None:
        a, b = _unproject(*pa), _unproject(*pb)
        if not out:
            out.append(a)
        stack = [(pa, a, pb, b)]
        while stack:
            pa, a, pb, b = stack.pop()
            if self._error(pa, a, pb, b) <= self.scaled_tolerance:
                out.append(b)
                if len(out) > MAX_DENSIFIED_POINTS:
                    raise gm.invalid("too many points")
            else:
                pmid = (0.5 * pa[0] + 0.5 * pb[0], 0.5 * pa[1] + 0.5 * pb[1])
                mid = _unproject(*pmid)
                stack.append((pmid, mid, pb, b))
                stack.append((pa, a, pmid, mid))


def densify_chain(coords: list[tuple[float, float]], tolerance: float) -> list[Vector]:
    tessellator = Tessellator(tolerance)
    out: list[Vector] = []
    for pa, pb in itertools.pairwise(coords):
        tessellator.append(pa, pb, out)
    return out


def densify_tolerance(value: Any) -> float:
    if not gm.is_number(value) or not DENSIFY_TOLERANCE[0] <= value <= DENSIFY_TOLERANCE[1]:
        raise gm.invalid("tolerance out of range")
    return float(value)


def _antimeridian_latitude(a: Vector, b: Vector) -> float:
    """Latitude (degrees) where the geodesic ab crosses the 180th meridian."""
    n = cross(a, b)
    v = cross(n, (0.0, 1.0, 0.0))
    if v[0] > 0:
        v = (-v[0], -v[1], -v[2])
    return math.degrees(math.atan2(v[2], math.hypot(v[0], v[1])))


def split_at_antimeridian(points: list[Vector]) -> list[list[list[float]]]:
    """A chain as ``[lng, lat]`` parts, cut where an edge crosses the antimeridian."""
    parts: list[list[list[float]]] = [[]]
    previous: tuple[Vector, list[float]] | None = None
    for p in points:
        coordinate = gm.lnglat(gm.from_raw(p))
        if previous is not None and abs(coordinate[0] - previous[1][0]) > 180.0:
            lat = _antimeridian_latitude(previous[0], p)
            side = 180.0 if previous[1][0] > 0 else -180.0
            parts[-1].append([side, lat])
            parts.append([[-side, lat]])
        parts[-1].append(coordinate)
        previous = (p, coordinate)
    return parts


@geo_function("geo_line_densify", (D, R, B), D, required=1, defaults=(10.0, False))
def geo_line_densify(line: str | None, tolerance: Any, preserve_crossing: Any) -> dict[str, Any]:
    tolerance = densify_tolerance(tolerance)
    parts = gm.line_parts(gm.geojson(line), check_range=False)
    for part in parts:
        if any(not -90.0 <= lat <= 90.0 for _, lat in part):
            raise gm.invalid("latitude out of range")
    chains = [densify_chain(part, tolerance) for part in parts]
    if preserve_crossing:
        out = [[gm.lnglat(gm.from_raw(p)) for p in chain] for chain in chains]
    else:
        out = [piece for chain in chains for piece in split_at_antimeridian(chain)]
    if len(out) == 1:
        return {"type": "LineString", "coordinates": out[0]}
    return {"type": "MultiLineString", "coordinates": out}


# ------------------------------------------------------------------------------ measures


@geo_function("geo_line_length", (D,), R)
def geo_line_length(line: str | None) -> float:
    return gm.meters(sum(polyline.GetLength().radians() for polyline in gm.lines(line)))


@geo_function("geo_line_centroid", (D,), D)
def geo_line_centroid(line: str | None) -> dict[str, Any]:
    total = (0.0, 0.0, 0.0)
    for polyline in gm.lines(line):
        c = gm.raw(polyline.GetCentroid())
        total = (total[0] + c[0], total[1] + c[1], total[2] + c[2])
    return gm.point_geojson(gm.from_raw(normalize(total)))


def _single_line(line: str | None) -> Any:
    return gm.lines(line, multi=False)[0]


@geo_function("geo_line_interpolate_point", (D, R), D)
def geo_line_interpolate_point(line: str | None, fraction: Any) -> dict[str, Any]:
    polyline = _single_line(line)
    if not gm.is_number(fraction) or not 0.0 <= fraction <= 1.0:
        raise gm.invalid("fraction out of range")
    return gm.point_geojson(polyline.Interpolate(fraction))


@geo_function("geo_line_locate_point", (D, R, R, B), R, required=3, defaults=(False,))
def geo_line_locate_point(line: str | None, lng: Any, lat: Any, use_spheroid: Any) -> float:
    polyline = _single_line(line)
    p = gm.point(lng, lat)
    projected, next_vertex = polyline.Project(p)
    return polyline.UnInterpolate(projected, next_vertex)


# ------------------------------------------------------------------------- intersections


def _edges(polyline: Any) -> list[tuple[Vector, Vector]]:
    points = [gm.raw(p) for p in gm.polyline_points(polyline)]
    return list(itertools.pairwise(points))


#: How far (radians, about 0.6 micrometers on the earth) a point may be from an arc and count as on it.
_COLLINEAR = 1e-13


def _on_edge(p: Vector, a: Vector, b: Vector) -> bool:
    """``p`` lies on the great-circle arc ab (within rounding)."""
    if p in (a, b):
        return True
    n = cross(a, b)
    size = norm(n)
    if size == 0:
        return False
    n = (n[0] / size, n[1] / size, n[2] / size)
    if abs(dot(p, n)) > _COLLINEAR:
        return False
    return dot(cross(a, p), n) >= 0 and dot(cross(p, b), n) >= 0


def _edge_intersection(a: Vector, b: Vector, c: Vector, d: Vector) -> list[Vector] | None:
    """Where edges ab and cd meet: [] none, [p] a point, [p, q] a shared stretch."""
    on = [p for p in (c, d) if _on_edge(p, a, b)] + [p for p in (a, b) if _on_edge(p, c, d)]
    unique: list[Vector] = []
    for p in on:
        if all(p != q for q in unique):
            unique.append(p)
    if len(unique) >= 2:
        # collinear overlap: order its ends along ab
        unique.sort(key=lambda p: angle(a, p))
        return [unique[0], unique[-1]]
    pa, pb, pc, pd = (gm.from_raw(v) for v in (a, b, c, d))
    if s2.CrossingSign(pa, pb, pc, pd) > 0:
        return [gm.raw(s2.GetIntersection(pa, pb, pc, pd))]
    return unique


def lines_intersection(first: tuple[Any, ...], second: tuple[Any, ...]) -> tuple[list[Vector], list[list[Vector]]]:
    """The points and stretches the two sets of polylines share."""
    points: list[Vector] = []
    stretches: list[list[Vector]] = []
    for line_a in first:
        for a, b in _edges(line_a):
            for line_b in second:
                for c, d in _edges(line_b):
                    found = _edge_intersection(a, b, c, d)
                    if found is None or not found:
                        continue
                    if len(found) == 2:
                        if stretches and stretches[-1][-1] == found[0]:
                            stretches[-1].append(found[1])
                        else:
                            stretches.append(list(found))
                    elif all(found[0] != p for p in points):
                        points.append(found[0])
    on_stretch = {p for stretch in stretches for p in stretch}
    points = [p for p in points if p not in on_stretch]
    return points, stretches


@geo_function("geo_intersects_2lines", (D, D), B)
def geo_intersects_2lines(line1: str | None, line2: str | None) -> bool:
    first, second = gm.lines(line1), gm.lines(line2)
    return any(a.Intersects(b) for a in first for b in second) or any(
        lines_intersection((a,), (b,)) != ([], []) for a in first for b in second
    )


def collection(points: list[Vector], stretches: list[list[Vector]]) -> dict[str, Any]:
    geometries = []
    if points:
        coordinates = [gm.lnglat(gm.from_raw(p)) for p in points]
        if len(coordinates) == 1:
            geometries.append({"type": "Point", "coordinates": coordinates[0]})
        else:
            geometries.append({"type": "MultiPoint", "coordinates": coordinates})
    if stretches:
        geometries.append(gm.lines_geojson([[gm.from_raw(p) for p in s] for s in stretches]))
    if len(geometries) == 1:
        return geometries[0]
    return {"type": "GeometryCollection", "geometries": geometries}


@geo_function("geo_intersection_2lines", (D, D), D)
def geo_intersection_2lines(line1: str | None, line2: str | None) -> dict[str, Any]:
    return collection(*lines_intersection(gm.lines(line1), gm.lines(line2)))


# ------------------------------------------------------------------------------------ union


def _array(value: str | None) -> list[str]:
    """The JSON texts of the members of a dynamic array argument (raises GeoInvalid)."""
    if value is None:
        raise gm.invalid("null array")
    items = load_json(value)
    if not isinstance(items, list) or not items:
        raise gm.invalid("not a non-empty array")
    return [json.dumps(item, separators=(",", ":")) for item in items]


def chains(edges: list[tuple[Vector, Vector]]) -> list[list[Vector]]:
    """Maximal chains of undirected edges (duplicates merged), in input order."""
    unique: dict[frozenset[Vector], tuple[Vector, Vector]] = {}
    for a, b in edges:
        if a != b:
            unique.setdefault(frozenset((a, b)), (a, b))
    adjacency: dict[Vector, list[Vector]] = {}
    for a, b in unique.values():
        adjacency.setdefault(a, []).append(b)
        adjacency.setdefault(b, []).append(a)
    used: set[frozenset[Vector]] = set()
    result = []
    starts = [v for v, n in adjacency.items() if len(n) != 2] + list(adjacency)
    for start in starts:
        for first in adjacency[start]:
            if frozenset((start, first)) in used:
                continue
            chain = [start, first]
            used.add(frozenset((start, first)))
            current = first
            while len(adjacency[current]) == 2 and current != start:
                nxt = next((n for n in adjacency[current] if frozenset((current, n)) not in used), None)
                if nxt is None:
                    break
                used.add(frozenset((current, nxt)))
                chain.append(nxt)
                current = nxt
            result.append(chain)
    return result


@geo_function("geo_union_lines_array", (D,), D)
def geo_union_lines_array(lines: str | None) -> dict[str, Any]:
    edges = []
    for item in _array(lines):
        for polyline in gm.lines(item):
            edges.extend(_edges(polyline))
    return gm.lines_geojson([[gm.from_raw(p) for p in chain] for chain in chains(edges)])


# ---------------------------------------------------------------------------- simplification


def simplify_tolerance(value: Any) -> float:
    if not gm.is_number(value) or not 0.0 <= value <= SIMPLIFY_MAX_TOLERANCE:
        raise gm.invalid("tolerance out of range")
    return gm.radians(float(value))


def edge_distance(p: Vector, a: Vector, b: Vector) -> float:
    """Angle from ``p`` to the arc ab."""
    n = cross(a, b)
    size = norm(n)
    if size > 0 and dot(cross(a, p), n) > 0 and dot(cross(p, b), n) > 0:
        return abs(math.asin(max(-1.0, min(1.0, dot(p, n) / size))))
    return min(angle(p, a), angle(p, b))


def douglas_peucker(points: list[Vector], tolerance: float) -> list[Vector]:
    """The points a Douglas-Peucker pass keeps (ends always kept)."""
    if len(points) <= 2:
        return list(points)
    keep = [False] * len(points)
    keep[0] = keep[-1] = True
    stack = [(0, len(points) - 1)]
    while stack:
        first, last = stack.pop()
        worst, index = -1.0, -1
        for i in range(first + 1, last):
            distance = edge_distance(points[i], points[first], points[last])
            if distance > worst:
                worst, index = distance, i
        if index >= 0 and worst > tolerance:
            keep[index] = True
            stack.append((first, index))
            stack.append((index, last))
    return [p for p, k in zip(points, keep, strict=True) if k]


def simplify_chain(points: list[Vector], tolerance: float) -> list[Vector] | None:
    """A simplified open chain, or None when it is shorter than the tolerance."""
    length = sum(angle(a, b) for a, b in itertools.pairwise(points))
    if length <= tolerance:
        return None
    return douglas_peucker(points, tolerance)


@geo_function("geo_line_simplify", (D, R), D, required=1, defaults=(10.0,))
def geo_line_simplify(line: str | None, tolerance: Any) -> dict[str, Any]:
    radians = simplify_tolerance(tolerance)
    parts = []
    for polyline in gm.lines(line):
        chain = simplify_chain([gm.raw(p) for p in gm.polyline_points(polyline)], radians)
        if chain is not None:
            parts.append([gm.from_raw(p) for p in chain])
    if not parts:
        raise gm.invalid("the line vanished")
    return gm.lines_geojson(parts)
