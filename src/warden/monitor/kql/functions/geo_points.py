"""Point functions: ``geo_distance_2points``, ``geo_azimuth``, ``geo_angle``, ``geo_point_in_circle``,
``geo_point_in_polygon``, ``geo_distance_point_to_line``, ``geo_distance_point_to_polygon``,
``geo_closest_point_on_line``, ``geo_closest_point_on_polygon``, ``geo_point_buffer``.

Distances are great-circle distances on S2's earth sphere (6,371,010 m), which reproduces Kusto's
published values (``geo_distance_2points(-122.407628, 47.578557, -118.275287, 34.019056)`` is
1546754.3519738095 m); ``use_spheroid`` measures the WGS-84 ellipsoid geodesic instead (Vincenty's
inverse formula). Azimuths and angles are in radians, clockwise from north. Invalid coordinates,
shapes, radii or tolerances give null, as documented.
"""

from __future__ import annotations

import math
from typing import Any

import s2geometry as s2

from . import geo_model as gm
from .common import K
from .geo_udf import geo_function

R, L, S, D, B = K.REAL, K.LONG, K.STRING, K.DYNAMIC, K.BOOL
TWO_PI = 2.0 * math.pi


def _latlng(lng: Any, lat: Any) -> Any:
    if not gm.valid_lnglat(lng, lat):
        raise gm.invalid("invalid coordinates")
    return s2.S2LatLng.FromDegrees(lat, lng)


# ------------------------------------------------------------------------------- distances

_WGS84_A = 6378137.0
_WGS84_F = 1 / 298.257223563


def spheroid_distance(lng1: float, lat1: float, lng2: float, lat2: float) -> float:
    """The WGS-84 geodesic distance in meters (Vincenty's inverse formula)."""
    a, f = _WGS84_A, _WGS84_F
    b = a * (1 - f)
    big_l = math.radians(lng2 - lng1)
    u1 = math.atan((1 - f) * math.tan(math.radians(lat1)))
    u2 = math.atan((1 - f) * math.tan(math.radians(lat2)))
    sin_u1, cos_u1, sin_u2, cos_u2 = math.sin(u1), math.cos(u1), math.sin(u2), math.cos(u2)
    lam = big_l
    for _ in range(200):
        sin_lam, cos_lam = math.sin(lam), math.cos(lam)
        sin_sigma = math.hypot(cos_u2 * sin_lam, cos_u1 * sin_u2 - sin_u1 * cos_u2 * cos_lam)
        if sin_sigma == 0:
            return 0.0
        cos_sigma = sin_u1 * sin_u2 + cos_u1 * cos_u2 * cos_lam
        sigma = math.atan2(sin_sigma, cos_sigma)
        sin_alpha = cos_u1 * cos_u2 * sin_lam / sin_sigma
        cos2_alpha = 1 - sin_alpha * sin_alpha
        cos_2sm = cos_sigma - 2 * sin_u1 * sin_u2 / cos2_alpha if cos2_alpha else 0.0
        c = f / 16 * cos2_alpha * (4 + f * (4 - 3 * cos2_alpha))
        previous = lam
        lam = big_l + (1 - c) * f * sin_alpha * (
            sigma + c * sin_sigma * (cos_2sm + c * cos_sigma * (-1 + 2 * cos_2sm**2))
        )
        if abs(lam - previous) < 1e-13:
            break
    else:  # nearly antipodal: no convergence; the sphere's answer is the best available
        return gm.meters(s2.S2LatLng.FromDegrees(lat1, lng1).GetDistance(s2.S2LatLng.FromDegrees(lat2, lng2)).radians())
    u_sq = cos2_alpha * (a * a - b * b) / (b * b)
    big_a = 1 + u_sq / 16384 * (4096 + u_sq * (-768 + u_sq * (320 - 175 * u_sq)))
    big_b = u_sq / 1024 * (256 + u_sq * (-128 + u_sq * (74 - 47 * u_sq)))
    delta_sigma = (
        big_b
        * sin_sigma
        * (
            cos_2sm
            + big_b
            / 4
            * (
                cos_sigma * (-1 + 2 * cos_2sm**2)
                - big_b / 6 * cos_2sm * (-3 + 4 * sin_sigma**2) * (-3 + 4 * cos_2sm**2)
            )
        )
    )
    return b * big_a * (sigma - delta_sigma)


@geo_function("geo_distance_2points", (R, R, R, R, B), R, required=4, defaults=(False,))
def geo_distance_2points(lng1: Any, lat1: Any, lng2: Any, lat2: Any, use_spheroid: Any) -> float | None:
    a, b = _latlng(lng1, lat1), _latlng(lng2, lat2)
    if use_spheroid:
        return spheroid_distance(lng1, lat1, lng2, lat2)
    return gm.meters(a.GetDistance(b).radians())


def azimuth(lng1: Any, lat1: Any, lng2: Any, lat2: Any) -> float:
    """Initial bearing from point 1 to point 2 in [0, 2pi); GeoInvalid when equal or antipodal."""
    a, b = _latlng(lng1, lat1), _latlng(lng2, lat2)
    pa, pb = a.ToPoint(), b.ToPoint()
    if gm.raw(pa) == gm.raw(pb) or a.GetDistance(b).radians() >= math.pi - 1e-15:
        raise gm.invalid("equal or antipodal points")
    phi1, phi2 = math.radians(lat1), math.radians(lat2)
    delta = math.radians(lng2 - lng1)
    y = math.sin(delta) * math.cos(phi2)
    x = math.cos(phi1) * math.sin(phi2) - math.sin(phi1) * math.cos(phi2) * math.cos(delta)
    if x == 0 and y == 0:
        raise gm.invalid("undefined azimuth")
    angle = math.atan2(y, x)
    return angle + TWO_PI if angle < 0 else angle


@geo_function("geo_azimuth", (R, R, R, R), R)
def geo_azimuth(lng1: Any, lat1: Any, lng2: Any, lat2: Any) -> float:
    return azimuth(lng1, lat1, lng2, lat2)


@geo_function("geo_angle", (R, R, R, R, R, R), R)
def geo_angle(lng1: Any, lat1: Any, lng2: Any, lat2: Any, lng3: Any, lat3: Any) -> float:
    # The clockwise angle at point 2 from the line towards point 1 to the line towards point 3.
    back = azimuth(lng2, lat2, lng1, lat1)
    forward = azimuth(lng2, lat2, lng3, lat3)
    angle = math.fmod(forward - back, TWO_PI)
    return angle + TWO_PI if angle < 0 else angle


@geo_function("geo_point_in_circle", (R, R, R, R, R), B)
def geo_point_in_circle(lng: Any, lat: Any, center_lng: Any, center_lat: Any, radius: Any) -> bool:
    p, c = _latlng(lng, lat), _latlng(center_lng, center_lat)
    if not gm.is_number(radius) or radius <= 0:
        raise gm.invalid("invalid radius")
    return gm.meters(p.GetDistance(c).radians()) <= radius


@geo_function("geo_point_in_polygon", (R, R, D), B)
def geo_point_in_polygon(lng: Any, lat: Any, polygon: str | None) -> bool:
    p = gm.point(lng, lat)
    return bool(gm.polygon(polygon).Contains(p))


# ------------------------------------------------------------------------ closest points


def closest_on_lines(p: Any, lines: tuple[Any, ...]) -> Any:
    """The point of the polylines closest to ``p``."""
    best, best_angle = None, math.inf
    for line in lines:
        candidate = line.Project(p)[0]
        angle = s2.S1Angle(candidate, p).radians()
        if angle < best_angle:
            best, best_angle = candidate, angle
    return best


@geo_function("geo_distance_point_to_line", (R, R, D), R)
def geo_distance_point_to_line(lng: Any, lat: Any, line: str | None) -> float:
    p = gm.point(lng, lat)
    closest = closest_on_lines(p, gm.lines(line))
    return gm.meters(s2.S1Angle(closest, p).radians())


@geo_function("geo_closest_point_on_line", (R, R, D), D)
def geo_closest_point_on_line(lng: Any, lat: Any, line: str | None) -> dict[str, Any]:
    p = gm.point(lng, lat)
    return gm.point_geojson(closest_on_lines(p, gm.lines(line)))


@geo_function("geo_distance_point_to_polygon", (R, R, D), R)
def geo_distance_point_to_polygon(lng: Any, lat: Any, polygon: str | None) -> float:
    p = gm.point(lng, lat)
    return gm.meters(gm.polygon(polygon).GetDistance(p).radians())


@geo_function("geo_closest_point_on_polygon", (R, R, D), D)
def geo_closest_point_on_polygon(lng: Any, lat: Any, polygon: str | None) -> dict[str, Any]:
    p = gm.point(lng, lat)
    shape = gm.polygon(polygon)
    if shape.Contains(p):
        return gm.lnglat_geojson(lng, lat)
    return gm.point_geojson(shape.Project(p))


# ---------------------------------------------------------------------------------- buffers

#: S2BufferOperation's smallest error fraction: Kusto's "no lower than 0.0001% of the radius".
MIN_ERROR_FRACTION = 1e-6


def buffer_options(radius: Any, tolerance: Any) -> Any:
    if not gm.is_number(radius) or radius <= 0 or not gm.is_number(tolerance) or tolerance <= 0:
        raise gm.invalid("invalid radius or tolerance")
    fraction = tolerance / radius
    if fraction < MIN_ERROR_FRACTION:
        raise gm.invalid("tolerance too small")
    options = s2.S2BufferOperationOptions()
    options.set_buffer_radius(s2.S1Angle.Radians(gm.radians(radius)))
    options.set_error_fraction(min(fraction, 1.0))
    return options


def run_buffer(options: Any, add: Any) -> Any:
    result = s2.S2Polygon()
    operation = s2.S2BufferOperation(s2.S2PolygonLayer(result), options)
    add(operation)
    if not operation.Build():
        raise gm.invalid("buffer failed")
    return result


@geo_function("geo_point_buffer", (R, R, R, R), D, required=3, defaults=(10.0,))
def geo_point_buffer(lng: Any, lat: Any, radius: Any, tolerance: Any) -> dict[str, Any]:
    p = gm.point(lng, lat)
    options = buffer_options(radius, tolerance)
    return gm.polygon_geojson(run_buffer(options, lambda op: op.AddPoint(p)))
