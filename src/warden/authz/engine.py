"""The pure Azure RBAC evaluator.

Takes role definitions, role assignments and deny assignments as values and answers "may these
principals perform this action at this scope?" the way Azure Resource Manager does:

* scopes form a tree (tenant root "/" > subscription > resource group > resource > child
  resource; extension resources hang off the scope they extend) and an assignment applies to its
  scope and everything below it;
* effective access is the union of every applicable role assignment; within one permission block
  an action is granted when it matches an ``actions`` pattern and no ``notActions`` pattern
  (``notActions`` subtracts, it never denies: another block or role may still grant the action);
* ``dataActions`` are a separate namespace evaluated only for data-plane checks;
* deny assignments are evaluated first and win over every role, Owner included.

Patterns use Azure's wildcard: ``*`` matches any run of characters (``/`` included), matching is
case-insensitive and covers the whole string. Conditions (ABAC) are not evaluated.

This module imports only the standard library.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass
from functools import lru_cache

__all__ = [
    "EVERYONE",
    "AuthorizationEngine",
    "Decision",
    "DenyAssignment",
    "Permission",
    "RoleAssignment",
    "RoleDefinition",
    "action_matches",
    "normalize_scope",
    "permission_allows",
    "scope_ancestors",
]

EVERYONE = "00000000-0000-0000-0000-000000000000"
"""Deny-assignment principal id meaning "all principals" (Azure's convention)."""

_CACHE_LIMIT = 65_536  # per-object memo size before it is simply cleared


# --------------------------------------------------------------------------- value types


@dataclass(frozen=True, slots=True)
class Permission:
    """One permission block of a role definition or deny assignment."""

    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    data_actions: tuple[str, ...] = ()
    not_data_actions: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class RoleDefinition:
    """A role: named permission blocks. ``id`` is the GUID, compared case-insensitively."""

    id: str
    role_name: str
    permissions: tuple[Permission, ...]
    assignable_scopes: tuple[str, ...] = ("/",)
    role_type: str = "CustomRole"
    description: str = ""


@dataclass(frozen=True, slots=True)
class RoleAssignment:
    """A role granted to one principal at one scope. ``role_definition_id`` is the GUID."""

    id: str
    scope: str
    principal_id: str
    role_definition_id: str


@dataclass(frozen=True, slots=True)
class DenyAssignment:
    """Actions denied to principals at a scope (and, unless told otherwise, below it)."""

    id: str
    scope: str
    permissions: tuple[Permission, ...]
    principal_ids: tuple[str, ...]
    exclude_principal_ids: tuple[str, ...] = ()
    do_not_apply_to_child_scopes: bool = False
    name: str = ""


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer to one check, with a human sentence saying why."""

    allowed: bool
    reason: str
    role_assignment_id: str | None = None
    deny_assignment_id: str | None = None


# --------------------------------------------------------------------------- scopes


def normalize_scope(scope: str) -> str:
    """Return ``scope`` lower-cased without trailing "/" ("" and "/" give "/").

    Raises ValueError when ``scope`` is not a string or is non-empty and does not start with "/".
    """
    if not isinstance(scope, str):
        raise ValueError(f"scope must be a string, got {type(scope).__name__}")
    if scope and not scope.startswith("/"):
        raise ValueError(f"scope {scope!r} must start with '/'")
    return scope.rstrip("/").lower() or "/"


def _parent_segments(segs: tuple[str, ...]) -> tuple[str, ...]:
    """Return the segments of the parent scope of the (lower-cased) segments ``segs``."""
    # The keyword "providers" always sits at an even index (a type position); names sit at odd
    # ones, so a resource group or resource *named* "providers" is never mistaken for it.
    last = max((i for i in range(0, len(segs), 2) if segs[i] == "providers"), default=-1)
    if last >= 0:
        rest = len(segs) - last - 1  # namespace, then type/name pairs
        if rest <= 3:  # a top-level resource (or provider namespace): parent is what it extends
            return segs[:last]
        return segs[: len(segs) - (2 if (rest - 1) % 2 == 0 else 1)]
    return segs[: len(segs) - (2 if len(segs) % 2 == 0 else 1)]


@lru_cache(maxsize=_CACHE_LIMIT)
def _ancestors(normalized: str) -> tuple[str, ...]:
    segs = tuple(s for s in normalized.split("/") if s)
    out = []
    while segs:
        out.append("/" + "/".join(segs))
        segs = _parent_segments(segs)
    out.append("/")
    return tuple(out)


def scope_ancestors(scope: str) -> list[str]:
    """Return the normalized scope first, then each parent in turn, ending with "/".

    A child resource's parent is its resource; a top-level resource's parent is its resource
    group; an extension resource ``{scope}/providers/{Ns}/{type}/{name}`` has parent ``{scope}``
    (so "/providers/..." resources and management groups have parent "/").
    Raises ValueError as normalize_scope does.
    """
    return list(_ancestors(normalize_scope(scope)))


# --------------------------------------------------------------------------- patterns


@lru_cache(maxsize=_CACHE_LIMIT)
def _pattern_regex(patterns: tuple[str, ...]) -> re.Pattern[str] | None:
    """Compile lower-cased wildcard patterns into one alternation; None when there are none."""
    if not patterns:
        return None
    alts = sorted({".*".join(re.escape(part) for part in p.lower().split("*")) for p in patterns})
    return re.compile("(?:" + "|".join(alts) + ")", re.DOTALL)


def action_matches(pattern: str, action: str) -> bool:
    """Return True when ``action`` matches the Azure wildcard ``pattern`` (whole string, any case)."""
    rx = _pattern_regex((pattern,))
    return rx is not None and rx.fullmatch(action.lower()) is not None


class _Block:
    """A permission block compiled for fast matching of lower-cased actions."""

    __slots__ = ("actions", "data_actions", "not_actions", "not_data_actions")

    def __init__(self, p: Permission) -> None:
        self.actions = _pattern_regex(tuple(p.actions))
        self.not_actions = _pattern_regex(tuple(p.not_actions))
        self.data_actions = _pattern_regex(tuple(p.data_actions))
        self.not_data_actions = _pattern_regex(tuple(p.not_data_actions))

    def allows(self, action: str, data_action: bool) -> bool:
        """Return True when the block grants the lower-cased ``action``."""
        if data_action:
            grant, minus = self.data_actions, self.not_data_actions
        else:
            grant, minus = self.actions, self.not_actions
        if grant is None or grant.fullmatch(action) is None:
            return False
        return minus is None or minus.fullmatch(action) is None


def permission_allows(p: Permission, action: str, *, data_action: bool = False) -> bool:
    """Return True when block ``p`` grants ``action``: it matches an action pattern and no notAction.

    With ``data_action`` only dataActions/notDataActions are consulted.
    """
    return _Block(p).allows(action.lower(), data_action)


class _CompiledRules:
    """Permission blocks compiled once, with a memo of answers per (action, data_action)."""

    __slots__ = ("blocks", "memo")

    def __init__(self, permissions: Iterable[Permission]) -> None:
        self.blocks = tuple(_Block(p) for p in permissions)
        self.memo: dict[tuple[str, bool], bool] = {}

    def allows(self, action: str, data_action: bool) -> bool:
        """Return True when any block grants the lower-cased ``action``."""
        key = (action, data_action)
        hit = self.memo.get(key)
        if hit is None:
            if len(self.memo) >= _CACHE_LIMIT:
                self.memo.clear()
            hit = self.memo[key] = any(b.allows(action, data_action) for b in self.blocks)
        return hit


# --------------------------------------------------------------------------- the engine


@dataclass(frozen=True, slots=True)
class _Grant:
    assignment: RoleAssignment
    role: RoleDefinition
    rules: _CompiledRules


@dataclass(frozen=True, slots=True)
class _Deny:
    assignment: DenyAssignment
    scope: str
    principals: frozenset[str]
    everyone: bool
    excluded: frozenset[str]
    rules: _CompiledRules


def _ids(principal_ids: Iterable[str]) -> frozenset[str]:
    if isinstance(principal_ids, str):  # a lone id is a common slip; treat it as one principal
        return frozenset((principal_ids.lower(),))
    return frozenset(p.lower() for p in principal_ids)


class AuthorizationEngine:
    """Evaluates checks against a fixed snapshot of definitions and assignments.

    Build a new engine when assignments change; construction indexes assignments by principal and
    scope and compiles each role's patterns once, and each role memoizes its answers per action.
    Assignments naming an unknown role definition are ignored (they grant nothing); construction
    raises ValueError when an assignment or deny assignment has a malformed scope.
    """

    def __init__(
        self,
        role_definitions: Iterable[RoleDefinition],
        role_assignments: Iterable[RoleAssignment],
        deny_assignments: Iterable[DenyAssignment] = (),
    ) -> None:
        roles: dict[str, tuple[RoleDefinition, _CompiledRules]] = {}
        for role in role_definitions:
            roles[role.id.lower()] = (role, _CompiledRules(role.permissions))
        self._roles = roles

        # principal -> normalized scope -> grants. Unknown role ids grant nothing and are dropped.
        self._grants: dict[str, dict[str, list[_Grant]]] = {}
        for ra in role_assignments:
            # The GUID; a full ".../roleDefinitions/{guid}" id is tolerated and reduced to it.
            known = roles.get(ra.role_definition_id.rstrip("/").rsplit("/", 1)[-1].lower())
            if known is None:
                continue
            by_scope = self._grants.setdefault(ra.principal_id.lower(), {})
            by_scope.setdefault(normalize_scope(ra.scope), []).append(_Grant(ra, *known))

        self._denies: dict[str, list[_Deny]] = {}
        for da in deny_assignments:
            principals = frozenset(p.lower() for p in da.principal_ids)
            scope = normalize_scope(da.scope)
            entry = _Deny(
                assignment=da,
                scope=scope,
                principals=principals,
                everyone=EVERYONE in principals,
                excluded=frozenset(p.lower() for p in da.exclude_principal_ids),
                rules=_CompiledRules(da.permissions),
            )
            self._denies.setdefault(scope, []).append(entry)

    # ----------------------------------------------------------------- queries

    def check(self, principal_ids: Iterable[str], action: str, scope: str, *, data_action: bool = False) -> Decision:
        """Decide whether any of ``principal_ids`` may perform ``action`` at ``scope``.

        Deny assignments are consulted first; then role assignments at the scope and each
        ancestor, nearest first. Returns a Decision naming the deny assignment or role assignment
        responsible, or saying that nothing grants the action. Raises ValueError on a bad scope.
        """
        target = normalize_scope(scope)
        ancestors = _ancestors(target)
        ids = _ids(principal_ids)
        act = action.lower()
        kind = "data action" if data_action else "action"

        if self._denies:
            for anc in ancestors:
                for deny in self._denies.get(anc, ()):
                    if deny.assignment.do_not_apply_to_child_scopes and anc != target:
                        continue
                    if not (deny.everyone or not deny.principals.isdisjoint(ids)):
                        continue
                    if not deny.excluded.isdisjoint(ids) or not deny.rules.allows(act, data_action):
                        continue
                    da = deny.assignment
                    label = f"{da.name!r} ({da.id})" if da.name else repr(da.id)
                    return Decision(
                        False,
                        f"Deny assignment {label} at scope {da.scope!r} denies {kind} {action!r}.",
                        deny_assignment_id=da.id,
                    )

        grant_maps = [m for m in map(self._grants.get, ids) if m]
        for anc in ancestors:
            for by_scope in grant_maps:
                for g in by_scope.get(anc, ()):
                    if g.rules.allows(act, data_action):
                        ra = g.assignment
                        return Decision(
                            True,
                            f"Role {g.role.role_name!r} assigned to {ra.principal_id} at scope "
                            f"{ra.scope!r} ({ra.id}) grants {kind} {action!r}.",
                            role_assignment_id=ra.id,
                        )
        return Decision(False, f"No role assignment at {scope!r} or above grants {kind} {action!r} to the caller.")

    def _applicable(self, principal_ids: Iterable[str], scope: str) -> list[_Grant]:
        ancestors = _ancestors(normalize_scope(scope))
        grant_maps = [m for m in map(self._grants.get, _ids(principal_ids)) if m]
        return [g for anc in ancestors for m in grant_maps for g in m.get(anc, ())]

    def permissions_at(self, principal_ids: Iterable[str], scope: str) -> list[Permission]:
        """Return the permission blocks of every role assigned to the principals at ``scope`` or above.

        Nearest scope first; a role assigned several times contributes its blocks once. Deny
        assignments are not subtracted (Azure's permissions API does not either).
        Raises ValueError on a bad scope.
        """
        seen: set[str] = set()
        out: list[Permission] = []
        for g in self._applicable(principal_ids, scope):
            key = g.role.id.lower()
            if key not in seen:
                seen.add(key)
                out.extend(g.role.permissions)
        return out

    def has_any_role_at(self, principal_ids: Iterable[str], scope: str) -> bool:
        """Return True when some known role is assigned to the principals at ``scope`` or above.

        Raises ValueError on a bad scope.
        """
        return bool(self._applicable(principal_ids, scope))

    def assignment_scopes(self, principal_ids: Iterable[str]) -> list[str]:
        """Return the normalized scopes at which the principals hold a known role (sorted)."""
        scopes = {s for m in map(self._grants.get, _ids(principal_ids)) if m for s in m}
        return sorted(scopes)

    def has_any_role_within(self, principal_ids: Iterable[str], scope: str) -> bool:
        """Return True when the principals hold a known role at ``scope``, above it or below it."""
        if self.has_any_role_at(principal_ids, scope):
            return True
        target = normalize_scope(scope)
        prefix = "/" if target == "/" else target + "/"
        return any(s.startswith(prefix) for s in self.assignment_scopes(principal_ids))
