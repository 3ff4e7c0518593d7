"""NSG verdicts/s: the compiled engine against a naive first-match scan of the sorted rules.

A subnet NSG and a NIC NSG of 1,000 rules each (CIDRs, single IPs, prefix lists, port ranges and
lists, the VirtualNetwork/Internet/AzureLoadBalancer tags, ASGs; both directions), plus the six
default rules each. Random flows (inbound and outbound, Tcp/Udp/Icmp) are evaluated through the
two-level chain (inbound subnet then NIC, outbound NIC then subnet, stop at the first Deny) by both
evaluators in the same run; the verdicts and deciding rules must be identical. The engine runs every
flow; the naive scan (about 3,000 chains/s) runs an evenly spaced sample of ``--naive-flows`` of the
same flows (0: all of them), on which the answers are compared.

    .venv/bin/python bench/nsg_verdicts.py [--flows 200000] [--rules 1000] [--seed 7]

Writes bench/results/nsg_verdicts.json. Exit 1 if any verdict differs.
"""

from __future__ import annotations

import argparse
import json
import platform
import random
import sys
import time
from pathlib import Path

from warden.network.rules import AddressContext, NetworkSecurityGroup, SecurityRule, compile_nsg, prefixes
from warden.network.rules.addresses import PORT_NONE, address_value, port_set, value_address
from warden.network.rules.model import PORTED_PROTOCOLS

RESULT = Path(__file__).resolve().parent / "results" / "nsg_verdicts.json"
VNET = ["10.0.0.0/16", "10.1.0.0/16", "192.168.10.0/24"]
ASGS = [
    f"/subscriptions/s/resourceGroups/rg/providers/Microsoft.Network/applicationSecurityGroups/asg{i}" for i in range(8)
]
PROTOCOLS = ("Tcp", "Udp", "Icmp")


class NaiveRules:
    """First match over the priority-sorted rules; each rule's sets resolved to interval lists beforehand."""

    def __init__(self, rules: list[SecurityRule], context: AddressContext) -> None:
        self.rules = rules
        self.checks = [
            (
                r.protocol,
                context.source(r).intervals,
                port_set(r.source_port_ranges).intervals,
                context.destination(r).intervals,
                port_set(r.destination_port_ranges).intervals,
            )
            for r in rules
        ]

    def first_match(self, protocol: str, source: int, sport: int, destination: int, dport: int) -> int:
        for index, (proto, src, sports, dst, dports) in enumerate(self.checks):
            if proto != "*" and proto != protocol:
                continue
            if not any(lo <= source <= hi for lo, hi in src):
                continue
            if not any(lo <= destination <= hi for lo, hi in dst):
                continue
            if not any(lo <= sport <= hi for lo, hi in sports):
                continue
            if not any(lo <= dport <= hi for lo, hi in dports):
                continue
            return index
        return -1


def _random_prefix(rng: random.Random) -> str:
    kind = rng.random()
    if kind < 0.45:  # inside the VNet
        base = rng.choice([address_value("10.0.0.0"), address_value("10.1.0.0")])
        length = rng.choice([24, 26, 28, 32])
        value = base + rng.randrange(1 << 16)
    else:  # public space
        value = rng.randrange(address_value("11.0.0.0"), address_value("223.0.0.0"))
        length = rng.choice([8, 12, 16, 20, 24, 32])
    value &= ~((1 << (32 - length)) - 1)
    return f"{value_address(value)}/{length}"


def _random_ports(rng: random.Random) -> list[str]:
    roll = rng.random()
    if roll < 0.15:
        return ["*"]
    if roll < 0.55:
        return [str(rng.choice([22, 25, 53, 80, 443, 1433, 3306, 3389, 5432, 8080, rng.randrange(1, 65536)]))]
    if roll < 0.85:
        lo = rng.randrange(1, 60000)
        return [f"{lo}-{lo + rng.randrange(1, 5000)}"]
    return [str(rng.randrange(1, 65536)) for _ in range(rng.randrange(2, 5))]


def _random_side(rng: random.Random) -> dict:
    roll = rng.random()
    if roll < 0.1:
        return {"prefixes": ("*",)}
    if roll < 0.25:
        return {"prefixes": (rng.choice(["VirtualNetwork", "Internet", "AzureLoadBalancer"]),)}
    if roll < 0.4:
        return {"prefixes": (), "asgs": (rng.choice(ASGS),)}
    if roll < 0.7:
        return {"prefixes": (_random_prefix(rng),)}
    return {"prefixes": tuple(_random_prefix(rng) for _ in range(rng.randrange(2, 6)))}


def random_nsg(rng: random.Random, name: str, count: int) -> NetworkSecurityGroup:
    rules = []
    for i in range(count):
        direction = "Inbound" if i % 2 == 0 else "Outbound"
        src, dst = _random_side(rng), _random_side(rng)
        rules.append(
            SecurityRule(
                name=f"{name}-rule{i}",
                priority=100 + i // 2,
                direction=direction,
                access="Allow" if rng.random() < 0.6 else "Deny",
                protocol=rng.choice(["*", "Tcp", "Tcp", "Udp", "Icmp"]),
                source_address_prefixes=src["prefixes"],
                source_asgs=src.get("asgs", ()),
                source_port_ranges=("*",) if rng.random() < 0.9 else tuple(_random_ports(rng)),
                destination_address_prefixes=dst["prefixes"],
                destination_asgs=dst.get("asgs", ()),
                destination_port_ranges=tuple(_random_ports(rng)),
            )
        )
    rng.shuffle(rules)  # stored order is not evaluation order
    return NetworkSecurityGroup(f"/nsg/{name}", tuple(rules))


def context(rng: random.Random) -> AddressContext:
    asgs = {}
    for asg in ASGS:
        asgs[asg.lower()] = prefixes(f"10.0.{rng.randrange(256)}.{rng.randrange(256)}" for _ in range(20))
    return AddressContext(prefixes([*VNET, "168.63.129.16/32"]), asgs)


def random_flows(rng: random.Random, n: int) -> list[tuple[str, str, int, int, int, int]]:
    local_pool = [address_value("10.0.0.0") + rng.randrange(1 << 16) for _ in range(512)]
    hot_ports = [22, 25, 53, 80, 443, 1433, 3306, 3389, 5432, 8080]
    flows = []
    for _ in range(n):
        direction = "Inbound" if rng.random() < 0.5 else "Outbound"
        protocol = rng.choice(PROTOCOLS)
        local = rng.choice(local_pool)
        roll = rng.random()
        if roll < 0.4:
            remote = address_value("10.0.0.0") + rng.randrange(1 << 17)
        elif roll < 0.45:
            remote = address_value("168.63.129.16")
        else:
            remote = rng.randrange(address_value("1.0.0.0"), address_value("223.255.255.255"))
        if protocol in PORTED_PROTOCOLS:
            lport = rng.choice(hot_ports) if rng.random() < 0.5 else rng.randrange(1, 65536)
            rport = rng.randrange(1024, 65536)
        else:
            lport = rport = PORT_NONE
        if direction == "Inbound":
            flows.append((direction, protocol, remote, rport, local, lport))
        else:
            flows.append((direction, protocol, local, lport, remote, rport))
    return flows


def run_chain(levels: dict, flows: list) -> list[tuple]:
    """Verdict and deciding (level, rule index) of every flow through the two-level chain."""
    inbound = levels["Inbound"]
    outbound = levels["Outbound"]
    out = []
    append = out.append
    for direction, protocol, src, sport, dst, dport in flows:
        chain = inbound if direction == "Inbound" else outbound
        decided = None
        access = "Allow"
        for level, (evaluator, rules) in enumerate(chain):
            index = evaluator.first_match(protocol, src, sport, dst, dport)
            decided = (level, index)
            if index >= 0 and rules[index].access == "Deny":
                access = "Deny"
                break
        append((access, decided))
    return out


def build(kind, subnet_nsg, nic_nsg, ctx) -> dict:
    levels = {}
    for direction in ("Inbound", "Outbound"):
        pair = []
        for nsg in (subnet_nsg, nic_nsg) if direction == "Inbound" else (nic_nsg, subnet_nsg):
            rules = nsg.rules(direction)
            evaluator = compile_nsg(nsg, direction, ctx) if kind == "engine" else NaiveRules(rules, ctx)
            pair.append((evaluator, evaluator.rules))
        levels[direction] = pair
    return levels


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--flows", type=int, default=200_000)
    parser.add_argument("--rules", type=int, default=1000)
    parser.add_argument("--naive-flows", type=int, default=40_000, help="flows also run naively (0: all)")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--output", type=Path, default=RESULT)
    args = parser.parse_args(argv)

    rng = random.Random(args.seed)
    subnet_nsg = random_nsg(rng, "subnet", args.rules)
    nic_nsg = random_nsg(rng, "nic", args.rules)
    ctx = context(rng)
    flows = random_flows(rng, args.flows)

    t0 = time.perf_counter()
    engine = build("engine", subnet_nsg, nic_nsg, ctx)
    compile_s = time.perf_counter() - t0
    naive = build("naive", subnet_nsg, nic_nsg, ctx)

    t0 = time.perf_counter()
    engine_out = run_chain(engine, flows)
    engine_s = time.perf_counter() - t0
    sample = args.naive_flows or args.flows
    step = max(1, args.flows // sample)
    sampled = flows[::step][:sample]
    t0 = time.perf_counter()
    naive_out = run_chain(naive, sampled)
    naive_s = time.perf_counter() - t0

    mismatches = sum(1 for a, b in zip(engine_out[::step][: len(sampled)], naive_out, strict=True) if a != b)
    denied = sum(1 for access, _ in engine_out if access == "Deny")
    by_default = 0
    for (direction, *_), (_, (level, index)) in zip(flows, engine_out, strict=True):
        rules = engine[direction][level][1]
        by_default += index >= 0 and rules[index].default
    engine_rate = args.flows / engine_s
    naive_rate = len(sampled) / naive_s
    result = {
        "flows": args.flows,
        "rules_per_nsg": args.rules,
        "seed": args.seed,
        "compile_s": round(compile_s, 3),
        "engine_s": round(engine_s, 3),
        "naive_flows": len(sampled),
        "naive_s": round(naive_s, 3),
        "engine_verdicts_per_s": round(engine_rate),
        "naive_verdicts_per_s": round(naive_rate),
        "ratio": round(engine_rate / naive_rate, 1),
        "denied_share": round(denied / args.flows, 3),
        "decided_by_default_rule_share": round(by_default / args.flows, 3),
        "compared_flows": len(sampled),
        "identical": mismatches == 0,
        "mismatches": mismatches,
        "python": platform.python_version(),
        "machine": platform.machine(),
    }
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    rates = f"engine {result['engine_verdicts_per_s']:,}/s  naive {result['naive_verdicts_per_s']:,}/s"
    print(f"{rates}  ratio {result['ratio']}x (target >= 20x)")
    return 0 if mismatches == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
