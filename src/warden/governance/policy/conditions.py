"""Compiled condition trees: ``allOf``/``anyOf``/``not`` over ``field``, ``value`` and ``count`` leaves.

Each node has three entry points, all taking the evaluation state (:class:`~.evaluator.State`):

* ``eval(state) -> bool`` — the fast path used for every resource;
* ``explain(state) -> (bool, reasons)`` — the same answer plus the leaves that decided it
  (for ``allOf`` true: every child; false: the first false child; ``anyOf`` the reverse);
* ``applicable(state, considered, negated) -> bool`` — Azure's applicability rule for
  non-*IfNotExists effects: only ``type``/``name``/``kind`` field conditions in ``considered`` are
  evaluated; every other leaf "counts as true (or false when negated)", i.e. it never makes the
  rule inapplicable, whatever ``not`` surrounds it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..expressions import Node as ExprNode
from ..expressions import evaluate
from .errors import PolicyEvaluationError
from .fields import Binding, FieldRef, parse_field
from .operators import Operator, normalize_location

if TYPE_CHECKING:
    from .evaluator import State

__all__ = ["AllOf", "AnyOf", "Condition", "CountSpec", "Leaf", "Not", "Reason", "Value", "walk_leaves"]


@dataclass(frozen=True, slots=True)
class Value:
    """A JSON value from the definition; ``dynamic`` when it holds expressions to evaluate."""

    raw: Any
    node: ExprNode | None = None  # set when the whole value is one expression
    dynamic: bool = False

    def get(self, state: State) -> Any:
        if not self.dynamic:
            return self.raw
        if self.node is not None:
            return evaluate(self.node, state)
        return state.evaluate_value(self.raw)


@dataclass(slots=True)
class Reason:
    """One evaluated leaf: where it is, what it compared and what it found."""

    path: str
    operator: str
    expected: Any
    actual: Any
    result: bool
    field: str | None = None
    value: Any = None
    count: Any = None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"path": self.path}
        if self.field is not None:
            data["field"] = self.field
        if self.count is not None:
            data["count"] = self.count
        elif self.field is None:
            data["value"] = self.value
        data.update(
            {"operator": self.operator, "expected": self.expected, "actual": self.actual, "result": self.result}
        )
        return data


class AllOf:
    __slots__ = ("children", "path")

    def __init__(self, children: list[Condition], path: str) -> None:
        self.children = children
        self.path = path

    def eval(self, state: State) -> bool:
        return all(child.eval(state) for child in self.children)

    def explain(self, state: State) -> tuple[bool, list[Reason]]:
        reasons: list[Reason] = []
        for child in self.children:
            result, why = child.explain(state)
            if not result:
                return False, why
            reasons.extend(why)
        return True, reasons

    def applicable(self, state: State, considered: frozenset[str], negated: bool = False) -> bool:
        return all(child.applicable(state, considered, negated) for child in self.children)


class AnyOf:
    __slots__ = ("children", "path")

    def __init__(self, children: list[Condition], path: str) -> None:
        self.children = children
        self.path = path

    def eval(self, state: State) -> bool:
        return any(child.eval(state) for child in self.children)

    def explain(self, state: State) -> tuple[bool, list[Reason]]:
        reasons: list[Reason] = []
        for child in self.children:
            result, why = child.explain(state)
            if result:
                return True, why
            reasons.extend(why)
        return False, reasons

    def applicable(self, state: State, considered: frozenset[str], negated: bool = False) -> bool:
        return any(child.applicable(state, considered, negated) for child in self.children)


class Not:
    __slots__ = ("child", "path")

    def __init__(self, child: Condition, path: str) -> None:
        self.child = child
        self.path = path

    def eval(self, state: State) -> bool:
        return not self.child.eval(state)

    def explain(self, state: State) -> tuple[bool, list[Reason]]:
        result, why = self.child.explain(state)
        return not result, why

    def applicable(self, state: State, considered: frozenset[str], negated: bool = False) -> bool:
        return not self.child.applicable(state, considered, not negated)


@dataclass(slots=True)
class CountSpec:
    """``count``: over a field array alias (``field``) or a value array (``value`` + ``name``)."""

    field: FieldRef | None = None
    field_expr: ExprNode | None = None
    value: Value | None = None
    name: str | None = None
    where: Condition | None = None


@dataclass(slots=True)
class Leaf:
    """A condition: a source (``field``, ``value`` or ``count``), an operator and a target."""

    path: str
    operator: Operator
    target: Value
    field: FieldRef | None = None
    field_expr: ExprNode | None = None
    value: Value | None = None
    count: CountSpec | None = None
    source_text: Any = None

    # -- sources

    def _field_ref(self, state: State) -> FieldRef:
        if self.field is not None:
            return self.field
        name = evaluate(self.field_expr, state)
        if not isinstance(name, str):
            raise PolicyEvaluationError(f"The field expression at {self.path} produced {name!r}, not a field name")
        try:
            return parse_field(name)
        except ValueError as exc:
            raise PolicyEvaluationError(f"{self.path}: {exc}") from exc

    def _count(self, state: State) -> int:
        spec = self.count
        assert spec is not None
        if spec.value is not None:
            items = spec.value.get(state)
            if not isinstance(items, list):
                raise PolicyEvaluationError(f"count.value at {self.path} must be an array; got {items!r}"[:300])
            if spec.where is None:
                return len(items)
            name = (spec.name or "default").lower()
            total = 0
            for item in items:
                state.bindings = (*state.bindings, Binding((), item, name=name))
                try:
                    total += spec.where.eval(state)
                finally:
                    state.bindings = state.bindings[:-1]
            return total
        ref = spec.field if spec.field is not None else parse_field(str(evaluate(spec.field_expr, state)))
        prefix, items = state.count_items(ref)
        if spec.where is None:
            return len(items)
        total = 0
        alias = ref.key.lower()
        for item in items:
            state.bindings = (*state.bindings, Binding(prefix, item, alias=alias))
            try:
                total += spec.where.eval(state)
            finally:
                state.bindings = state.bindings[:-1]
        return total

    def _test(self, state: State) -> tuple[bool, Any, Any, str | None]:
        target = self.target.get(state)
        if self.count is not None:
            actual = self._count(state)
            return self.operator.test(actual, target), actual, target, None
        if self.value is not None:
            actual = self.value.get(state)
            return self.operator.test(actual, target), actual, target, None
        ref = self._field_ref(state)
        values, collection = state.field_values(ref)
        compared, against = values, target
        if ref.is_location:  # "East US 2" equals "eastus2"
            compared, against = [normalize_location(v) for v in values], normalize_location(target)
        test = self.operator.test
        if collection:
            return all(test(v, against) for v in compared), values, target, ref.text
        return test(compared[0], against), values[0], target, ref.text

    # -- entry points

    def eval(self, state: State) -> bool:
        return self._test(state)[0]

    def explain(self, state: State) -> tuple[bool, list[Reason]]:
        result, actual, target, field_text = self._test(state)
        reason = Reason(self.path, self.operator.name, target, actual, result)
        if self.count is not None:
            reason.count = self.source_text
        elif field_text is not None:
            reason.field = field_text
        else:
            reason.value = self.source_text
        return result, [reason]

    def considered(self, considered: frozenset[str]) -> bool:
        return self.field is not None and self.field.kind == "special" and self.field.key in considered

    def applicable(self, state: State, considered: frozenset[str], negated: bool = False) -> bool:
        if self.considered(considered):
            return self.eval(state)
        return not negated  # ignored: true, or false under a negation so that the "not" makes it true


Condition = AllOf | AnyOf | Not | Leaf


def walk_leaves(node: Condition):
    """Yield every leaf of a condition tree (not descending into ``count.where``)."""
    stack = [node]
    while stack:
        current = stack.pop()
        if isinstance(current, Leaf):
            yield current
        elif isinstance(current, Not):
            stack.append(current.child)
        else:
            stack.extend(current.children)
