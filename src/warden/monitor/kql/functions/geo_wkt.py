"""``geo_from_wkt``: Well-known text (WKT) to a GeoJSON dynamic value.

Reads ``POINT``, ``LINESTRING``, ``POLYGON``, ``MULTIPOINT``, ``MULTILINESTRING``,
``MULTIPOLYGON`` and ``GEOMETRYCOLLECTION`` (case-insensitive, ``EMPTY`` members, an optional
``Z``/``M``/``ZM`` whose extra ordinates are kept); coordinates are written as reals. Text that is
not WKT, or a shape that breaks GeoJSON's rules (a line of one point, an unclosed ring), is null.
"""

from __future__ import annotations

import re
from typing import Any

from . import geo_model as gm
from .common import K
from .geo_udf import geo_function

_TOKEN = re.compile(r"\s*(?:([A-Za-z]+)|([-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?)|([(),]))")
_KINDS = {
    "POINT": "Point",
    "LINESTRING": "LineString",
    "POLYGON": "Polygon",
    "MULTIPOINT": "MultiPoint",
    "MULTILINESTRING": "MultiLineString",
    "MULTIPOLYGON": "MultiPolygon",
    "GEOMETRYCOLLECTION": "GeometryCollection",
}


class _Reader:
    def __init__(self, text: str) -> None:
        self.tokens: list[tuple[str, str]] = []
        position = 0
        text = text.rstrip()
        while position < len(text):
            match = _TOKEN.match(text, position)
            if not match or match.end() == position:
                raise gm.invalid("not WKT")
            word, number, punct = match.groups()
            self.tokens.append(("word", word.upper()) if word else ("number", number) if number else ("punct", punct))
            position = match.end()
        self.index = 0

    def peek(self) -> tuple[str, str] | None:
        return self.tokens[self.index] if self.index < len(self.tokens) else None

    def take(self, kind: str, value: str | None = None) -> str:
        token = self.peek()
        if token is None or token[0] != kind or (value is not None and token[1] != value):
            raise gm.invalid("not WKT")
        self.index += 1
        return token[1]

    def accept(self, value: str) -> bool:
        token = self.peek()
        if token is not None and token[1] == value:
            self.index += 1
            return True
        return False

    def empty(self) -> bool:
        return self.accept("EMPTY")

    def position(self) -> list[float]:
        values = [float(self.take("number"))]
        while self.peek() is not None and self.peek()[0] == "number":  # type: ignore[index]
            values.append(float(self.take("number")))
        if len(values) < 2 or len(values) > 4:
            raise gm.invalid("bad coordinate")
        return values

    def positions(self) -> list[list[float]]:
        self.take("punct", "(")
        result = [self._point_item()]
        while self.accept(","):
            result.append(self._point_item())
        self.take("punct", ")")
        return result

    def _point_item(self) -> list[float]:
        # MULTIPOINT allows both "(1 1, 2 2)" and "((1 1), (2 2))"
        if self.accept("("):
            value = self.position()
            self.take("punct", ")")
            return value
        return self.position()

    def nested(self, depth: int) -> list[Any]:
        if depth == 1:
            return self.positions()
        self.take("punct", "(")
        result = [self.nested(depth - 1)]
        while self.accept(","):
            result.append(self.nested(depth - 1))
        self.take("punct", ")")
        return result

    def geometry(self) -> dict[str, Any]:
        name = self.take("word")
        kind = _KINDS.get(name)
        if kind is None:
            raise gm.invalid("unsupported WKT")
        token = self.peek()
        if token is not None and token[0] == "word" and token[1] in ("Z", "M", "ZM"):
            self.index += 1
        if kind == "GeometryCollection":
            geometries = []
            if not self.empty():
                self.take("punct", "(")
                geometries.append(self.geometry())
                while self.accept(","):
                    geometries.append(self.geometry())
                self.take("punct", ")")
            return {"type": kind, "geometries": geometries}
        if self.empty():
            return {"type": kind, "coordinates": []}
        depth = {"Point": 0, "LineString": 1, "MultiPoint": 1, "Polygon": 2, "MultiLineString": 2, "MultiPolygon": 3}
        if kind == "Point":
            self.take("punct", "(")
            coordinates: Any = self.position()
            self.take("punct", ")")
        else:
            coordinates = self.nested(depth[kind])
        _check(kind, coordinates)
        return {"type": kind, "coordinates": coordinates}


def _check(kind: str, coordinates: Any) -> None:
    lines = {"LineString": [coordinates], "MultiLineString": coordinates}.get(kind, [])
    for line in lines:
        if len(line) < 2:
            raise gm.invalid("a line needs two positions")
    polygons = {"Polygon": [coordinates], "MultiPolygon": coordinates}.get(kind, [])
    for rings in polygons:
        for ring in rings:
            if len(ring) < 4 or ring[0] != ring[-1]:
                raise gm.invalid("a ring must be closed")


@geo_function("geo_from_wkt", (K.STRING,), K.DYNAMIC)
def geo_from_wkt(text: Any) -> dict[str, Any]:
    if not isinstance(text, str) or not text.strip():
        raise gm.invalid("empty WKT")
    reader = _Reader(text)
    shape = reader.geometry()
    if reader.peek() is not None:
        raise gm.invalid("trailing text")
    return shape
