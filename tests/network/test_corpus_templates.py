"""Every NSG rule declared in the real ARM templates of ``corpus/templates/nsg-templates.txt`` (templates that
deploy on Azure) passes Warden's REST validation and compiles in the engine. Template expressions are
resolved with the governance template expander (parameters without a default get a placeholder of their
type); rules that still hold an unresolved expression are skipped and counted. Skips without the corpus."""

from __future__ import annotations

import json
from typing import Any

from warden.governance.templates.expand import TemplateError, expand_template
from warden.network import validation as v
from warden.network.rules import AddressContext, NetworkSecurityGroup, SecurityRule, compile_nsg, prefixes
from warden.network.rules.model import Flow

PLACEHOLDERS = {"string": "x", "securestring": "x", "int": 1, "bool": False, "array": [], "object": {}}


def _raw_rules(node: Any) -> list[dict[str, Any]]:
    """Every object in a template that looks like a security rule (``properties`` with priority and direction)."""
    found = []
    if isinstance(node, dict):
        props = node.get("properties")
        if isinstance(props, dict) and "priority" in props and "direction" in props:
            found.append(node)
        for value in node.values():
            found += _raw_rules(value)
    elif isinstance(node, list):
        for value in node:
            found += _raw_rules(value)
    return found


def _has_expression(value: Any) -> bool:
    if isinstance(value, str):
        return value.startswith("[") and not value.startswith("[[")
    if isinstance(value, dict):
        return any(_has_expression(v_) for v_ in value.values())
    if isinstance(value, list):
        return any(_has_expression(v_) for v_ in value)
    return False


def _expanded_rules(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    params = {
        name: PLACEHOLDERS.get(str(spec.get("type", "string")).lower(), "x")
        for name, spec in (template.get("parameters") or {}).items()
        if "defaultValue" not in spec
    }
    out = []
    for resource in expand_template(template, params):
        doc = resource.document
        kind = str(doc.get("type", "")).lower()
        if kind == "microsoft.network/networksecuritygroups":
            out += [
                (r.get("name"), r.get("properties") or {})
                for r in (doc.get("properties") or {}).get("securityRules") or []
            ]
        elif kind == "microsoft.network/networksecuritygroups/securityrules":
            out.append((str(doc.get("name")).rsplit("/", 1)[-1], doc.get("properties") or {}))
    return out


def test_corpus_template_rules_validate_and_compile(corpus_dir, capsys) -> None:  # type: ignore[no-untyped-def]
    root = corpus_dir / "templates"
    names = [line.strip() for line in (root / "nsg-templates.txt").read_text().splitlines() if line.strip()]
    counts = {"templates": 0, "rules": 0, "needed resolving": 0, "skipped unresolved": 0, "accepted": 0}
    context = AddressContext(prefixes(["10.0.0.0/16"]))
    for name in names:
        template = json.loads((root / name).read_text(encoding="utf-8-sig"))
        counts["needed resolving"] += sum(1 for r in _raw_rules(template) if _has_expression(r))
        try:
            rules = _expanded_rules(template)
        except TemplateError:
            continue
        counts["templates"] += 1
        compiled = []
        for rule_name, props in rules:
            counts["rules"] += 1
            if _has_expression(rule_name) or _has_expression(props):
                counts["skipped unresolved"] += 1
                continue
            normalized = v.security_rule(str(rule_name), dict(props))  # raises on anything Azure would refuse
            counts["accepted"] += 1
            compiled.append(SecurityRule.from_azure({"name": rule_name, "properties": normalized}))
        nsg = NetworkSecurityGroup(f"/nsg/{name}", tuple(compiled))
        for direction in ("Inbound", "Outbound"):
            compile_nsg(nsg, direction, context).match(Flow("Tcp", "10.0.0.4", 50000, "10.0.1.4", 22))
    with capsys.disabled():
        print(f"\ncorpus NSG templates: {counts}")
    assert counts["templates"] == len(names)
    assert counts["accepted"] + counts["skipped unresolved"] == counts["rules"] > 100
    assert counts["needed resolving"] > 0
