"""The function registry: every function the language knows, and which contexts may call it.

Function names are case-insensitive. Each function carries the set of contexts it is allowed in:
``POLICY`` (policy rules) and ``TEMPLATE`` (ARM templates, including the ``deployment`` template
of a deployIfNotExists policy). Azure's policy language allows every template function except a
documented list (``reference``, ``resourceId``, ``listKeys``/``list*``, ``deployment``,
``variables``, ``copyIndex``, ``newGuid``, ``utcNow(format)``, lambdas, ...) and adds its own
(``field``, ``current``, ``requestContext``, ``policy``, ``addDays``, ``ipRangeContains``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Any

__all__ = [
    "POLICY_FORBIDDEN",
    "FunctionScope",
    "FunctionSpec",
    "Registry",
    "registry",
]


class FunctionScope(StrEnum):
    """Where an expression is evaluated; decides which functions it may call."""

    POLICY = "policy"
    TEMPLATE = "template"

    @property
    def description(self) -> str:
        return "policy rules" if self is FunctionScope.POLICY else "templates"


BOTH = frozenset({FunctionScope.POLICY, FunctionScope.TEMPLATE})
POLICY_ONLY = frozenset({FunctionScope.POLICY})
TEMPLATE_ONLY = frozenset({FunctionScope.TEMPLATE})

# Azure Policy's documented list of template functions a policy rule may not use (besides list*
# and user-defined functions). The lambda-taking functions are refused because lambda() is.
POLICY_FORBIDDEN = frozenset(
    name.lower()
    for name in (
        "copyIndex",
        "dateTimeAdd",
        "dateTimeFromEpoch",
        "dateTimeToEpoch",
        "deployment",
        "environment",
        "extensionResourceId",
        "lambda",
        "lambdaVariables",
        "filter",
        "map",
        "mapValues",
        "reduce",
        "sort",
        "groupBy",
        "toObject",
        "listAccountSas",
        "listKeys",
        "listSecrets",
        "managementGroup",
        "managementGroupResourceId",
        "newGuid",
        "pickZones",
        "providers",
        "reference",
        "references",
        "resourceId",
        "subscriptionResourceId",
        "tenantResourceId",
        "tenant",
        "variables",
    )
)


@dataclass(frozen=True, slots=True)
class FunctionSpec:
    """One function: canonical name, implementation, arity and the contexts allowed to call it.

    ``impl(ctx, args)`` receives evaluated arguments, or for a ``lazy`` function zero-argument
    callables that evaluate each argument on demand (``if``, ``and``, ``or``, ``coalesce``).
    """

    name: str
    impl: Callable[[Any, list[Any]], Any]
    min_args: int = 0
    max_args: int | None = None
    lazy: bool = False
    scopes: frozenset[FunctionScope] = BOTH

    def arity_text(self) -> str:
        if self.max_args == self.min_args:
            return f"{self.min_args} argument{'s' if self.min_args != 1 else ''}"
        if self.max_args is None:
            return f"at least {self.min_args} argument{'s' if self.min_args != 1 else ''}"
        return f"between {self.min_args} and {self.max_args} arguments"


class Registry:
    """Case-insensitive table of :class:`FunctionSpec`; ``list*`` names resolve to the ``list`` entry."""

    def __init__(self) -> None:
        self._specs: dict[str, FunctionSpec] = {}

    def add(
        self,
        name: str,
        impl: Callable[[Any, list[Any]], Any],
        min_args: int = 0,
        max_args: int | None = None,
        *,
        lazy: bool = False,
        scopes: frozenset[FunctionScope] = BOTH,
    ) -> None:
        if name.lower() in POLICY_FORBIDDEN:
            scopes = scopes - POLICY_ONLY
        self._specs[name.lower()] = FunctionSpec(name, impl, min_args, max_args, lazy, scopes)

    def function(
        self,
        name: str,
        min_args: int = 0,
        max_args: int | None = None,
        *,
        lazy: bool = False,
        scopes: frozenset[FunctionScope] = BOTH,
    ) -> Callable[[Callable[[Any, list[Any]], Any]], Callable[[Any, list[Any]], Any]]:
        """Decorator form of :meth:`add`."""

        def register(impl: Callable[[Any, list[Any]], Any]) -> Callable[[Any, list[Any]], Any]:
            self.add(name, impl, min_args, max_args, lazy=lazy, scopes=scopes)
            return impl

        return register

    def get(self, name: str) -> FunctionSpec | None:
        """Return the spec for ``name`` (any case), ``list*`` included, or None."""
        key = name.lower()
        spec = self._specs.get(key)
        if spec is None and key.startswith("list") and len(key) > 4:
            spec = self._specs.get("list*")
        return spec

    def names(self, scope: FunctionScope | None = None) -> list[str]:
        """Canonical names of the functions allowed in ``scope`` (all when None), sorted."""
        return sorted(s.name for s in self._specs.values() if scope is None or scope in s.scopes)


registry = Registry()
"""The one registry every built-in function module adds itself to."""
