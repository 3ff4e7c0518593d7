"""The ARM template expression language, shared by Azure Policy rules and (later) ARM templates.

``"[concat('a', parameters('b'))]"`` is parsed into a small tree (:mod:`.nodes`) and evaluated
against an :class:`ExpressionContext` that supplies ``parameters()``, ``field()``, ``current()``
and the other host-bound functions. Function names are case-insensitive; every function records
the contexts (:class:`FunctionScope`) allowed to call it, so a policy rule that calls
``reference()`` or ``listKeys()`` is refused with :class:`FunctionNotAllowedError`.

Pure: imports only the standard library. Errors derive from :class:`ExpressionError`.
"""

from __future__ import annotations

from . import fn_collections, fn_context, fn_dates, fn_logic, fn_network, fn_strings  # noqa: F401 (registration)
from .context import ExpressionContext
from .errors import (
    ExpressionError,
    ExpressionEvaluationError,
    ExpressionSyntaxError,
    FunctionNotAllowedError,
    UnknownFunctionError,
)
from .evaluator import check, evaluate, evaluate_value, resolve_function
from .fn_dates import format_policy_datetime, parse_datetime
from .fn_network import ip_range
from .fn_strings import guid, unique_string
from .nodes import Call, Index, Literal, Node, Property, walk
from .parser import is_expression, parse, parse_expression, parse_value
from .registry import POLICY_FORBIDDEN, FunctionScope, FunctionSpec, registry
from .values import arm_equals, to_arm_string, type_name

__all__ = [
    "POLICY_FORBIDDEN",
    "Call",
    "ExpressionContext",
    "ExpressionError",
    "ExpressionEvaluationError",
    "ExpressionSyntaxError",
    "FunctionNotAllowedError",
    "FunctionScope",
    "FunctionSpec",
    "Index",
    "Literal",
    "Node",
    "Property",
    "UnknownFunctionError",
    "arm_equals",
    "check",
    "evaluate",
    "evaluate_value",
    "format_policy_datetime",
    "guid",
    "ip_range",
    "is_expression",
    "parse",
    "parse_datetime",
    "parse_expression",
    "parse_value",
    "registry",
    "resolve_function",
    "to_arm_string",
    "type_name",
    "unique_string",
    "walk",
]
