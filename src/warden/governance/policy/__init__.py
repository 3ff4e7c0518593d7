"""Azure Policy, as a pure engine: load definitions, validate them statically, evaluate them.

>>> from warden.governance.policy import load_definition, evaluate
>>> definition = load_definition({"mode": "All", "policyRule": {
...     "if": {"field": "location", "notIn": ["westeurope"]}, "then": {"effect": "deny"}}})
>>> evaluate(definition, {"type": "Microsoft.Network/virtualNetworks", "location": "eastus"}).effect
<Effect.DENY: 'deny'>

:func:`load_definition` accepts a bare definition, a ``{"properties": ...}`` wrapper or a
built-in's file and raises :class:`PolicyDefinitionError` naming the JSON path of a problem.
:func:`evaluate` returns an :class:`EvaluationResult` with ``effect``, ``compliance_state`` and
``reasons``. Aliases come from :func:`default_aliases` (shipped) or :func:`load_aliases`.

Pure: imports only the standard library and :mod:`warden.governance.expressions`.
Errors derive from :class:`PolicyError`.
"""

from __future__ import annotations

from .aliases import STAR, AliasTable, default_aliases, load_aliases
from .builtins import ImportReport, import_directory, load_document
from .conditions import Reason
from .definition import EffectSpec, ExistenceSpec, PolicyDefinition, load_definition
from .effects import EFFECT_ORDER, ComplianceState, Effect, parse_effect, rollup_compliance
from .errors import (
    AliasTableError,
    PolicyDefinitionError,
    PolicyError,
    PolicyEvaluationError,
    PolicyParameterError,
)
from .evaluator import EvaluationResult, RelatedQuery, evaluate, related_finder
from .index import TypeIndex
from .parameters import Parameter, bind_parameters
from .samples import sample_parameters, sample_resource, target_types
from .set_definition import (
    PolicyReference,
    PolicySetDefinition,
    check_references,
    evaluate_set_definition,
    load_set_definition,
    member_parameters,
)

__all__ = [
    "EFFECT_ORDER",
    "STAR",
    "AliasTable",
    "AliasTableError",
    "ComplianceState",
    "Effect",
    "EffectSpec",
    "EvaluationResult",
    "ExistenceSpec",
    "ImportReport",
    "Parameter",
    "PolicyDefinition",
    "PolicyDefinitionError",
    "PolicyError",
    "PolicyEvaluationError",
    "PolicyParameterError",
    "PolicyReference",
    "PolicySetDefinition",
    "Reason",
    "RelatedQuery",
    "TypeIndex",
    "bind_parameters",
    "check_references",
    "default_aliases",
    "evaluate",
    "evaluate_set_definition",
    "import_directory",
    "load_aliases",
    "load_definition",
    "load_document",
    "load_set_definition",
    "member_parameters",
    "parse_effect",
    "related_finder",
    "rollup_compliance",
    "sample_parameters",
    "sample_resource",
    "target_types",
]
