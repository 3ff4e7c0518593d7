"""Definition parameters: declared types, defaults and allowed values, and binding assignment values."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from ..expressions import is_expression, parse_datetime
from .errors import PolicyDefinitionError, PolicyParameterError
from .operators import loose_equals

__all__ = ["PARAMETER_TYPES", "Parameter", "bind_parameters", "parse_parameters"]

PARAMETER_TYPES = {t.lower(): t for t in ("String", "Array", "Object", "Boolean", "Integer", "Float", "DateTime")}
_NO_DEFAULT = object()


def _fits(type_name: str, value: Any) -> bool:
    if type_name == "String":
        return isinstance(value, str)
    if type_name == "Array":
        return isinstance(value, list)
    if type_name == "Object":
        return isinstance(value, dict)
    if type_name == "Boolean":
        return isinstance(value, bool)
    if type_name == "Integer":
        return isinstance(value, int) and not isinstance(value, bool)
    if type_name == "Float":
        return isinstance(value, int | float) and not isinstance(value, bool)
    return isinstance(value, str) and parse_datetime(value) is not None  # DateTime


@dataclass(frozen=True, slots=True)
class Parameter:
    """One declared parameter. ``default`` is meaningful only when ``has_default``."""

    name: str
    type: str
    default: Any = None
    has_default: bool = False
    allowed_values: tuple[Any, ...] | None = None
    metadata: Mapping[str, Any] | None = None

    def problem(self, value: Any) -> str | None:
        """Why ``value`` is not acceptable for this parameter, or None when it is."""
        if is_expression(value):
            return None  # resolved later (an initiative passes "[parameters('x')]" down)
        if not _fits(self.type, value):
            return f"expects a value of type {self.type}; got {type(value).__name__} {value!r}"[:300]
        if self.allowed_values is not None and not self.allows(value):
            return f"value {value!r} is not one of the allowed values {list(self.allowed_values)!r}"[:300]
        return None

    def allows(self, value: Any) -> bool:
        """Whether ``value`` is in ``allowedValues`` (for arrays: the array itself or each element)."""
        allowed = self.allowed_values or ()
        if any(loose_equals(value, candidate) for candidate in allowed):
            return True
        return isinstance(value, list) and all(any(loose_equals(v, c) for c in allowed) for v in value)


def parse_parameters(raw: Any, path: str) -> dict[str, Parameter]:
    """Validate a ``parameters`` block; return parameters keyed by lower-cased name.

    Raises :class:`PolicyDefinitionError` naming the JSON path of the first problem.
    """
    if raw is None:
        return {}
    if not isinstance(raw, Mapping):
        raise PolicyDefinitionError(path, "parameters must be an object")
    result: dict[str, Parameter] = {}
    for name, spec in raw.items():
        where = f"{path}.{name}"
        if not isinstance(spec, Mapping):
            raise PolicyDefinitionError(where, "a parameter must be an object with a 'type'")
        lowered = {k.lower(): v for k, v in spec.items()}
        declared = lowered.get("type")
        if not isinstance(declared, str) or declared.lower() not in PARAMETER_TYPES:
            allowed = ", ".join(PARAMETER_TYPES.values())
            raise PolicyDefinitionError(f"{where}.type", f"unknown parameter type {declared!r} (expected {allowed})")
        allowed_values = lowered.get("allowedvalues")
        if allowed_values is not None and not isinstance(allowed_values, list):
            raise PolicyDefinitionError(f"{where}.allowedValues", "allowedValues must be an array")
        parameter = Parameter(
            name=name,
            type=PARAMETER_TYPES[declared.lower()],
            default=lowered.get("defaultvalue"),
            has_default="defaultvalue" in lowered,
            # an empty allowedValues list restricts nothing (some built-ins declare one)
            allowed_values=tuple(allowed_values) if allowed_values else None,
            metadata=lowered.get("metadata") if isinstance(lowered.get("metadata"), Mapping) else None,
        )
        deprecated = isinstance(parameter.metadata, Mapping) and parameter.metadata.get("deprecated") is True
        if parameter.has_default and not deprecated:  # a deprecated parameter is kept only for compatibility
            problem = parameter.problem(parameter.default)
            if problem:
                raise PolicyDefinitionError(f"{where}.defaultValue", problem)
        if name.lower() in result:
            raise PolicyDefinitionError(where, f"parameter {name!r} is declared twice (names are case-insensitive)")
        result[name.lower()] = parameter
    return result


def _unwrap(value: Any) -> Any:
    # Azure's assignment shape is {"name": {"value": ...}}; a bare value is accepted too.
    if isinstance(value, Mapping) and len(value) == 1 and "value" in value:
        return value["value"]
    return value


def bind_parameters(declared: Mapping[str, Parameter], supplied: Mapping[str, Any] | None) -> dict[str, Any]:
    """Return the value of every declared parameter (lower-cased name -> value).

    ``supplied`` maps names (any case) to values or to ``{"value": ...}``. Raises
    :class:`PolicyParameterError` for an unknown name, a missing value without default, a value of
    the wrong type or one outside ``allowedValues``.
    """
    values: dict[str, Any] = {}
    for name, raw in (supplied or {}).items():
        key = name.lower()
        parameter = declared.get(key)
        if parameter is None:
            known = ", ".join(p.name for p in declared.values()) or "none"
            raise PolicyParameterError(f"The parameter '{name}' is not defined in the policy (defined: {known})")
        value = _unwrap(raw)
        problem = parameter.problem(value)
        if problem:
            raise PolicyParameterError(f"The parameter '{parameter.name}' {problem}")
        values[key] = value
    for key, parameter in declared.items():
        if key not in values:
            if not parameter.has_default:
                raise PolicyParameterError(f"The parameter '{parameter.name}' has no default value and was not given")
            values[key] = parameter.default
    return values
