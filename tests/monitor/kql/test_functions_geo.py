"""Geospatial functions, checked against the examples of Kusto's documentation (the values its
engine published) and against independent spherical math.

``evaluate`` runs each call twice, folded at compile time and as a Python UDF over columns."""

from __future__ import annotations

import math
from typing import Any

import pytest

from monitor.kql.function_harness import Null, connection, evaluate, sql_of
from warden.monitor.kql import run
from warden.monitor.kql.errors import KqlSemanticError, KqlUnsupportedError
from warden.monitor.kql.functions.geo_udf import register_udfs

register_udfs(connection())  # the harness' connection runs the UDFs as the sandbox does

EARTH = 6371010.0


def close(got: Any, expected: Any, rel: float = 1e-9) -> bool:
    """Structural equality with numbers within ``rel`` (the conformance corpus' rule)."""
    if isinstance(expected, dict):
        return isinstance(got, dict) and got.keys() == expected.keys() and all(close(got[k], expected[k]) for k in got)
    if isinstance(expected, list):
        return isinstance(got, list) and len(got) == len(expected) and all(map(close, got, expected))
    if isinstance(expected, float) and isinstance(got, int | float):
        return math.isclose(got, expected, rel_tol=rel, abs_tol=1e-12)
    return got == expected


def haversine(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    p1, p2 = math.radians(lat1), math.radians(lat2)
    dp, dl = p2 - p1, math.radians(lng2 - lng1)
    h = math.sin(dp / 2) ** 2 + math.cos(p1) * math.cos(p2) * math.sin(dl / 2) ** 2
    return 2 * EARTH * math.asin(math.sqrt(h))


CENTRAL_PARK = {
    "type": "Polygon",
    "coordinates": [
        [
            [-73.9495, 40.7969],
            [-73.95807266235352, 40.80068603561921],
            [-73.98201942443848, 40.76825672305777],
            [-73.97317886352539, 40.76455136505513],
            [-73.9495, 40.7969],
        ]
    ],
}
SQUARE = {"type": "Polygon", "coordinates": [[[0, 0], [1, 0], [1, 1], [0, 1], [0, 0]]]}
DEGENERATE = {"type": "Polygon", "coordinates": [[[0, 0], [10, 10], [10, 10], [0, 0]]]}


# --------------------------------------------------------------------------------- points


def test_distance_2points() -> None:
    # Kusto's documented value, and the haversine formula on S2's earth radius
    assert evaluate("geo_distance_2points", -122.407628, 47.578557, -118.275287, 34.019056) == pytest.approx(
        1546754.3519738095, rel=1e-12
    )
    assert evaluate("geo_distance_2points", 10.0, 20.0, -30.5, -15.25) == pytest.approx(
        haversine(10.0, 20.0, -30.5, -15.25), rel=1e-9
    )
    assert evaluate("geo_distance_2points", 1, 1, 1, 1) == 0.0
    assert evaluate("geo_distance_2points", 300, 1, 1, 1) is None
    assert evaluate("geo_distance_2points", Null("real"), 1, 1, 1) is None


def test_distance_on_the_spheroid() -> None:
    # Vincenty's classic check: Flinders Peak to Buninyong, 54972.271 m on the ellipsoid
    distance = evaluate("geo_distance_2points", 144.42486788, -37.95103342, 143.92649554, -37.65282114, True)
    assert distance == pytest.approx(54972.271, abs=0.01)


def test_azimuth_and_angle() -> None:
    azimuth = evaluate("geo_azimuth", 5, 10, 10, -40)
    assert math.degrees(azimuth) == pytest.approx(175.01565360656755, rel=1e-12)
    assert evaluate("geo_azimuth", 5, 10, 5, 10) is None
    assert evaluate("geo_azimuth", 0, 0, 0, 10) == 0.0  # due north
    assert evaluate("geo_azimuth", 0, 0, 10, 0) == pytest.approx(math.pi / 2)  # due east
    assert evaluate("geo_angle", 0, 10, 0, 5, 3, -10) == pytest.approx(2.94493843406882, rel=1e-12)
    assert evaluate("geo_angle", 0, 10, 0, 10, 3, -10) is None


def test_point_in_circle() -> None:
    places = [(-122.317404, 47.609119, True), (-123.497688, 47.458098, False), (-122.201741, 47.677084, True)]
    for lng, lat, inside in places:
        assert evaluate("geo_point_in_circle", lng, lat, -122.317404, 47.609119, 18000.0) is inside
    assert evaluate("geo_point_in_circle", -122.143564, 47.535677, -122.100896, 47.527351, 3500.0) is True
    assert evaluate("geo_point_in_circle", 1, 1, 1, 1, -1) is None


def test_point_in_polygon() -> None:
    assert evaluate("geo_point_in_polygon", 0.5, 0.5, SQUARE) is True
    assert evaluate("geo_point_in_polygon", 1.5, 0.5, SQUARE) is False
    assert evaluate("geo_point_in_polygon", -73.965, 40.782, CENTRAL_PARK) is True
    # a clockwise ring is the same polygon (the smaller region is chosen)
    clockwise = {"type": "Polygon", "coordinates": [list(reversed(SQUARE["coordinates"][0]))]}
    assert evaluate("geo_point_in_polygon", 0.5, 0.5, clockwise) is True
    assert evaluate("geo_point_in_polygon", 200, 1, SQUARE) is None
    assert evaluate("geo_point_in_polygon", 1, 1, DEGENERATE) is None
    assert evaluate("geo_point_in_polygon", 1, 1, {"type": "Polygon"}) is None
    assert evaluate("geo_point_in_polygon", 1, 1, Null("dynamic")) is None


def test_distances_to_shapes() -> None:
    assert evaluate("geo_distance_point_to_polygon", 0.5, 0.5, SQUARE) == 0.0
    # the closest point of the square to (2, 0.5) is on its meridian edge at lng 1, about one degree away
    assert evaluate("geo_distance_point_to_polygon", 2, 0.5, SQUARE) == pytest.approx(
        haversine(2, 0.5, 1, 0.5), rel=1e-4
    )
    assert evaluate("geo_distance_point_to_polygon", 1, 1, DEGENERATE) is None
    line = {"type": "LineString", "coordinates": [[0, 0], [0, 2]]}
    assert evaluate("geo_distance_point_to_line", 1, 1, line) == pytest.approx(haversine(1, 1, 0, 1), rel=1e-4)
    assert evaluate("geo_distance_point_to_line", 1, 1, {"type": "LineString"}) is None
    assert evaluate("geo_distance_point_to_line", 300, 3, line) is None


def test_closest_points() -> None:
    line = {
        "type": "LineString",
        "coordinates": [[-115.183289, 36.175007], [-115.192612, 36.176736], [-115.202485, 36.173439]],
    }
    point = evaluate("geo_closest_point_on_line", -115.199625, 36.210419, line)
    assert close(point, {"type": "Point", "coordinates": [-115.19261200000001, 36.176736]})
    point = evaluate("geo_closest_point_on_polygon", -73.9839, 40.7705, CENTRAL_PARK)
    assert close(point, {"type": "Point", "coordinates": [-73.98120558015391, 40.76935945284321]})
    inside = evaluate("geo_closest_point_on_polygon", -73.965, 40.782, CENTRAL_PARK)
    assert inside == {"type": "Point", "coordinates": [-73.965, 40.782]}
    assert evaluate("geo_closest_point_on_polygon", 500, 1, SQUARE) is None


def test_point_buffer() -> None:
    buffer = evaluate("geo_point_buffer", -115.1745008278, 36.1497251277, 20000.0)
    ring = buffer["coordinates"][0]
    assert buffer["type"] == "Polygon" and len(ring) == 101 and ring[0] == ring[-1]
    assert close(ring[0], [-115.23572342504431, 36.32267760568711])  # Kusto's first vertex
    for lng, lat in ring:  # every vertex within the 10 m tolerance of the circle
        assert abs(haversine(-115.1745008278, 36.1497251277, lng, lat) - 20000) <= 10.5
    assert evaluate("geo_point_buffer", 200, 1, 0.1) is None
    assert evaluate("geo_point_buffer", 1, 1, -5.0) is None


# ---------------------------------------------------------------------------------- cells


def test_s2_cells() -> None:
    assert evaluate("geo_point_to_s2cell", -80.195829, 25.802215, 8) == "88d9b"
    assert evaluate("geo_point_to_s2cell", 300, 1, 8) == ""
    assert evaluate("geo_point_to_s2cell", 1, 1, 35) == ""
    assert evaluate("geo_point_to_s2cell", 1, 1, Null("int")) == ""
    assert evaluate("geo_point_to_s2cell", 1, 1) == evaluate("geo_point_to_s2cell", 1, 1, 11)  # the default
    center = evaluate("geo_s2cell_to_central_point", "1234567")
    assert close(center, {"type": "Point", "coordinates": [9.86830731850408, 27.468392925827605]})
    polygon = evaluate("geo_s2cell_to_polygon", "89c259")
    expected = [
        [-74.03001224983848, 40.8012684339439],
        [-74.03001224983848, 40.7222262918358],
        [-73.93598211433742, 40.708880489804564],
        [-73.93598211433742, 40.78791713450684],
        [-74.03001224983848, 40.8012684339439],
    ]
    assert close(polygon, {"type": "Polygon", "coordinates": [expected]})
    assert evaluate("geo_s2cell_to_polygon", "a") is None
    neighbors = evaluate("geo_s2cell_neighbors", "89c259")
    assert sorted(neighbors) == ["89c251", "89c257", "89c25b", "89c25d", "89c25f", "89c2f5", "89c2f7", "89c2f9"]
    assert evaluate("geo_s2cell_neighbors", "a") is None


def test_s2_coverings() -> None:
    cells = evaluate("geo_polygon_to_s2cells", SQUARE, 5)
    assert cells and all(len(c) == len(cells[0]) for c in cells)  # one level
    inside = evaluate("geo_point_to_s2cell", 0.5, 0.5, 5)
    assert inside in cells
    big = {"type": "Polygon", "coordinates": [[[0, 0], [0, 50], [100, 50], [0, 0]]]}
    assert evaluate("geo_polygon_to_s2cells", big, 30) is None  # past 65,536 cells
    line = {"type": "LineString", "coordinates": [[0, 0], [1, 1]]}
    assert evaluate("geo_point_to_s2cell", 0.5, 0.5, 8) in evaluate("geo_line_to_s2cells", line, 8)
    assert evaluate("geo_line_to_s2cells", {"type": "LineString", "coordinates": [[[0, 0], [0, 0]]]}) is None


def test_h3_cells() -> None:
    cell = "862a1072fffffff"
    assert evaluate("geo_point_to_h3cell", -74.04450446039874, 40.689250859314974, 6) == cell
    assert evaluate("geo_point_to_h3cell", 300, 1, 8) == ""
    assert evaluate("geo_point_to_h3cell", 1, 1, Null("int")) == ""
    assert evaluate("geo_h3cell_level", cell) == 6
    assert evaluate("geo_h3cell_level", "abc") is None
    assert evaluate("geo_h3cell_parent", cell) == "852a1073fffffff"
    assert evaluate("geo_h3cell_parent", "123") == ""
    assert evaluate("geo_h3cell_parent", cell, 7) == ""  # finer than the cell
    children = ["872a10728ffffff", "872a10729ffffff", "872a1072affffff", "872a1072bffffff"]
    children += ["872a1072cffffff", "872a1072dffffff", "872a1072effffff"]
    assert evaluate("geo_h3cell_children", cell) == children
    assert len(evaluate("geo_h3cell_children", cell, 9)) == 343
    assert evaluate("geo_h3cell_children", cell, 5) is None
    assert evaluate("geo_h3cell_children", evaluate("geo_point_to_h3cell", 1, 1, 9), 15) is None  # too many
    rings = evaluate("geo_h3cell_rings", "861f8894fffffff", 1)
    neighbors = ["861f88947ffffff", "861f8895fffffff", "861f88867ffffff", "861f8d497ffffff"]
    neighbors += ["861f8d4b7ffffff", "861f8896fffffff"]
    assert rings == [["861f8894fffffff"], neighbors]
    assert evaluate("geo_h3cell_rings", "861f8894fffffff", 150) is None
    ring = ["862a10777ffffff", "862a100d7ffffff", "862a100dfffffff", "862a1070fffffff", "862a10707ffffff"]
    ring.append("862a10727ffffff")
    assert sorted(evaluate("geo_h3cell_neighbors", cell)) == sorted(ring)
    polygon = evaluate("geo_h3cell_to_polygon", cell)
    assert polygon["type"] == "Polygon" and len(polygon["coordinates"][0]) == 7
    assert evaluate("geo_h3cell_to_polygon", "@") is None
    assert evaluate("geo_h3cell_to_central_point", "1") is None


def test_polygon_to_h3cells() -> None:
    madrid = {
        "type": "Polygon",
        "coordinates": [[[-3.659, 40.553], [-3.913, 40.409], [-3.729, 40.273], [-3.524, 40.44], [-3.659, 40.553]]],
    }
    expected = ["86390cbafffffff", "86390ca07ffffff", "86390cba7ffffff", "86390cb8fffffff", "86390cb1fffffff"]
    expected += ["86390cb87ffffff", "86390cb17ffffff", "86390cb07ffffff", "86390ca2fffffff", "86390ca27ffffff"]
    expected += ["86390cb0fffffff", "86390ca37ffffff", "86390cb57ffffff"]
    assert sorted(evaluate("geo_polygon_to_h3cells", madrid)) == sorted(expected)  # Kusto's cells


def test_geohash() -> None:
    assert evaluate("geo_point_to_geohash", -80.195829, 25.802215, 8) == "dhwfz15h"
    assert evaluate("geo_point_to_geohash", 200, 1, 8) == ""
    assert evaluate("geo_point_to_geohash", 1, 1, Null("int")) == ""
    center = evaluate("geo_geohash_to_central_point", "sunny")
    assert center == {"type": "Point", "coordinates": [42.47314453125, 23.70849609375]}
    polygon = evaluate("geo_geohash_to_polygon", "dr5ru")
    ring = [[-74.00390625, 40.7373046875], [-73.9599609375, 40.7373046875], [-73.9599609375, 40.78125]]
    ring += [[-74.00390625, 40.78125], [-74.00390625, 40.7373046875]]
    assert polygon == {"type": "Polygon", "coordinates": [ring]}
    neighbors = ["sunnv", "sunnt", "sunnw", "sunnx", "sunpp", "sunnz", "sunpn", "sunpj"]
    assert evaluate("geo_geohash_neighbors", "sunny") == neighbors
    assert evaluate("geo_geohash_to_polygon", "a!") is None


# ---------------------------------------------------------------------------------- lines


def test_line_measures() -> None:
    line = {
        "type": "MultiLineString",
        "coordinates": [
            [[-73.95798683166502, 40.800556090021466], [-73.98193359375, 40.76819171855746]],
            [[-73.94940376281738, 40.79691751000055], [-73.97317886352539, 40.76435634049001]],
        ],
    }
    assert evaluate("geo_line_length", line) == pytest.approx(8262.243397537412, rel=1e-12)
    centroid = evaluate("geo_line_centroid", line)
    assert close(centroid, {"type": "Point", "coordinates": [-73.96562218400669, 40.78250336313828]})
    simple = {"type": "LineString", "coordinates": [[0, 0], [0, 1]]}
    assert evaluate("geo_line_length", simple) == pytest.approx(haversine(0, 0, 0, 1), rel=1e-12)
    assert evaluate("geo_line_length", {"type": "LineString", "coordinates": [[1, 1]]}) is None


def test_line_interpolate_and_locate() -> None:
    line = {"type": "LineString", "coordinates": [[0, 0], [0, 2]]}
    assert close(evaluate("geo_line_interpolate_point", line, 0.5), {"type": "Point", "coordinates": [0.0, 1.0]})
    assert evaluate("geo_line_locate_point", line, 0.1, 1.5) == pytest.approx(0.75, rel=1e-5)
    bad = {"type": "LineString", "coordinates": [[1, 1]]}
    assert evaluate("geo_line_interpolate_point", bad, 0.5) is None
    assert evaluate("geo_line_locate_point", bad, 1, 1) is None
    assert evaluate("geo_line_interpolate_point", line, 1.5) is None


def test_line_intersections() -> None:
    first = {"type": "LineString", "coordinates": [[-73.978929, 40.785155], [-73.980903, 40.782621]]}
    second = {"type": "LineString", "coordinates": [[-73.985195, 40.788275], [-73.974552, 40.779761]]}
    crossing = evaluate("geo_intersection_2lines", first, second)
    assert close(crossing, {"type": "Point", "coordinates": [-73.97983711667098, 40.783989289772165]})
    assert close(evaluate("geo_intersection_2lines", first, first), first)
    apart = [{"type": "LineString", "coordinates": c} for c in ([[1, 1], [2, 2]], [[3, 3], [4, 4]])]
    assert evaluate("geo_intersection_2lines", *apart) == {"type": "GeometryCollection", "geometries": []}
    assert evaluate("geo_intersects_2lines", first, second) is True
    assert evaluate("geo_intersects_2lines", *apart) is False
    assert evaluate("geo_intersects_2lines", first, SQUARE) is None  # a polygon is not a line


def test_line_densify() -> None:
    densified = evaluate("geo_line_densify", {"type": "LineString", "coordinates": [[50, 50], [51, 51]]})
    # Kusto's published result: eight geodesic pieces within 10 m of the planar edge
    expected = [[50.0 + k / 8, 50.0 + k / 8] for k in range(9)]
    assert close(densified, {"type": "LineString", "coordinates": expected})
    assert evaluate("geo_line_densify", {"type": "LineString", "coordinates": [[1, 1], [2, 2]]}, 0) is None
    crossing = evaluate("geo_line_densify", {"type": "LineString", "coordinates": [[300, 1], [1, 1]]})
    assert crossing["type"] == "MultiLineString" and len(crossing["coordinates"]) == 2
    assert abs(crossing["coordinates"][0][-1][0]) == 180.0
    assert crossing["coordinates"][0][-1][1] == pytest.approx(1.0000397208212215, rel=1e-9)


def test_line_simplify_and_union() -> None:
    assert evaluate("geo_line_simplify", {"type": "LineString", "coordinates": [[1, 1]]}) is None
    short = {"type": "LineString", "coordinates": [[1.1, 1.1], [1.2, 1.2]]}
    assert evaluate("geo_line_simplify", short, 100000) is None  # shorter than the tolerance
    bent = {"type": "LineString", "coordinates": [[0, 0], [0.5, 0.0000001], [1, 0]]}
    assert close(evaluate("geo_line_simplify", bent), {"type": "LineString", "coordinates": [[0.0, 0.0], [1.0, 0.0]]})
    lines = [
        {"type": "LineString", "coordinates": [[0, 0], [1, 1], [2, 2]]},
        {"type": "LineString", "coordinates": [[1, 1], [2, 2], [3, 2]]},
    ]
    union = evaluate("geo_union_lines_array", lines)
    assert close(union, {"type": "LineString", "coordinates": [[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 2.0]]})
    assert evaluate("geo_union_lines_array", [*lines, {"type": "LineString", "coordinates": [[1, 1]]}]) is None


# ------------------------------------------------------------------------------- polygons


def test_polygon_measures() -> None:
    assert evaluate("geo_polygon_perimeter", CENTRAL_PARK) == pytest.approx(9930.301496049382, rel=1e-12)
    centroid = evaluate("geo_polygon_centroid", CENTRAL_PARK)
    assert close(centroid, {"type": "Point", "coordinates": [-73.96573568990762, 40.78255053805781]})
    # a 1-degree square at the equator: area of the spherical quadrangle
    expected = EARTH**2 * math.radians(1) * math.sin(math.radians(1))
    assert evaluate("geo_polygon_area", SQUARE) == pytest.approx(expected, rel=1e-4)
    assert evaluate("geo_polygon_centroid", DEGENERATE) is None
    overlapping = {
        "type": "MultiPolygon",
        "coordinates": [SQUARE["coordinates"], [[[0.5, 0], [1.5, 0], [1.5, 1], [0.5, 1], [0.5, 0]]]],
    }
    # the area of a multipolygon is that of the union
    assert evaluate("geo_polygon_area", overlapping) == pytest.approx(expected * 1.5, rel=1e-3)


def test_polygon_densify() -> None:
    square = {"type": "Polygon", "coordinates": [[[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]]}
    ring = evaluate("geo_polygon_densify", square)["coordinates"][0]
    # meridian edges are already geodesics; parallels get three points each (Kusto's result)
    expected = [[10, 10], [10.25, 10], [10.5, 10], [10.75, 10], [11, 10], [11, 11], [10.75, 11], [10.5, 11]]
    expected += [[10.25, 11], [10, 11], [10, 10]]
    assert close(ring, [[float(x), float(y)] for x, y in expected])
    clockwise = {
        "type": "Polygon",
        "coordinates": [
            [
                [-73.958244, 40.800719],
                [-73.949146, 40.79695],
                [-73.973093, 40.764226],
                [-73.982062, 40.768159],
                [-73.958244, 40.800719],
            ]
        ],
    }
    ring = evaluate("geo_polygon_densify", clockwise)["coordinates"][0]
    assert close(ring[0], [-73.982062, 40.768159]) and len(ring) == 5  # normalized: reversed
    bad_lat = {"type": "Polygon", "coordinates": [[[10, 900], [11, 10], [11, 11], [10, 11], [10, 10]]]}
    assert evaluate("geo_polygon_densify", bad_lat) is None
    assert evaluate("geo_polygon_densify", square, 0) is None


def test_polygon_simplify() -> None:
    ring = [
        [-73.94885122776031, 40.79673476355657],
        [-73.94885927438736, 40.79692258628347],
        [-73.94887939095497, 40.79692055577034],
        [-73.9488673210144, 40.79693476936093],
        [-73.94888743758202, 40.79693476936093],
        [-73.9488834142685, 40.796959135509105],
        [-73.94890084862709, 40.79695304397289],
        [-73.94906312227248, 40.79710736271788],
        [-73.94923612475395, 40.7968708081794],
        [-73.94885122776031, 40.79673476355657],
    ]
    simplified = evaluate("geo_polygon_simplify", {"type": "Polygon", "coordinates": [ring]})
    expected = [ring[0], ring[7], ring[8], ring[0]]  # Kusto's result
    assert close(simplified, {"type": "Polygon", "coordinates": [expected]})
    small = {"type": "Polygon", "coordinates": [[[5, 48], [0, 50], [0, 47], [4, 47], [5, 48]]]}
    assert evaluate("geo_polygon_simplify", small, -0.1) is None
    assert evaluate("geo_polygon_simplify", small, 1000000) is None


def test_polygon_boolean_operations() -> None:
    polygons = [
        {"type": "Polygon", "coordinates": [[[0, 0], [2, 0], [2, 2], [0, 2], [0, 0]]]},
        {"type": "Polygon", "coordinates": [[[1, 1], [3, 1], [3, 3], [1, 3], [1, 1]]]},
    ]
    union = evaluate("geo_union_polygons_array", polygons)
    assert union["type"] == "Polygon" and len(union["coordinates"][0]) == 9  # 8 corners, closed
    intersection = evaluate("geo_intersection_2polygons", *polygons)
    assert intersection["type"] == "Polygon" and len(intersection["coordinates"][0]) == 5
    assert evaluate("geo_intersects_2polygons", *polygons) is True
    far = {"type": "Polygon", "coordinates": [[[10, 10], [11, 10], [11, 11], [10, 11], [10, 10]]]}
    assert evaluate("geo_intersects_2polygons", polygons[0], far) is False
    assert evaluate("geo_intersection_2polygons", {"type": "Polygon"}, far) is None
    # closed polygons: triangles sharing only a vertex meet in that point (Kusto's example)
    left = {"type": "Polygon", "coordinates": [[[2, 45], [0, 45], [1, 44], [2, 45]]]}
    right = {"type": "Polygon", "coordinates": [[[3, 44], [2, 45], [2, 43], [3, 44]]]}
    assert close(evaluate("geo_intersection_2polygons", left, right), {"type": "Point", "coordinates": [2.0, 45.0]})
    assert evaluate("geo_intersects_2polygons", left, right) is True
    line = {"type": "LineString", "coordinates": [[-1, 1], [1, 1]]}
    assert evaluate("geo_intersects_line_with_polygon", line, polygons[0]) is True
    clipped = evaluate("geo_intersection_line_with_polygon", line, polygons[0])
    assert clipped["type"] == "LineString" and close(clipped["coordinates"][-1], [1.0, 1.0])
    assert evaluate("geo_union_polygons_array", [polygons[0], {"type": "Polygon", "coordinates": [[[0, 0]]]}]) is None


def test_polygon_buffer() -> None:
    buffer = evaluate("geo_polygon_buffer", SQUARE, 1000.0)
    assert evaluate("geo_point_in_polygon", 1.005, 0.5, buffer) is True  # ~556 m east of the edge
    assert evaluate("geo_point_in_polygon", 1.02, 0.5, buffer) is False
    assert evaluate("geo_polygon_buffer", {"type": "p"}, 1.0) is None
    assert evaluate("geo_polygon_buffer", SQUARE, 0.0) is None
    line_buffer = evaluate("geo_line_buffer", {"type": "LineString", "coordinates": [[0, 0], [0.1, 0]]}, 100.0)
    assert evaluate("geo_point_in_polygon", 0.05, 0.0005, line_buffer) is True  # ~56 m north of the line
    assert evaluate("geo_point_in_polygon", 0.05, 0.002, line_buffer) is False


# ------------------------------------------------------------------------------------- WKT


@pytest.mark.parametrize(
    ("wkt", "expected"),
    [
        ("POINT (1 2)", {"type": "Point", "coordinates": [1.0, 2.0]}),
        ("LINESTRING (1 2, 3 4)", {"type": "LineString", "coordinates": [[1.0, 2.0], [3.0, 4.0]]}),
        (
            "POLYGON ((0 0, 2 0, 2 2, 0 0))",
            {"type": "Polygon", "coordinates": [[[0.0, 0.0], [2.0, 0.0], [2.0, 2.0], [0.0, 0.0]]]},
        ),
        ("MULTIPOINT (1 1, 2 2)", {"type": "MultiPoint", "coordinates": [[1.0, 1.0], [2.0, 2.0]]}),
        (
            "MULTILINESTRING ((1 1, 2 2), (4 4, 5 5))",
            {"type": "MultiLineString", "coordinates": [[[1.0, 1.0], [2.0, 2.0]], [[4.0, 4.0], [5.0, 5.0]]]},
        ),
        ("LINESTRING", None),
        ("POINT (1)", None),
        ("POLYGON ((0 0, 2 0, 2 2))", None),
    ],
)
def test_from_wkt(wkt: str, expected: Any) -> None:
    assert evaluate("geo_from_wkt", wkt) == expected


# ------------------------------------------------------------------------------ compiling


def test_types_and_dialects() -> None:
    with pytest.raises(KqlSemanticError):
        evaluate("geo_point_in_polygon", 1, 1, "not a polygon")
    with pytest.raises(KqlUnsupportedError, match="geo_point_to_s2cell"):
        sql_of("geo_point_to_s2cell", 1.0, 2.0, dialect="clickhouse")


def test_queries_run_the_udfs() -> None:
    # Kusto's geospatial join example: points hashed to the same level-22 S2 cell join
    result = run(
        """
        let locations1 = datatable(name: string, longitude: real, latitude: real)
        [
            "a", -0.12433080766874127, 51.51115841361647,
            "b", -0.12432651341458723, 51.511160848670585,
            "c", -0.12432466939637266, 51.51115959669167,
            "d", 1, 1,
        ];
        let locations2 = datatable(id: string, longitude: real, latitude: real)
        [ "1", -0.12432668105284961, 51.51115938802832 ];
        locations1
        | extend hash = geo_point_to_s2cell(longitude, latitude, 22)
        | join kind = inner (locations2 | extend hash = geo_point_to_s2cell(longitude, latitude, 22)) on hash
        | project name, id
        | order by name asc
        """
    )
    assert result.rows == [["a", "1"], ["b", "1"], ["c", "1"]]
    counts = run(
        """
        datatable(location_id:string, longitude:real, latitude:real)
        ["A", 10.1234, 53, "B", 10.3579, 53, "C", 10.6842, 53]
        | summarize count = count() by s2cell = geo_point_to_s2cell(longitude, latitude, 8)
        | order by s2cell asc
        """
    )
    assert counts.rows == [["47ae3", 1], ["47b1d", 2]]
