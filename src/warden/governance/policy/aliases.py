"""Policy aliases: ``Microsoft.Network/networkSecurityGroups/securityRules[*].access`` -> a JSON path.

An alias names a property of one resource type; its path is resolved in the request payload
(``properties.securityRules[*].properties.access``). ``[*]`` selects every element of an array.

Warden ships a modest table (``aliases.json``, package data) for the resource types it implements
or will soon: virtual networks and subnets, network security groups and rules, network
interfaces, public IP addresses, virtual machines, managed identities, Log Analytics workspaces,
Recovery Services vaults and diagnostic settings. It was filtered from the table converted from
``Get-AzPolicyAlias`` output (``../shared/corpus/policy/aliases.json``): every alias of those types
whose name has at most three levels below the type (``a[*].b.c``), plus every deeper one a
built-in definition uses.
:func:`load_aliases` reads a full table (that file, or Azure's
``GET /providers?$expand=resourceTypes/aliases`` output) so ``warden policy aliases import`` can
extend it.

An alias that is not in the table resolves by Azure's usual convention when the resource is of the
alias's type: ``Namespace/type/a.b`` -> ``properties.a.b``, and the walk steps into an element's
``properties`` when a name is only found there (ARM sub-resources such as security rules nest
their fields that way). An alias of another type selects nothing (the field is missing).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import Any

from .errors import AliasTableError

__all__ = ["STAR", "AliasTable", "default_aliases", "load_aliases", "parse_path"]

STAR = "[*]"
"""Path segment meaning "every element of this array"."""


@lru_cache(maxsize=65_536)
def parse_path(text: str) -> tuple[str, ...]:
    """Split ``properties.rules[*].name`` into ``('properties', 'rules', '[*]', 'name')``."""
    segments: list[str] = []
    for part in text.split("."):
        name, bracket, rest = part.partition("[")
        if name:
            segments.append(name)
        if bracket:
            segments.extend([STAR] * ("[" + rest).count(STAR))
    return tuple(segments)


class _Alias:
    __slots__ = ("by_type", "default", "name", "owner")

    def __init__(self, name: str, default: str | None, by_type: Mapping[str, str] | None) -> None:
        self.name = name
        segments = name.split("/")
        self.owner = "/".join(segments[:-1]).lower() if len(segments) > 2 else None
        self.default = parse_path(default) if default else None
        self.by_type = {t.lower(): parse_path(p) for t, p in (by_type or {}).items()}


class AliasTable:
    """Alias name -> path, per resource type; names and types are case-insensitive."""

    def __init__(self, entries: Mapping[str, Mapping[str, Any]] | None = None) -> None:
        self._raw: dict[str, dict[str, Any]] = {}
        self._aliases: dict[str, _Alias] = {}
        self._cache: dict[tuple[str, str], tuple[str, ...] | None] = {}
        for name, entry in (entries or {}).items():
            self._add(name, entry)

    def _add(self, name: str, entry: Mapping[str, Any]) -> None:
        if not isinstance(entry, Mapping):
            raise AliasTableError(f"alias {name!r}: expected an object with 'defaultPath'")
        raw = {"defaultPath": entry.get("defaultPath")}
        if entry.get("byResourceType"):
            raw["byResourceType"] = dict(entry["byResourceType"])
        self._raw[name] = raw
        self._aliases[name.lower()] = _Alias(name, raw["defaultPath"], raw.get("byResourceType"))
        self._cache.clear()

    def __len__(self) -> int:
        return len(self._aliases)

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._aliases

    def names(self) -> list[str]:
        """Every alias name, sorted."""
        return sorted(self._raw)

    def to_json(self) -> dict[str, dict[str, Any]]:
        """The table in the shape :func:`load_aliases` reads (``{alias: {"defaultPath": ...}}``)."""
        return {name: dict(self._raw[name]) for name in sorted(self._raw)}

    def merged(self, other: AliasTable) -> AliasTable:
        """A new table with this table's aliases overridden by ``other``'s."""
        table = AliasTable(self._raw)
        for name, entry in other._raw.items():
            table._add(name, entry)
        return table

    def path(self, alias: str, resource_type: str) -> tuple[str, ...] | None:
        """The path ``alias`` selects on a resource of ``resource_type``; None when it doesn't apply."""
        key = (alias.lower(), resource_type.lower())
        try:
            return self._cache[key]
        except KeyError:
            pass
        result = self._resolve(alias, *key)
        if len(self._cache) > 100_000:
            self._cache.clear()
        self._cache[key] = result
        return result

    def _resolve(self, original: str, alias: str, resource_type: str) -> tuple[str, ...] | None:
        entry = self._aliases.get(alias)
        if entry is None:
            segments = original.split("/")
            if len(segments) > 2 and "/".join(segments[:-1]).lower() == resource_type:
                return ("properties", *parse_path(segments[-1]))
            return None
        if resource_type in entry.by_type:
            return entry.by_type[resource_type]
        if entry.by_type and entry.owner is None:
            return None
        if entry.owner is None:
            namespace = alias.split("/", 1)[0]
            return entry.default if resource_type.startswith(namespace + "/") else None
        return entry.default if entry.owner == resource_type else None


def _provider_entries(providers: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Convert Azure's provider listing (``resourceTypes[].aliases[]``) into the table's shape."""
    entries: dict[str, dict[str, Any]] = {}
    for provider in providers:
        if not isinstance(provider, Mapping) or not isinstance(provider.get("resourceTypes") or [], list):
            raise AliasTableError("a provider listing needs objects with 'namespace' and a 'resourceTypes' array")
        namespace = provider.get("namespace", "")
        for resource_type in provider.get("resourceTypes") or []:
            if not isinstance(resource_type, Mapping) or not isinstance(resource_type.get("aliases") or [], list):
                raise AliasTableError(f"{namespace}: each resource type needs an 'aliases' array")
            full_type = f"{namespace}/{resource_type.get('resourceType', '')}"
            for alias in resource_type.get("aliases") or []:
                if not isinstance(alias, Mapping):
                    raise AliasTableError(f"{full_type}: each alias must be an object")
                name = alias.get("name")
                paths = alias.get("paths") or []
                path = alias.get("defaultPath") or (paths[0].get("path") if paths else None)
                if not name or not path:
                    continue
                entry = entries.setdefault(name, {"defaultPath": path, "byResourceType": {}})
                entry["byResourceType"][full_type] = path
    return entries


def load_aliases(source: str | Path | Mapping[str, Any] | list[Any]) -> AliasTable:
    """Read an alias table from a file path or a parsed JSON value.

    Accepts ``{alias: {"defaultPath": ..., "byResourceType": {...}}}`` (Warden's and the corpus's
    shape) and Azure's provider listing (``{"value": [{"namespace", "resourceTypes": [...]}]}``, a
    single provider or a list of them). Raises :class:`AliasTableError` for anything else.
    """
    data: Any = source
    if isinstance(source, str | Path):
        try:
            data = json.loads(Path(source).read_text(encoding="utf-8-sig"))
        except (OSError, ValueError) as exc:
            raise AliasTableError(f"cannot read alias table {source}: {exc}") from exc
    if isinstance(data, Mapping) and "value" in data and isinstance(data["value"], list):
        return AliasTable(_provider_entries(data["value"]))
    if isinstance(data, Mapping) and "resourceTypes" in data:
        return AliasTable(_provider_entries([data]))
    if isinstance(data, list):
        return AliasTable(_provider_entries(data))
    if isinstance(data, Mapping):
        return AliasTable(data)
    raise AliasTableError("an alias table must be a JSON object or a list of providers")


@lru_cache(maxsize=1)
def default_aliases() -> AliasTable:
    """The table shipped with Warden (package data ``aliases.json``)."""
    text = resources.files(__package__).joinpath("aliases.json").read_text(encoding="utf-8")
    return AliasTable(json.loads(text))
