"""NSG analysis, exact over ranges: shadowed, redundant, conflicting and over-permissive rules.

Definitions (per direction, rules in evaluation order, defaults included as the rules that decide last):

* **shadowed** — a user rule that decides no flow: higher-priority rules (of any verdict) cover all it matches.
* **redundant** — a user rule whose removal changes no verdict: every flow it decides would get the same
  verdict from the rules below it, or it is shadowed by rules of its own verdict only.
* **conflicting** — a user rule that decides flows a lower-priority user rule of the opposite verdict also
  matches, where that lower rule still decides other flows (a partial overlap; a full one is shadowing).
* **over-permissive** — an inbound Allow rule whose source covers the whole ``Internet`` set (``*``,
  ``Internet``, ``0.0.0.0/0`` ...) and which decides Internet flows to a sensitive port
  (``SENSITIVE_PORTS``) or to every port of a protocol.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from .addresses import IntervalSet
from .model import NetworkSecurityGroup, SecurityRule
from .nsg import AddressContext, ip_flow_verify_name
from .space import (
    ALL_PORTS,
    IPV4,
    IPV6,
    PORTED,
    Box,
    Region,
    box_json,
    coalesce,
    intersect,
    is_empty,
    partition_boxes,
    rule_box,
    universe,
)
from .tags import internet

# Management and database ports that should never be open to the whole Internet.
SENSITIVE_PORTS: dict[int, str] = {
    20: "FTP data",
    21: "FTP",
    22: "SSH",
    23: "Telnet",
    135: "RPC",
    139: "NetBIOS",
    445: "SMB",
    1433: "SQL Server",
    1521: "Oracle",
    2375: "Docker API",
    2376: "Docker API (TLS)",
    3306: "MySQL",
    3389: "RDP",
    5432: "PostgreSQL",
    5900: "VNC",
    5985: "WinRM",
    5986: "WinRM (HTTPS)",
    6379: "Redis",
    9200: "Elasticsearch",
    9300: "Elasticsearch transport",
    11211: "Memcached",
    27017: "MongoDB",
}


@dataclass(frozen=True)
class Finding:
    kind: str  # shadowed | redundant | conflicting | over-permissive
    direction: str
    rule: SecurityRule
    message: str
    related: tuple[SecurityRule, ...] = ()
    flows: tuple[Box, ...] = ()  # the flows the finding is about (overlap, exposed flows)
    ports: tuple[int, ...] = ()

    def to_json(self, names: dict[str, IntervalSet] | None = None) -> dict:
        return {
            "kind": self.kind,
            "direction": self.direction,
            "rule": self.rule.name,
            "priority": self.rule.priority,
            "access": self.rule.access,
            "related": [
                {"rule": ip_flow_verify_name(r), "priority": r.priority, "access": r.access} for r in self.related
            ],
            "message": self.message,
            "flows": [box_json(b, names) for b in self.flows],
            **({"ports": list(self.ports)} if self.ports else {}),
        }


@dataclass
class Analysis:
    findings: list[Finding] = field(default_factory=list)

    def of_kind(self, kind: str) -> list[Finding]:
        return [f for f in self.findings if f.kind == kind]

    def rules(self, kind: str) -> list[str]:
        return [f.rule.name for f in self.of_kind(kind)]


def _names(rules: Sequence[SecurityRule]) -> str:
    return ", ".join(f"{r.name} ({r.priority}, {r.access})" for r in rules)


def analyze_direction(rules: Sequence[SecurityRule], direction: str, context: AddressContext) -> list[Finding]:
    """Findings for one direction's rules (evaluation order, defaults last)."""
    domain = universe()
    boxes = [rule_box(r, context) for r in rules]
    decided = partition_boxes(boxes, domain)
    findings: list[Finding] = []
    for i, rule in enumerate(rules):
        if rule.default:
            continue
        matched = intersect(domain, boxes[i])
        earlier = [rules[j] for j in range(i) if not is_empty(intersect(matched, boxes[j]))]
        if is_empty(decided[i]):
            opposite = [r for r in earlier if r.access != rule.access]
            text = "never matches: " + (f"covered by {_names(earlier)}" if earlier else "it matches no flow")
            findings.append(Finding("shadowed", direction, rule, text, tuple(earlier)))
            if not opposite:
                findings.append(
                    Finding(
                        "redundant",
                        direction,
                        rule,
                        f"{rule.access} already given by {_names(earlier)}",
                        tuple(earlier),
                    )
                )
            continue
        # Would the rules below give the same verdict on everything this one decides?
        below = partition_boxes(boxes[i + 1 :], decided[i])
        deciders = [rules[i + 1 + k] for k, region in enumerate(below) if not is_empty(region)]
        if deciders and all(r.access == rule.access for r in deciders):
            findings.append(
                Finding(
                    "redundant",
                    direction,
                    rule,
                    f"removing it changes no verdict: {_names(deciders)} decide the same",
                    tuple(deciders),
                )
            )
        for j in range(i + 1, len(rules)):
            lower = rules[j]
            if lower.default or lower.access == rule.access or is_empty(decided[j]) or not (boxes[i] & boxes[j]):
                continue
            overlap = intersect(decided[i], boxes[j])
            if not is_empty(overlap):
                findings.append(
                    Finding(
                        "conflicting",
                        direction,
                        rule,
                        f"{rule.access}s flows that the lower-priority {lower.name} ({lower.priority}) would "
                        f"{lower.access.lower()}",
                        (lower,),
                        tuple(coalesce(overlap)),
                    )
                )
        if direction == "Inbound" and rule.access == "Allow":
            finding = _over_permissive(rule, decided[i], boxes[i], context)
            if finding is not None:
                findings.append(finding)
    return findings


def _over_permissive(rule: SecurityRule, decided: Region, box: Box, context: AddressContext) -> Finding | None:
    from_internet = internet(context.virtual_network)
    # the whole Internet of one family at least: "*", "Internet", "0.0.0.0/0", "::/0"
    families = [part for part in (from_internet & IPV4, from_internet & IPV6) if part]
    if not any(box.source.covers(part) for part in families):
        return None
    clipped = [Box(b.protocol, b.source & from_internet, *b.sets[2:]) for b in decided]
    exposed = coalesce([b for b in clipped if b])
    if not exposed:
        return None
    ports = sorted({p for b in exposed if b.protocol & PORTED for p in SENSITIVE_PORTS if p in b.destination_port})
    # the rule itself names every port (higher rules may have carved some out of what it decides)
    every_port = box.destination_port.covers(ALL_PORTS) and any(b.protocol & PORTED for b in exposed)
    if not ports and not every_port:
        return None
    parts = []
    if every_port:
        parts.append("every port")
    if ports:
        parts.append(", ".join(f"{p} ({SENSITIVE_PORTS[p]})" for p in ports))
    text = f"allows the whole Internet to {' and '.join(parts)}"
    return Finding("over-permissive", "Inbound", rule, text, (), tuple(exposed), tuple(ports))


def analyze_nsg(nsg: NetworkSecurityGroup, context: AddressContext) -> Analysis:
    """Every finding of both directions of ``nsg``, under ``context`` (the subnet's ``VirtualNetwork`` set and ASGs)."""
    out = Analysis()
    for direction in ("Inbound", "Outbound"):
        out.findings += analyze_direction(nsg.rules(direction), direction, context)
    return out
