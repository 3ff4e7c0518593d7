"""Fields: what a ``field`` condition or ``field()`` call selects on the resource.

Supported: ``name``, ``fullName``, ``kind``, ``type``, ``location``, ``id``, ``identity.type``,
``tags``, ``tags['x']`` / ``tags[x]`` / ``tags.x`` / ``tags['''x''']``, property aliases
(``Namespace/type/path``, resolved through the alias table) and, for anything else, a plain JSON
path on the payload (``identity.userAssignedIdentities``).

Array aliases (``[*]``) select a *collection*: every element (arrays nested under ``[*]`` are
flattened, a missing array is an empty collection, and an element without the property selects
``None``). Inside ``count.where`` the counted array is *bound*: references to it, or to paths
below it, select from the current element only (still as a one-value collection), as Azure's
"as if the element were the only member of the array" rule says.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from ..expressions.values import get_property
from .aliases import STAR, AliasTable, parse_path

__all__ = ["Binding", "FieldRef", "parse_field", "select"]

_SPECIAL = {"name", "fullname", "kind", "type", "location", "id"}
_TAG_BRACKET = re.compile(r"^tags\[(.*)\]$", re.IGNORECASE | re.DOTALL)


@dataclass(frozen=True, slots=True)
class FieldRef:
    """A parsed field. ``kind`` is one of: special, tags, tag, alias, path."""

    text: str
    kind: str
    key: str = ""  # special field name, tag name, or alias name
    path: tuple[str, ...] = ()  # for kind == "path"

    @property
    def is_collection(self) -> bool:
        """Whether the field selects a collection of values (an array alias with ``[*]``)."""
        return STAR in self.text

    @property
    def is_location(self) -> bool:
        return self.kind == "special" and self.key == "location"


@lru_cache(maxsize=16_384)
def parse_field(text: str) -> FieldRef:
    """Parse a field name; raises ValueError for one that can't name anything."""
    stripped = text.strip()
    lowered = stripped.lower()
    if not stripped:
        raise ValueError("a field name can't be empty")
    if lowered in _SPECIAL:
        return FieldRef(stripped, "special", lowered)
    if lowered == "identity.type":
        return FieldRef(stripped, "path", path=("identity", "type"))
    if lowered == "tags":
        return FieldRef(stripped, "tags")
    match = _TAG_BRACKET.match(stripped)
    if match:
        inner = match.group(1)
        if len(inner) >= 2 and inner.startswith("'") and inner.endswith("'"):
            inner = inner[1:-1].replace("''", "'")
        # An empty name (a tag-name parameter left at its "" default) selects no tag.
        return FieldRef(stripped, "tag", inner)
    if lowered.startswith("tags."):
        return FieldRef(stripped, "tag", stripped[5:])
    if "/" in stripped:
        namespace = stripped.split("/", 1)[0]
        if not namespace or " " in stripped:
            raise ValueError(f"{text!r} is not a valid alias")
        return FieldRef(stripped, "alias", stripped)
    if not re.fullmatch(r"[A-Za-z0-9_$@\-]+(\[\*\])*(\.[A-Za-z0-9_$@\-]+(\[\*\])*)*", stripped):
        raise ValueError(f"{text!r} is not a field, a tag or an alias")
    return FieldRef(stripped, "path", path=parse_path(stripped))


@dataclass(frozen=True, slots=True)
class Binding:
    """One ``count`` iteration: the counted path (lower-cased segments) and the current element."""

    prefix: tuple[str, ...]
    element: Any
    name: str | None = None  # the value count's index name
    alias: str | None = None  # the field count's alias (lower-cased)


def _step(value: Any, segment: str, lenient: bool) -> Any:
    if not isinstance(value, dict):
        return None
    found, result = get_property(value, segment)
    if not found and lenient:
        inner = get_property(value, "properties")[1]
        if isinstance(inner, dict):
            return get_property(inner, segment)[1]
    return result


def _walk(start: Any, segments: tuple[str, ...], lenient: bool) -> list[Any]:
    values = [start]
    for segment in segments:
        if segment == STAR:
            values = [item for value in values if isinstance(value, list) for item in value]
        else:
            values = [_step(value, segment, lenient) for value in values]
    return values


def select(
    resource: dict[str, Any], segments: tuple[str, ...], bindings: tuple[Binding, ...] = (), lenient: bool = False
) -> tuple[list[Any], bool]:
    """Values selected by ``segments`` on ``resource`` under the ``count`` bindings.

    Returns ``(values, bound)``: for a path without ``[*]`` a one-value list; ``bound`` tells
    whether a binding supplied the start of the path. ``lenient`` (for aliases missing from the
    table) steps into an object's ``properties`` when a name is only found there.
    """
    if bindings:
        lowered = tuple(s.lower() for s in segments)
        for binding in reversed(bindings):
            prefix = binding.prefix
            if prefix and lowered[: len(prefix)] == prefix:
                return _walk(binding.element, segments[len(prefix) :], lenient), True
    return _walk(resource, segments, lenient), False


def resolve_path(field: FieldRef, resource: dict[str, Any], aliases: AliasTable) -> tuple[str, ...] | None:
    """The JSON path a field selects on ``resource`` (None when an alias doesn't apply to its type)."""
    if field.kind == "path":
        return field.path
    if field.kind == "special":
        return (field.key,)
    if field.kind == "tags":
        return ("tags",)
    if field.kind == "alias":
        resource_type = resource.get("type")
        return aliases.path(field.key, resource_type if isinstance(resource_type, str) else "")
    return None
