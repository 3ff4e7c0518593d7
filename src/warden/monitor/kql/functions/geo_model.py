"""GeoJSON values and their S2 geometry: parsing with Kusto's validity rules, and writing back.

Kusto's shapes are GeoJSON dynamic values with ``[longitude, latitude]`` coordinates in degrees
(WGS-84), interpreted on a sphere of radius 6,371,010 m (``S2Earth``) with geodesic edges:

- a point is valid when longitude is in [-180, 180] and latitude in [-90, 90];
- a ``LineString`` has at least two coordinates and forms a valid ``S2Polyline`` (no repeated or
  antipodal consecutive vertices); a ``MultiLineString`` is a list of them;
- a ``Polygon`` is a shell ring then hole rings; a ring has at least four coordinates, the last
  equal to the first, and its distinct vertices form a valid ``S2Loop``, which is normalized so
  that it encloses at most half of the sphere (a clockwise shell is reversed). A ``MultiPolygon``
  is the union of its polygons (so overlapping members are merged, as Kusto's area and perimeter
  of a multipolygon are those of the union).

Results are written as Kusto does: S2 points converted back to degrees, rings closed, one shell
a ``Polygon`` and several a ``MultiPolygon`` (holes clockwise), lines a ``LineString`` or
``MultiLineString``, and an empty result a ``GeometryCollection`` without geometries.
"""

from __future__ import annotations

import math
from functools import lru_cache
from typing import Any

import s2geometry as s2

from .geo_udf import GeoInvalid, load_json

#: S2Earth's mean radius, the sphere Kusto measures on.
EARTH_RADIUS = 6371010.0

Point = Any  # an s2geometry S2Point
LngLat = tuple[float, float]


def invalid(what: str = "invalid geospatial value") -> GeoInvalid:
    return GeoInvalid(what)


# --------------------------------------------------------------------------------- points


def is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def valid_lnglat(lng: Any, lat: Any) -> bool:
    return is_number(lng) and is_number(lat) and -180.0 <= lng <= 180.0 and -90.0 <= lat <= 90.0


def s2_point(lng: float, lat: float) -> Point:
    return s2.S2LatLng.FromDegrees(float(lat), float(lng)).ToPoint()


def point(lng: Any, lat: Any) -> Point:
    """The S2 point of valid coordinates (raises GeoInvalid otherwise)."""
    if not valid_lnglat(lng, lat):
        raise invalid("invalid coordinates")
    return s2_point(lng, lat)


def lnglat(p: Point) -> list[float]:
    """``[longitude, latitude]`` in degrees of an S2 point."""
    ll = s2.S2LatLng(p)
    return [ll.lng().degrees(), ll.lat().degrees()]


def raw(p: Point) -> tuple[float, float, float]:
    return s2.S2Point_ToRaw(p)


def from_raw(v: tuple[float, float, float]) -> Point:
    return s2.S2Point_FromRaw(*v)


def point_geojson(p: Point) -> dict[str, Any]:
    return {"type": "Point", "coordinates": lnglat(p)}


def lnglat_geojson(lng: float, lat: float) -> dict[str, Any]:
    return {"type": "Point", "coordinates": [lng, lat]}


def empty_collection() -> dict[str, Any]:
    return {"type": "GeometryCollection", "geometries": []}


def meters(angle_radians: float) -> float:
    return angle_radians * EARTH_RADIUS


def radians(distance_meters: float) -> float:
    return distance_meters / EARTH_RADIUS


# ---------------------------------------------------------------------------------- GeoJSON


def geojson(text: str | None) -> dict[str, Any]:
    """The decoded GeoJSON object of a dynamic argument (raises GeoInvalid when it is not one)."""
    if text is None:
        raise invalid("null shape")
    value = load_json(text)
    if not isinstance(value, dict) or not isinstance(value.get("type"), str):
        raise invalid("not a GeoJSON object")
    return value


def coordinate(value: Any, *, check_range: bool = True) -> LngLat:
    if not isinstance(value, list) or len(value) < 2 or not all(is_number(v) for v in value[:2]):
        raise invalid("invalid coordinate")
    lng, lat = float(value[0]), float(value[1])
    if check_range and not valid_lnglat(lng, lat):
        raise invalid("coordinate out of range")
    return lng, lat


def coordinates(value: Any, *, check_range: bool = True) -> list[LngLat]:
    if not isinstance(value, list):
        raise invalid("coordinates must be an array")
    return [coordinate(c, check_range=check_range) for c in value]


# ------------------------------------------------------------------------------------ lines


def line_parts(shape: dict[str, Any], *, multi: bool = True, check_range: bool = True) -> list[list[LngLat]]:
    """The coordinate lists of a LineString (or, with ``multi``, a MultiLineString)."""
    kind = shape.get("type")
    raw_coordinates = shape.get("coordinates")
    if kind == "LineString":
        parts = [raw_coordinates]
    elif kind == "MultiLineString" and multi:
        if not isinstance(raw_coordinates, list) or not raw_coordinates:
            raise invalid("empty MultiLineString")
        parts = raw_coordinates
    else:
        raise invalid("not a line")
    result = []
    for part in parts:
        coords = coordinates(part, check_range=check_range)
        if len(coords) < 2:
            raise invalid("a line needs at least two coordinates")
        result.append(coords)
    return result


def polyline(coords: list[LngLat]) -> Any:
    """A valid S2Polyline through the coordinates (raises GeoInvalid)."""
    line = s2.S2Polyline()
    line.InitFromS2Points([s2_point(lng, lat) for lng, lat in coords])
    if not line.IsValid():
        raise invalid("invalid line")
    return line


@lru_cache(maxsize=256)
def _lines_of_text(text: str, multi: bool) -> tuple[Any, ...]:
    return tuple(polyline(part) for part in line_parts(geojson(text), multi=multi))


def lines(text: str | None, *, multi: bool = True) -> tuple[Any, ...]:
    """The S2Polylines of a LineString/MultiLineString argument (raises GeoInvalid)."""
    if text is None:
        raise invalid("null line")
    return _lines_of_text(text, multi)


def polyline_points(line: Any) -> list[Point]:
    # vertex() is a reference into the polyline: copy it, the polyline may be freed first
    return [from_raw(raw(line.vertex(i))) for i in range(line.num_vertices())]


def lines_geojson(parts: list[list[Point]]) -> dict[str, Any]:
    """A LineString (one part) or MultiLineString of S2 point chains; empty: a GeometryCollection."""
    parts = [p for p in parts if len(p) >= 2]
    if not parts:
        return empty_collection()
    if len(parts) == 1:
        return {"type": "LineString", "coordinates": [lnglat(p) for p in parts[0]]}
    return {"type": "MultiLineString", "coordinates": [[lnglat(p) for p in part] for part in parts]}


# --------------------------------------------------------------------------------- polygons


def ring_loop(ring: Any, *, check_range: bool = True) -> Any:
    """The normalized S2Loop of a closed GeoJSON ring (raises GeoInvalid)."""
    coords = coordinates(ring, check_range=check_range)
    if len(coords) < 4 or coords[0] != coords[-1]:
        raise invalid("a ring needs four coordinates, the last equal to the first")
    loop = s2.S2Loop([s2_point(lng, lat) for lng, lat in coords[:-1]])
    if not loop.IsValid():
        raise invalid("invalid ring")
    loop.Normalize()
    return loop


def polygon_rings(shape: dict[str, Any]) -> list[list[Any]]:
    """The rings of each polygon of a Polygon or MultiPolygon (raises GeoInvalid)."""
    kind = shape.get("type")
    raw_coordinates = shape.get("coordinates")
    if kind == "Polygon":
        polygons = [raw_coordinates]
    elif kind == "MultiPolygon":
        if not isinstance(raw_coordinates, list) or not raw_coordinates:
            raise invalid("empty MultiPolygon")
        polygons = raw_coordinates
    else:
        raise invalid("not a polygon")
    for rings in polygons:
        if not isinstance(rings, list) or not rings:
            raise invalid("a polygon needs a shell")
    return polygons


def polygon_of_loops(loops: list[Any]) -> Any:
    polygon = s2.S2Polygon()
    if len(loops) == 1:
        polygon = s2.S2Polygon(loops[0])
    else:
        polygon.InitNested(loops)
    if not polygon.IsValid():
        raise invalid("invalid polygon")
    return polygon


def copy_polygon(polygon: Any) -> Any:
    result = s2.S2Polygon()
    result.Copy(polygon)
    return result


def _index(polygon: Any) -> Any:
    index = s2.MutableS2ShapeIndex()
    index.Add(copy_polygon(polygon))  # the index owns (and frees) what it is given
    return index


def boolean(op: int, a: Any, b: Any) -> Any:
    """``a op b`` (S2BooleanOperation.OpType_UNION, ...) as a new S2Polygon."""
    result = s2.S2Polygon()
    operation = s2.S2BooleanOperation(op, s2.S2PolygonLayer(result))
    operation.Build(_index(a), _index(b))
    return result


def union_all(polygons: list[Any]) -> Any:
    """The union of the polygons, merged as S2Polygon::DestructiveUnion does: repeatedly the two
    with the fewest vertices (ties in input order), which fixes where the result's loops start."""
    queue = [(p.num_vertices(), i, p) for i, p in enumerate(polygons)]
    counter = len(queue)
    while len(queue) > 1:
        queue.sort(key=lambda item: (item[0], item[1]))
        (_, _, a), (_, _, b) = queue[0], queue[1]
        merged = boolean(s2.S2BooleanOperation.OpType_UNION, a, b)
        counter += 1
        queue = [*queue[2:], (merged.num_vertices(), counter, merged)]
    return queue[0][2]


def build_polygon(shape: dict[str, Any]) -> Any:
    parts = [polygon_of_loops([ring_loop(ring) for ring in rings]) for rings in polygon_rings(shape)]
    return union_all(parts)


@lru_cache(maxsize=256)
def _polygon_of_text(text: str) -> Any:
    return build_polygon(geojson(text))


def polygon(text: str | None) -> Any:
    """The S2Polygon of a Polygon/MultiPolygon argument (raises GeoInvalid). Cached: do not modify."""
    if text is None:
        raise invalid("null polygon")
    return _polygon_of_text(text)


def loop_points(loop: Any) -> list[Point]:
    # vertex() is a reference into the loop: copy it, the loop may be freed first
    return [from_raw(raw(loop.vertex(i))) for i in range(loop.num_vertices())]


def _ring(points: list[Point]) -> list[list[float]]:
    ring = [lnglat(p) for p in points]
    return [*ring, list(ring[0])]


def polygon_geojson(polygon: Any) -> dict[str, Any]:
    """A Polygon (one shell) or MultiPolygon of an S2Polygon; empty: a GeometryCollection."""
    polygons: list[list[list[list[float]]]] = []
    for i in range(polygon.num_loops()):
        loop = polygon.loop(i)
        points = loop_points(loop)
        if loop.depth() % 2 == 0:
            polygons.append([_ring(points)])
        elif polygons:
            polygons[-1].append(_ring(list(reversed(points))))
    if not polygons:
        return empty_collection()
    if len(polygons) == 1:
        return {"type": "Polygon", "coordinates": polygons[0]}
    return {"type": "MultiPolygon", "coordinates": polygons}


def loops_geojson(loops: list[list[Point]]) -> dict[str, Any]:
    """Shells given as point lists (no holes) as a Polygon or MultiPolygon."""
    if len(loops) == 1:
        return {"type": "Polygon", "coordinates": [_ring(loops[0])]}
    return {"type": "MultiPolygon", "coordinates": [[_ring(points)] for points in loops]}
