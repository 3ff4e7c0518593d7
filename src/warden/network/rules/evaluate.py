"""Answers over a topology: the ``VirtualNetwork`` set of a subnet, NSG verdicts, effective routes, next hop."""

from __future__ import annotations

from dataclasses import dataclass

from .addresses import IntervalSet, address_value, prefix_interval, prefixes, to_cidrs
from .model import Flow, NetworkInterface, Route, SecurityRule, Subnet, Topology, VirtualNetwork, normalize_direction
from .nsg import (
    AddressContext,
    CompiledRules,
    compile_nsg,
    effective_rule,
    effective_rule_name,
    flow_key,
    ip_flow_verify_name,
)
from .routes import EffectiveRoute, NextHop, RouteLookup, build_effective_routes
from .tags import AZURE_HOST_IP, canonical_tag


@dataclass(frozen=True)
class LevelVerdict:
    level: str  # "subnet" | "nic"
    network_security_group_id: str | None  # None: no NSG at this level, which allows
    access: str
    rule: SecurityRule | None

    @property
    def rule_name(self) -> str | None:
        return ip_flow_verify_name(self.rule) if self.rule else None

    @property
    def effective_rule_name(self) -> str | None:
        return effective_rule_name(self.rule) if self.rule else None


@dataclass(frozen=True)
class Verdict:
    access: str
    levels: tuple[LevelVerdict, ...]  # the levels evaluated, in order; evaluation stops at a Deny

    @property
    def deciding(self) -> LevelVerdict | None:
        """The level whose rule is reported: the denying one, else the last level that had an NSG."""
        with_rule = [lv for lv in self.levels if lv.rule is not None]
        return with_rule[-1] if with_rule else None

    @property
    def rule_name(self) -> str | None:
        decided = self.deciding
        return decided.rule_name if decided else None

    def to_azure(self) -> dict:
        """The ``VerificationIPFlowResult`` body."""
        body: dict = {"access": self.access}
        if self.rule_name:
            body["ruleName"] = self.rule_name
        return body


class Evaluator:
    """Caches the per-subnet address contexts, compiled NSGs and route tables of one topology snapshot."""

    def __init__(self, topology: Topology) -> None:
        self.topology = topology
        self._contexts: dict[str, AddressContext] = {}
        self._compiled: dict[tuple[str, str, str], CompiledRules] = {}
        self._routes: dict[str, list[EffectiveRoute]] = {}
        self._lookups: dict[str, RouteLookup] = {}
        self._asgs: dict[str, IntervalSet] | None = None

    # ---- address sets --------------------------------------------------------------------------------------
    def _vnet(self, subnet: Subnet) -> VirtualNetwork:
        return self.topology.virtual_networks[subnet.virtual_network_id.lower()]

    def _peered(self, vnet: VirtualNetwork):
        for peering in vnet.peerings:
            remote = self.topology.virtual_networks.get(peering.remote_virtual_network_id.lower())
            if remote is not None and peering.peering_state.lower() == "connected":
                yield peering, remote

    def _gateway_routes(self, vnet: VirtualNetwork) -> list[tuple[str, str]]:
        gateways = [vnet.gateway] if vnet.gateway else []
        gateways += [remote.gateway for p, remote in self._peered(vnet) if p.use_remote_gateways and remote.gateway]
        return [(prefix, gw.ip_address) for gw in gateways for prefix in gw.prefixes]

    def virtual_network(self, subnet_id: str) -> IntervalSet:
        """The ``VirtualNetwork`` tag for a subnet: "The virtual network address space (all IP address ranges
        defined for the virtual network), all connected on-premises address spaces, peered virtual networks,
        virtual networks connected to a virtual network gateway, the virtual IP address of the host, and address
        prefixes used on user-defined routes." (service-tags-overview)."""
        subnet = self.topology.subnets[subnet_id.lower()]
        vnet = self._vnet(subnet)
        texts = [*vnet.address_space, AZURE_HOST_IP + "/32"]
        for _, remote in self._peered(vnet):
            texts += remote.address_space
        texts += [prefix for prefix, _ in self._gateway_routes(vnet)]
        table = self.topology.route_tables.get((subnet.route_table_id or "").lower())
        if table is not None:
            texts += [route.address_prefix for route in table.routes]
        return prefixes(texts)

    def application_security_groups(self) -> dict[str, IntervalSet]:
        if self._asgs is None:
            members: dict[str, list] = {}
            for nic in self.topology.network_interfaces.values():
                for asg in nic.application_security_group_ids:
                    members.setdefault(asg.lower(), []).extend(prefix_interval(ip) for ip in nic.ip_addresses)
            self._asgs = {asg: IntervalSet(v) for asg, v in members.items()}
        return self._asgs

    def context(self, subnet_id: str) -> AddressContext:
        key = subnet_id.lower()
        if key not in self._contexts:
            self._contexts[key] = AddressContext(self.virtual_network(subnet_id), self.application_security_groups())
        return self._contexts[key]

    # ---- NSGs ----------------------------------------------------------------------------------------------
    def compiled(self, nsg_id: str, direction: str, subnet_id: str) -> CompiledRules:
        key = (nsg_id.lower(), direction, subnet_id.lower())
        if key not in self._compiled:
            nsg = self.topology.network_security_groups[nsg_id.lower()]
            self._compiled[key] = compile_nsg(nsg, direction, self.context(subnet_id))
        return self._compiled[key]

    def verdict(self, nic: NetworkInterface, direction: str, flow: Flow) -> Verdict:
        """Inbound: subnet NSG then NIC NSG; outbound: NIC NSG then subnet NSG; both must allow."""
        direction = normalize_direction(direction)
        subnet = self.topology.subnets[nic.subnet_id.lower()]
        levels = [("subnet", subnet.network_security_group_id), ("nic", nic.network_security_group_id)]
        if direction == "Outbound":
            levels.reverse()
        key = flow_key(flow)
        out: list[LevelVerdict] = []
        for level, nsg_id in levels:
            if not nsg_id:
                out.append(LevelVerdict(level, None, "Allow", None))
                continue
            compiled = self.compiled(nsg_id, direction, subnet.id)
            index = compiled.first_match(*key)
            rule = compiled.rules[index] if index >= 0 else None
            access = rule.access if rule else "Allow"
            out.append(LevelVerdict(level, nsg_id, access, rule))
            if access == "Deny":
                return Verdict("Deny", tuple(out))
        return Verdict("Allow", tuple(out))

    def verify_ip_flow(
        self,
        nic_id: str,
        direction: str,
        protocol: str,
        local_ip: str,
        local_port: int | None,
        remote_ip: str,
        remote_port: int | None,
    ) -> Verdict:
        """IP flow verify's parameters: inbound flows go remote -> local, outbound local -> remote."""
        nic = self.topology.network_interfaces[nic_id.lower()]
        if normalize_direction(direction) == "Inbound":
            flow = Flow(protocol, remote_ip, remote_port, local_ip, local_port)
        else:
            flow = Flow(protocol, local_ip, local_port, remote_ip, remote_port)
        return self.verdict(nic, direction, flow)

    def effective_security_rules(self, nic_id: str) -> list[dict]:
        """A NIC's ``effectiveNetworkSecurityGroups`` value: per associated NSG (subnet, then NIC) the rules in
        evaluation order under their effective names (``UserRule_X`` / ``DefaultRule_X``), with the tag map."""
        nic = self.topology.network_interfaces[nic_id.lower()]
        subnet = self.topology.subnets[nic.subnet_id.lower()]
        context = self.context(subnet.id)
        out = []
        levels = [
            ("subnet", subnet.id, subnet.network_security_group_id),
            ("networkInterface", nic.id, nic.network_security_group_id),
        ]
        for association, owner, nsg_id in levels:
            if not nsg_id:
                continue
            nsg = self.topology.network_security_groups[nsg_id.lower()]
            rules = [*nsg.rules("Inbound"), *nsg.rules("Outbound")]
            named = {p for r in rules for p in (*r.source_address_prefixes, *r.destination_address_prefixes)}
            tags = sorted(p for p in named if canonical_tag(p))
            out.append(
                {
                    "networkSecurityGroup": {"id": nsg.id},
                    "association": {association: {"id": owner}},
                    "effectiveSecurityRules": [effective_rule(r, context) for r in rules],
                    "tagMap": {tag: to_cidrs(context.tag(tag)) for tag in tags},
                }
            )
        return out

    # ---- routes --------------------------------------------------------------------------------------------
    def effective_routes(self, subnet_id: str) -> list[EffectiveRoute]:
        key = subnet_id.lower()
        if key not in self._routes:
            subnet = self.topology.subnets[key]
            vnet = self._vnet(subnet)
            peerings = [
                (prefix, "VNetGlobalPeering" if p.is_global else "VNetPeering")
                for p, remote in self._peered(vnet)
                for prefix in remote.address_space
            ]
            table = self.topology.route_tables.get((subnet.route_table_id or "").lower())
            tid = table.id if table else None
            user = [
                EffectiveRoute("User", "Active", r.address_prefix, r.next_hop_type, self._udr_ip(vnet, r), r.name, tid)
                for r in (table.routes if table else ())
            ]
            self._routes[key] = build_effective_routes(
                vnet_prefixes=vnet.address_space,
                peerings=peerings,
                gateway_routes=self._gateway_routes(vnet),
                user_routes=user,
                disable_bgp_route_propagation=bool(table and table.disable_bgp_route_propagation),
            )
        return self._routes[key]

    def _udr_ip(self, vnet: VirtualNetwork, route: Route) -> str | None:
        """A user route carries only the IP it declares (VirtualAppliance); the others have none."""
        return route.next_hop_ip_address if route.next_hop_type == "VirtualAppliance" else None

    def next_hop(self, subnet_id: str, destination_ip: str) -> NextHop:
        key = subnet_id.lower()
        if key not in self._lookups:
            self._lookups[key] = RouteLookup(self.effective_routes(subnet_id))
        return self._lookups[key].next_hop(address_value(destination_ip))

    def next_hop_from_nic(self, nic_id: str, destination_ip: str) -> NextHop:
        nic = self.topology.network_interfaces[nic_id.lower()]
        return self.next_hop(nic.subnet_id, destination_ip)
