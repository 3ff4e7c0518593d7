"""Grid cells: S2 cells (``geo_point_to_s2cell``, ``geo_s2cell_to_central_point``,
``geo_s2cell_to_polygon``, ``geo_s2cell_neighbors``, ``geo_polygon_to_s2cells``,
``geo_line_to_s2cells``), H3 cells (``geo_point_to_h3cell``, ``geo_h3cell_to_central_point``,
``geo_h3cell_to_polygon``, ``geo_h3cell_children``, ``geo_h3cell_parent``, ``geo_h3cell_level``,
``geo_h3cell_neighbors``, ``geo_h3cell_rings``, ``geo_polygon_to_h3cells``) and geohashes
(``geo_point_to_geohash``, ``geo_geohash_to_central_point``, ``geo_geohash_to_polygon``,
``geo_geohash_neighbors``).

S2 cells are written as tokens, H3 cells as their 15-digit hex strings, geohashes in base 32.
Defaults and ranges are Kusto's: S2 level 11 in [0, 30], H3 resolution 6 in [0, 15], geohash
accuracy 5 in [1, 18]; an invalid coordinate or level gives ``''`` for a cell and null for the
other results. Coverings are of cells of the one requested level, null past Kusto's limits
(65,536 S2 tokens, 61,680 H3 cells).
"""

from __future__ import annotations

import itertools
import math
from typing import Any

import h3
import s2geometry as s2

from . import geo_model as gm
from .common import K
from .geo_udf import geo_function

R, L, S, D, B, INT = K.REAL, K.LONG, K.STRING, K.DYNAMIC, K.BOOL, K.INT

S2_MAX_LEVEL = 30
S2_MAX_COVERING = 65536
H3_MAX_CELLS = 61680
#: Most children geo_h3cell_children returns: six levels down (117,649 cells) is refused as
#: Kusto refuses it, five (16,807) is not.
H3_MAX_CHILDREN = 65536


def _level(value: Any, low: int, high: int) -> int:
    if value is None or not low <= value <= high:
        raise gm.invalid("level out of range")
    return int(value)


# --------------------------------------------------------------------------------- S2 cells


def s2_cell(token: Any) -> Any:
    """The S2CellId of a token (raises GeoInvalid for an invalid one)."""
    if not isinstance(token, str) or not token or len(token) > 16:
        raise gm.invalid("invalid S2 token")
    if any(c not in "0123456789abcdefABCDEF" for c in token):
        raise gm.invalid("invalid S2 token")
    cell = s2.S2CellId.FromToken(token)
    if not cell.is_valid():
        raise gm.invalid("invalid S2 token")
    return cell


@geo_function("geo_point_to_s2cell", (R, R, L), S, required=2, defaults=(11,))
def geo_point_to_s2cell(lng: Any, lat: Any, level: Any) -> str:
    p = gm.point(lng, lat)
    return s2.S2CellId(p).parent(_level(level, 0, S2_MAX_LEVEL)).ToToken()


@geo_function("geo_s2cell_to_central_point", (S,), D)
def geo_s2cell_to_central_point(token: Any) -> dict[str, Any]:
    return gm.point_geojson(s2_cell(token).ToPoint())


def s2_cell_ring(cell: Any) -> list[Any]:
    c = s2.S2Cell(cell)
    return [c.GetVertex(k) for k in range(4)]


@geo_function("geo_s2cell_to_polygon", (S,), D)
def geo_s2cell_to_polygon(token: Any) -> dict[str, Any]:
    return gm.loops_geojson([s2_cell_ring(s2_cell(token))])


@geo_function("geo_s2cell_neighbors", (S,), D)
def geo_s2cell_neighbors(token: Any) -> list[str]:
    cell = s2_cell(token)
    if cell.level() == 0:
        return [n.ToToken() for n in cell.GetEdgeNeighbors()]
    return [n.ToToken() for n in cell.GetAllNeighbors(cell.level())]


def fixed_level_covering(region: Any, level: int, interior: Any = None) -> list[Any]:
    """The cells of ``level`` covering ``region``, or GeoInvalid past S2_MAX_COVERING.

    Coverings are computed level by level from the top: a covering never has fewer cells than the
    one of its parent level, so a too large request stops early instead of enumerating millions.
    """
    cells: list[Any] = []
    for current in range(0, level + 1):
        coverer = s2.S2RegionCoverer()
        coverer.set_fixed_level(current)
        coverer.set_max_cells(S2_MAX_COVERING)
        cells = coverer.GetCovering(region)
        if len(cells) > S2_MAX_COVERING:
            raise gm.invalid("too many cells")
        if interior is not None and current < level:
            inner = coverer.GetInteriorCovering(interior)
            if len(inner) * 4 ** (level - current) > S2_MAX_COVERING:
                raise gm.invalid("too many cells")
    return cells


def _radius(value: Any) -> float:
    if not gm.is_number(value) or value < 0:
        raise gm.invalid("invalid radius")
    return float(value)


@geo_function("geo_polygon_to_s2cells", (D, L, R), D, required=1, defaults=(11, 0.0))
def geo_polygon_to_s2cells(polygon: str | None, level: Any, radius: Any) -> list[str]:
    from .geo_points import buffer_options, run_buffer

    shape = gm.polygon(polygon)
    level = _level(level, 0, S2_MAX_LEVEL)
    radius = _radius(radius)
    if radius > 0:
        copy = gm.copy_polygon(shape)
        shape = run_buffer(buffer_options(radius, radius * 0.01), lambda op: op.AddPolygon(copy))
    return [c.ToToken() for c in fixed_level_covering(shape, level, shape)]


def _edge_cells(a: Any, b: Any, level: int, radius: float) -> set[int]:
    """Ids of the level cells within ``radius`` (radians) of the edge ab (a flood from its covering)."""
    line = s2.S2Polyline()
    line.InitFromS2Points([a, b])
    coverer = s2.S2RegionCoverer()
    coverer.set_fixed_level(level)
    coverer.set_max_cells(S2_MAX_COVERING)
    seen = {c.id(): c for c in coverer.GetCovering(line)}
    frontier = list(seen.values())
    while frontier:
        nxt = []
        for cell in frontier:
            for n in cell.GetAllNeighbors(level):
                if n.id() in seen:
                    continue
                if s2.S2Cell(n).GetDistance(a, b).ToAngle().radians() <= radius:
                    seen[n.id()] = n
                    nxt.append(n)
                    if len(seen) > S2_MAX_COVERING:
                        raise gm.invalid("too many cells")
        frontier = nxt
    return set(seen)


@geo_function("geo_line_to_s2cells", (D, L, R), D, required=1, defaults=(11, 0.0))
def geo_line_to_s2cells(line: str | None, level: Any, radius: Any) -> list[str]:
    lines = gm.lines(line)
    level = _level(level, 0, S2_MAX_LEVEL)
    radius = _radius(radius)
    ids: set[int] = set()
    for polyline in lines:
        if radius > 0:
            points = gm.polyline_points(polyline)
            for a, b in itertools.pairwise(points):
                ids |= _edge_cells(a, b, level, gm.radians(radius))
        else:
            ids |= {c.id() for c in fixed_level_covering(polyline, level)}
        if len(ids) > S2_MAX_COVERING:
            raise gm.invalid("too many cells")
    return [s2.S2CellId(i).ToToken() for i in sorted(ids)]


# --------------------------------------------------------------------------------- H3 cells


def h3_cell(token: Any) -> str:
    if not isinstance(token, str) or not token or not h3.is_valid_cell(token):
        raise gm.invalid("invalid H3 cell")
    return token.lower()


@geo_function("geo_point_to_h3cell", (R, R, L), S, required=2, defaults=(6,))
def geo_point_to_h3cell(lng: Any, lat: Any, resolution: Any) -> str:
    if not gm.valid_lnglat(lng, lat):
        raise gm.invalid("invalid coordinates")
    return h3.latlng_to_cell(lat, lng, _level(resolution, 0, 15))


@geo_function("geo_h3cell_to_central_point", (S,), D)
def geo_h3cell_to_central_point(token: Any) -> dict[str, Any]:
    lat, lng = h3.cell_to_latlng(h3_cell(token))
    return gm.lnglat_geojson(lng, lat)


def h3_ring(cell: str) -> list[list[float]]:
    ring = [[lng, lat] for lat, lng in h3.cell_to_boundary(cell)]
    return [*ring, list(ring[0])]


@geo_function("geo_h3cell_to_polygon", (S,), D)
def geo_h3cell_to_polygon(token: Any) -> dict[str, Any]:
    return {"type": "Polygon", "coordinates": [h3_ring(h3_cell(token))]}


@geo_function("geo_h3cell_level", (S,), INT)
def geo_h3cell_level(token: Any) -> int:
    return h3.get_resolution(h3_cell(token))


@geo_function("geo_h3cell_parent", (S, L), S, required=1, defaults=(None,))
def geo_h3cell_parent(token: Any, resolution: Any) -> str:
    cell = h3_cell(token)
    level = h3.get_resolution(cell)
    target = level - 1 if resolution is None else _level(resolution, 0, 15)
    if target < 0 or target > level:
        raise gm.invalid("invalid parent resolution")
    return h3.cell_to_parent(cell, target)


@geo_function("geo_h3cell_children", (S, L), D, required=1, defaults=(None,))
def geo_h3cell_children(token: Any, resolution: Any) -> list[str]:
    cell = h3_cell(token)
    level = h3.get_resolution(cell)
    target = level + 1 if resolution is None else _level(resolution, 0, 15)
    if target < level or target > 15 or 7 ** (target - level) > H3_MAX_CHILDREN:
        raise gm.invalid("invalid child resolution")
    return list(h3.cell_to_children(cell, target))


def disk_rings(cell: str, k: int) -> list[list[str]]:
    """The cells within ``k`` steps grouped by distance, each ring in H3's grid-disk order."""
    disk = h3.grid_disk(cell, k)
    rings: list[list[str]] = [[] for _ in range(k + 1)]
    for member in disk:
        rings[h3.grid_distance(cell, member)].append(member)
    return rings


@geo_function("geo_h3cell_rings", (S, L), D)
def geo_h3cell_rings(token: Any, distance: Any) -> list[list[str]]:
    return disk_rings(h3_cell(token), _level(distance, 0, 142))


@geo_function("geo_h3cell_neighbors", (S,), D)
def geo_h3cell_neighbors(token: Any) -> list[str]:
    return disk_rings(h3_cell(token), 1)[1]


def _h3_polygons(shape: Any) -> list[list[list[tuple[float, float]]]]:
    """Each polygon of an S2Polygon as (lat, lng) rings without the closing vertex (H3's input)."""
    geo = gm.polygon_geojson(shape)
    parts = [geo["coordinates"]] if geo["type"] == "Polygon" else geo.get("coordinates", [])
    if not parts:
        raise gm.invalid("empty polygon")
    return [[[(lat, lng) for lng, lat in ring[:-1]] for ring in rings] for rings in parts]


@geo_function("geo_polygon_to_h3cells", (D, L, R), D, required=1, defaults=(6, 0.0))
def geo_polygon_to_h3cells(polygon: str | None, resolution: Any, radius: Any) -> list[str]:
    from .geo_points import buffer_options, run_buffer

    shape = gm.polygon(polygon)
    resolution = _level(resolution, 0, 15)
    radius = _radius(radius)
    if radius > 0:
        copy = gm.copy_polygon(shape)
        shape = run_buffer(buffer_options(radius, radius * 0.01), lambda op: op.AddPolygon(copy))
    area = gm.meters(gm.meters(shape.GetArea()))
    if area / (h3.average_hexagon_area(resolution, unit="m^2") * 1.5) > H3_MAX_CELLS:
        raise gm.invalid("too many cells")
    result: dict[str, None] = {}
    for rings in _h3_polygons(shape):
        result.update(dict.fromkeys(h3.h3shape_to_cells(h3.LatLngPoly(*rings), resolution)))
        if len(result) > H3_MAX_CELLS:
            raise gm.invalid("too many cells")
    return list(result)


# --------------------------------------------------------------------------------- geohash

_BASE32 = "0123456789bcdefghjkmnpqrstuvwxyz"
_DECODE = {c: i for i, c in enumerate(_BASE32)}


def geohash_encode(lng: float, lat: float, length: int) -> str:
    lng_range, lat_range = [-180.0, 180.0], [-90.0, 90.0]
    chars, bits, value, even = [], 0, 0, True
    while len(chars) < length:
        target, bounds = (lng, lng_range) if even else (lat, lat_range)
        mid = (bounds[0] + bounds[1]) / 2
        if target >= mid:
            value = value * 2 + 1
            bounds[0] = mid
        else:
            value *= 2
            bounds[1] = mid
        even = not even
        bits += 1
        if bits == 5:
            chars.append(_BASE32[value])
            bits, value = 0, 0
    return "".join(chars)


def geohash_box(text: Any) -> tuple[float, float, float, float]:
    """``(min_lng, min_lat, max_lng, max_lat)`` of a geohash (raises GeoInvalid)."""
    if not isinstance(text, str) or not 1 <= len(text) <= 18:
        raise gm.invalid("invalid geohash")
    lng_range, lat_range = [-180.0, 180.0], [-90.0, 90.0]
    even = True
    for char in text.lower():
        code = _DECODE.get(char)
        if code is None:
            raise gm.invalid("invalid geohash")
        for shift in range(4, -1, -1):
            bounds = lng_range if even else lat_range
            mid = (bounds[0] + bounds[1]) / 2
            if (code >> shift) & 1:
                bounds[0] = mid
            else:
                bounds[1] = mid
            even = not even
    return lng_range[0], lat_range[0], lng_range[1], lat_range[1]


@geo_function("geo_point_to_geohash", (R, R, L), S, required=2, defaults=(5,))
def geo_point_to_geohash(lng: Any, lat: Any, accuracy: Any) -> str:
    if not gm.valid_lnglat(lng, lat):
        raise gm.invalid("invalid coordinates")
    return geohash_encode(lng, lat, _level(accuracy, 1, 18))


@geo_function("geo_geohash_to_central_point", (S,), D)
def geo_geohash_to_central_point(text: Any) -> dict[str, Any]:
    west, south, east, north = geohash_box(text)
    return gm.lnglat_geojson((west + east) / 2, (south + north) / 2)


@geo_function("geo_geohash_to_polygon", (S,), D)
def geo_geohash_to_polygon(text: Any) -> dict[str, Any]:
    west, south, east, north = geohash_box(text)
    ring = [[west, south], [east, south], [east, north], [west, north], [west, south]]
    return {"type": "Polygon", "coordinates": [ring]}


#: Neighbor offsets (in cell widths east, heights north) in the order Kusto lists them: W, SW, S, SE, NE, E, N, NW.
_GEOHASH_NEIGHBORS = [(-1, 0), (-1, -1), (0, -1), (1, -1), (1, 1), (1, 0), (0, 1), (-1, 1)]


@geo_function("geo_geohash_neighbors", (S,), D)
def geo_geohash_neighbors(text: Any) -> list[str]:
    west, south, east, north = geohash_box(text)
    width, height = east - west, north - south
    center_lng, center_lat = (west + east) / 2, (south + north) / 2
    result = []
    for dx, dy in _GEOHASH_NEIGHBORS:
        lat = center_lat + dy * height
        if not -90.0 < lat < 90.0:
            continue
        lng = center_lng + dx * width
        lng = math.remainder(lng, 360.0) if not -180.0 <= lng < 180.0 else lng
        result.append(geohash_encode(lng, lat, len(text)))
    return result
