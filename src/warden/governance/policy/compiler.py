"""Static validation: turn the JSON of a policy rule into condition nodes, or say exactly what is wrong.

Every problem raises :class:`PolicyDefinitionError` with the JSON path of the offending value:
unknown or missing operators, malformed ``count``, bad field names, operator targets of the
wrong shape, malformed expressions, functions policy rules may not call, references to undeclared
parameters, ``current()`` outside ``count.where`` or naming no enclosing count.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..expressions import (
    Call,
    ExpressionError,
    FunctionNotAllowedError,
    FunctionScope,
    Literal,
    parse_value,
    resolve_function,
    walk,
)
from ..expressions import Node as ExprNode
from .conditions import AllOf, AnyOf, Condition, CountSpec, Leaf, Not, Value
from .errors import PolicyDefinitionError
from .fields import parse_field
from .operators import OPERATORS
from .parameters import Parameter

__all__ = ["Compiler", "CountScope"]

_LOGICAL = {"allof", "anyof", "not"}
_SOURCES = {"field", "value", "count"}
_INDEX_NAME = re.compile(r"^[A-Za-z0-9]+$")


@dataclass(frozen=True, slots=True)
class CountScope:
    """An enclosing ``count``: a value count's index name or a field count's alias (lower-cased)."""

    kind: str  # "value" | "field"
    key: str


def _describe(raw: Any) -> str:
    text = repr(raw)
    return text if len(text) <= 80 else text[:77] + "..."


class Compiler:
    """Compiles conditions and values of one definition against its declared parameters."""

    def __init__(self, parameters: Mapping[str, Parameter]) -> None:
        self.parameters = parameters

    # ------------------------------------------------------------------ expressions and values

    def expression(
        self, text: str, path: str, counts: tuple[CountScope, ...] = (), scope: FunctionScope = FunctionScope.POLICY
    ) -> ExprNode | None:
        """Check one string; return its expression tree, or None when it is a plain literal."""
        try:
            node = parse_value(text)
        except ExpressionError as exc:
            raise PolicyDefinitionError(path, f"invalid expression: {exc}") from exc
        if isinstance(node, Literal):
            return None
        for call in walk(node):
            if not isinstance(call, Call):
                continue
            if scope is FunctionScope.TEMPLATE and call.namespace is not None:
                continue  # user-defined template functions are the template engine's business
            try:
                resolve_function(call, scope)
            except FunctionNotAllowedError as exc:
                # A deployIfNotExists template may also call policy functions such as field(): the
                # policy engine resolves them before deploying (Azure's built-ins rely on it).
                if scope is not FunctionScope.TEMPLATE:
                    raise PolicyDefinitionError(path, str(exc)) from exc
                try:
                    resolve_function(call, FunctionScope.POLICY)
                except ExpressionError:
                    raise PolicyDefinitionError(path, str(exc)) from exc
            except ExpressionError as exc:
                raise PolicyDefinitionError(path, str(exc)) from exc
            if scope is FunctionScope.POLICY:
                self._check_call(call, path, counts)
        return node

    def _check_call(self, call: Call, path: str, counts: tuple[CountScope, ...]) -> None:
        literal = call.args[0].value if call.args and isinstance(call.args[0], Literal) else None
        key = call.key
        if key == "parameters" and isinstance(literal, str) and literal.lower() not in self.parameters:
            declared = ", ".join(p.name for p in self.parameters.values()) or "none"
            raise PolicyDefinitionError(path, f"unknown parameter '{literal}' (declared: {declared})")
        if key == "field" and isinstance(literal, str):
            try:
                parse_field(literal)
            except ValueError as exc:
                raise PolicyDefinitionError(path, f"field(): {exc}") from exc
        if key == "current":
            if not counts:
                raise PolicyDefinitionError(path, "current() can only be used inside a count's 'where'")
            if isinstance(literal, str) and not self._names_count(literal, counts):
                raise PolicyDefinitionError(
                    path, f"current('{literal}') names no enclosing count (neither an index name nor its array alias)"
                )

    @staticmethod
    def _names_count(name: str, counts: tuple[CountScope, ...]) -> bool:
        lowered = name.lower()
        for scope in counts:
            if scope.kind == "value" and lowered == scope.key:
                return True
            if scope.kind == "field" and (lowered == scope.key or lowered.startswith(scope.key)):
                return True
        return False

    def value(
        self, raw: Any, path: str, counts: tuple[CountScope, ...] = (), scope: FunctionScope = FunctionScope.POLICY
    ) -> Value:
        """Compile a JSON value; expression strings anywhere inside are checked and marked dynamic."""
        if isinstance(raw, str):
            node = self.expression(raw, path, counts, scope)
            if node is None:
                return Value(parse_value(raw).value)
            return Value(raw, node, True)
        if isinstance(raw, list | dict):
            return Value(raw, None, self._walk_strings(raw, path, counts, scope))
        return Value(raw)

    def _walk_strings(self, raw: Any, path: str, counts: tuple[CountScope, ...], scope: FunctionScope) -> bool:
        if isinstance(raw, str):
            if raw.startswith("["):
                self.expression(raw, path, counts, scope)
                return True
            return False
        if isinstance(raw, list):
            found = False
            for i, item in enumerate(raw):
                found = self._walk_strings(item, f"{path}[{i}]", counts, scope) or found
            return found
        if isinstance(raw, dict):
            found = False
            for key, item in raw.items():
                found = self._walk_strings(item, f"{path}.{key}", counts, scope) or found
            return found
        return False

    # ------------------------------------------------------------------ conditions

    def condition(self, raw: Any, path: str, counts: tuple[CountScope, ...] = ()) -> Condition:
        """Compile one condition or logical operator. Raises :class:`PolicyDefinitionError`."""
        if not isinstance(raw, Mapping) or not raw:
            raise PolicyDefinitionError(path, f"expected a condition or logical operator object; got {_describe(raw)}")
        keys = {k.lower(): k for k in raw}
        logical = _LOGICAL & keys.keys()
        if logical:
            if len(raw) != 1:
                others = ", ".join(k for k in raw if k.lower() not in _LOGICAL) or ", ".join(raw)
                raise PolicyDefinitionError(path, f"a logical operator can't be combined with other keys ({others})")
            key = keys[next(iter(logical))]
            inner = raw[key]
            where = f"{path}.{key}"
            if key.lower() == "not":
                return Not(self.condition(inner, where, counts), where)
            if not isinstance(inner, list):
                raise PolicyDefinitionError(where, f"'{key}' expects an array of conditions")
            children = [self.condition(item, f"{where}[{i}]", counts) for i, item in enumerate(inner)]
            return AllOf(children, where) if key.lower() == "allof" else AnyOf(children, where)
        return self._leaf(raw, keys, path, counts)

    def _leaf(self, raw: Mapping[str, Any], keys: dict[str, str], path: str, counts: tuple[CountScope, ...]) -> Leaf:
        sources = [keys[k] for k in keys if k in _SOURCES]
        if not sources:
            raise PolicyDefinitionError(path, "a condition needs one of 'field', 'value' or 'count'")
        if len(sources) > 1:
            raise PolicyDefinitionError(path, f"a condition can have only one of {', '.join(sources)}")
        operators = [keys[k] for k in keys if k in OPERATORS]
        unknown = [keys[k] for k in keys if k not in OPERATORS and k not in _SOURCES]
        if unknown:
            raise PolicyDefinitionError(f"{path}.{unknown[0]}", f"unknown operator '{unknown[0]}'")
        if not operators:
            raise PolicyDefinitionError(path, "the condition has no operator (equals, like, in, exists, ...)")
        if len(operators) > 1:
            raise PolicyDefinitionError(path, f"a condition can have only one operator; got {', '.join(operators)}")
        source, op_key = sources[0], operators[0]
        operator = OPERATORS[op_key.lower()]
        target = self._target(raw[op_key], operator.target, f"{path}.{op_key}", counts, op_key)
        leaf = Leaf(path=path, operator=operator, target=target, source_text=raw[source])
        where = f"{path}.{source}"
        if source.lower() == "field":
            text = raw[source]
            if not isinstance(text, str):
                raise PolicyDefinitionError(where, f"'field' must be a string; got {_describe(text)}")
            node = self.expression(text, where, counts)
            if node is not None:
                leaf.field_expr = node
            else:
                try:
                    leaf.field = parse_field(parse_value(text).value)
                except ValueError as exc:
                    raise PolicyDefinitionError(where, str(exc)) from exc
        elif source.lower() == "value":
            leaf.value = self.value(raw[source], where, counts)
        else:
            leaf.count = self._count(raw[source], where, counts)
        return leaf

    def _target(self, raw: Any, kind: str, path: str, counts: tuple[CountScope, ...], op_key: str) -> Value:
        value = self.value(raw, path, counts)
        if value.node is not None:
            self._check_parameter_type(value, kind, path, op_key)
            return value
        if value.dynamic:
            return value
        literal = value.raw
        if kind == "array" and not isinstance(literal, list):
            raise PolicyDefinitionError(path, f"'{op_key}' expects an array; got {_describe(literal)}")
        if kind == "bool" and not (
            isinstance(literal, bool) or (isinstance(literal, str) and literal.strip().lower() in ("true", "false"))
        ):
            raise PolicyDefinitionError(path, f"'{op_key}' expects true or false; got {_describe(literal)}")
        if kind == "string" and (literal is None or isinstance(literal, list | dict)):
            raise PolicyDefinitionError(path, f"'{op_key}' expects a string; got {_describe(literal)}")
        if kind == "scalar" and (literal is None or isinstance(literal, bool | list | dict)):
            raise PolicyDefinitionError(path, f"'{op_key}' expects a string, number or date; got {_describe(literal)}")
        return value

    def _check_parameter_type(self, value: Value, kind: str, path: str, op_key: str) -> None:
        # Azure rejects e.g. "equals": "[parameters('arrayParam')]" when the definition is saved.
        node = value.node
        if not (isinstance(node, Call) and node.key == "parameters" and len(node.args) == 1):
            return
        arg = node.args[0]
        parameter = (
            self.parameters.get(arg.value.lower()) if isinstance(arg, Literal) and isinstance(arg.value, str) else None
        )
        if parameter is None:
            return
        declared = parameter.type
        if kind == "array" and declared != "Array":
            raise PolicyDefinitionError(
                path, f"'{op_key}' expects an array but parameter '{parameter.name}' is of type {declared}"
            )
        if kind in ("string", "scalar") and declared in ("Array", "Object"):
            raise PolicyDefinitionError(
                path, f"'{op_key}' expects a single value but parameter '{parameter.name}' is of type {declared}"
            )

    def _count(self, raw: Any, path: str, counts: tuple[CountScope, ...]) -> CountSpec:
        if not isinstance(raw, Mapping):
            raise PolicyDefinitionError(path, f"'count' must be an object; got {_describe(raw)}")
        keys = {k.lower(): k for k in raw}
        unknown = [keys[k] for k in keys if k not in ("field", "value", "name", "where")]
        if unknown:
            raise PolicyDefinitionError(f"{path}.{unknown[0]}", f"unknown property '{unknown[0]}' in count")
        has_field, has_value = "field" in keys, "value" in keys
        if has_field == has_value:
            raise PolicyDefinitionError(path, "a count needs exactly one of 'field' or 'value'")
        spec = CountSpec()
        if has_field:
            if "name" in keys:
                raise PolicyDefinitionError(f"{path}.{keys['name']}", "'name' is only allowed in a value count")
            where = f"{path}.{keys['field']}"
            text = raw[keys["field"]]
            if not isinstance(text, str):
                raise PolicyDefinitionError(where, "count.field must be a string naming an array alias")
            node = self.expression(text, where, counts)
            if node is not None:
                spec.field_expr = node
                scope = CountScope("field", "")
            else:
                try:
                    spec.field = parse_field(text)
                except ValueError as exc:
                    raise PolicyDefinitionError(where, str(exc)) from exc
                if not spec.field.is_collection:
                    raise PolicyDefinitionError(
                        where, f"count.field must be an array alias ending in [*]; got {text!r}"
                    )
                scope = CountScope("field", spec.field.key.lower())
        else:
            spec.value = self.value(raw[keys["value"]], f"{path}.{keys['value']}", counts)
            if not spec.value.dynamic and not isinstance(spec.value.raw, list):
                raise PolicyDefinitionError(f"{path}.{keys['value']}", "count.value must be an array")
            name = raw.get(keys["name"]) if "name" in keys else None
            if name is not None and (not isinstance(name, str) or not _INDEX_NAME.match(name)):
                raise PolicyDefinitionError(
                    f"{path}.{keys['name']}", f"count.name must be letters and digits; got {_describe(name)}"
                )
            spec.name = name
            scope = CountScope("value", (name or "default").lower())
        if "where" in keys:
            spec.where = self.condition(raw[keys["where"]], f"{path}.{keys['where']}", (*counts, scope))
        return spec
