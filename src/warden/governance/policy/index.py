"""An index of policies by the resource types their ``if`` can match.

Most definitions start with ``field: type, equals: X`` (or ``in``): on any other type the ``if`` is
false and the policy doesn't apply (``NotApplicable``), so evaluating it is wasted work. The
index keeps, per lower-cased type, the items whose definition can match it, plus the items whose
definition can match any type (``required_types`` None); :meth:`TypeIndex.candidates` returns
both in insertion order. With Azure's built-ins about 1 % of definitions match any type, so a
resource is checked against a small fraction of the assignments (see ``bench/policy_eval.py``).

Skipping a non-candidate is exact, not a heuristic: ``required_types`` is only derived from
literal ``type`` conditions that every match must satisfy (:func:`definition._required_types`).
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Generic, TypeVar

from .definition import PolicyDefinition

__all__ = ["TypeIndex"]

T = TypeVar("T")


class TypeIndex(Generic[T]):
    """Items (assignments, initiative members...) keyed by the types their definitions can match."""

    def __init__(self, items: Iterable[tuple[T, PolicyDefinition | frozenset[str] | None]] = ()) -> None:
        self._seq = 0
        self._any: list[tuple[int, T]] = []
        self._typed: dict[str, list[tuple[int, T]]] = {}
        self._cache: dict[str, list[T]] = {}
        for item, types in items:
            self.add(item, types)

    def add(self, item: T, types: PolicyDefinition | frozenset[str] | None) -> None:
        """Index ``item`` under a definition's ``required_types`` (or an explicit set; None: any type)."""
        if isinstance(types, PolicyDefinition):
            types = types.required_types
        entry = (self._seq, item)
        self._seq += 1
        if types is None:
            self._any.append(entry)
        else:
            for resource_type in types:
                self._typed.setdefault(resource_type.lower(), []).append(entry)
        self._cache.clear()

    def __len__(self) -> int:
        return self._seq

    def candidates(self, resource_type: str | None) -> list[T]:
        """The items that may apply to a resource of ``resource_type``, in insertion order."""
        lowered = (resource_type or "").lower()
        found = self._cache.get(lowered)
        if found is None:
            typed = self._typed.get(lowered, [])
            merged = sorted(self._any + typed, key=lambda entry: entry[0]) if typed else self._any
            found = [item for _, item in merged]
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[lowered] = found
        return found
