"""Benchmark: a full compliance scan and write-time evaluation with 500 built-in policy assignments.

Takes 500 definitions (fixed seed) from Azure's built-ins in ``../shared/corpus/policy/builtin``
(modes All/Indexed), assigns each with parameters (``sample_parameters``: the first allowed value
or a typed placeholder for those without default) and builds 20,000 synthetic resources of the
types those definitions target, in 40 resource groups: ids, names, locations (one of six), tags
(0-3 of a fixed set), and for half of them every alias the definition tests filled with a value
taken from its conditions (``sample_resource(populate=True)``), so ``if`` clauses match and fail.

- **Scan**: every resource against every assignment. The engine looks assignments up in a
  :class:`~warden.governance.policy.TypeIndex` (by the types their ``if`` can match) and evaluates
  only the candidates; the naive evaluator evaluates every definition on every resource with the
  type short-cut removed (``required_types=None``). auditIfNotExists/deployIfNotExists look for
  related resources among the same group's resources of the wanted type (one callable, shared).
  The two must produce identical (resource, assignment, effect, compliance state) records,
  NotApplicable pairs left out.
- **Write time**: 2,000 random resources, each evaluated as a write would be (index lookup +
  every candidate assignment); per-write latency p50/p95 (target p95 <= 2 ms).

Exit 1 if the engine and the naive evaluator disagree, 2 if the p95 target is missed, 0 otherwise;
exit 0 with a message when the corpus is absent. Writes ``bench/results/policy_eval.json``.

Run: .venv/bin/python bench/policy_eval.py [--resources N] [--assignments N]
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import platform
import random
import statistics
import sys
import time
from collections import defaultdict
from pathlib import Path
from typing import Any

from warden.governance.policy import (
    ComplianceState,
    PolicyError,
    RelatedQuery,
    TypeIndex,
    bind_parameters,
    evaluate,
    import_directory,
    sample_parameters,
    sample_resource,
    target_types,
)

SEED = 20241128
N_ASSIGNMENTS = 500
N_RESOURCES = 20_000
N_WRITES = 2_000
N_GROUPS = 40
TARGET_P95_MS = 2.0
ROOT = Path(__file__).resolve().parents[1]
BUILTIN = ROOT.parent / "shared" / "corpus" / "policy" / "builtin" / "policyDefinitions"
RESULT = Path(__file__).resolve().parent / "results" / "policy_eval.json"
SUBSCRIPTION = "/subscriptions/00000000-0000-0000-0000-000000000000"
LOCATIONS = ["westeurope", "northeurope", "eastus", "eastus2", "westus2", "uksouth"]
TAGS = {"env": ["prod", "dev", "test"], "owner": ["ops", "data", "web"], "costCenter": ["1001", "2002"]}


@dataclasses.dataclass
class Assignment:
    id: str
    definition: Any
    parameters: dict[str, Any]


def choose_assignments(rng: random.Random, count: int) -> list[Assignment]:
    report = import_directory(BUILTIN, check_members=False)
    pool = []
    for name in sorted(report.definitions):
        definition = report.definitions[name]
        if definition.mode not in ("All", "Indexed"):
            continue
        parameters = sample_parameters(definition)
        try:
            bind_parameters(definition.parameters, parameters)
        except PolicyError:
            continue
        pool.append((definition, parameters))
    chosen = rng.sample(pool, min(count, len(pool)))
    return [
        Assignment(f"{SUBSCRIPTION}/providers/Microsoft.Authorization/policyAssignments/a{i:04d}", d, p)
        for i, (d, p) in enumerate(chosen)
    ]


_TOP = ("microsoft.resources/subscriptions", "microsoft.resources/subscriptions/resourcegroups")


def make_resources(rng: random.Random, assignments: list[Assignment], count: int) -> list[dict[str, Any]]:
    """One subscription, N_GROUPS resource groups, and resources of the types the assigned definitions
    target (each type equally likely), half of them with the aliases a definition tests set."""
    by_type: dict[str, list[Any]] = defaultdict(list)
    for assignment in assignments:
        for resource_type in target_types(assignment.definition):
            if resource_type.lower() not in _TOP:
                by_type[resource_type].append(assignment.definition)
    types = sorted(by_type)
    subscription = {
        "id": SUBSCRIPTION,
        "name": SUBSCRIPTION.rsplit("/", 1)[-1],
        "subscriptionId": SUBSCRIPTION.rsplit("/", 1)[-1],
        "type": "Microsoft.Resources/subscriptions",
        "tags": {},
        "properties": {},
    }
    resources: list[dict[str, Any]] = [subscription]
    for g in range(N_GROUPS):
        name = f"rg-{g:02d}"
        resources.append(
            {
                "id": f"{SUBSCRIPTION}/resourceGroups/{name}",
                "name": name,
                "location": rng.choice(LOCATIONS),
                "type": "Microsoft.Resources/subscriptions/resourceGroups",
                "tags": {k: rng.choice(v) for k, v in TAGS.items() if rng.random() < 0.4},
                "properties": {"provisioningState": "Succeeded"},
            }
        )
    for i in range(count - len(resources)):
        resource_type = rng.choice(types)
        definition = rng.choice(by_type[resource_type])
        resource = sample_resource(definition, resource_type=resource_type, populate=rng.random() < 0.5)
        group = f"{SUBSCRIPTION}/resourceGroups/rg-{i % N_GROUPS:02d}"
        name = f"{resource['name'][:40]}-{i:05d}"
        tail = resource["id"].split("/providers/", 1)[-1].split("/")
        tail[-1] = name
        resource["id"] = f"{group}/providers/{'/'.join(tail)}"
        resource["name"] = name
        if "location" in resource:
            resource["location"] = rng.choice(LOCATIONS)
        resource["tags"] = {k: rng.choice(v) for k, v in TAGS.items() if rng.random() < 0.4}
        resources.append(resource)
    return resources


def related_lookup(resources: list[dict[str, Any]]):  # type: ignore[no-untyped-def]
    """The resources of a type in a group, for auditIfNotExists/deployIfNotExists (shared by both sides)."""
    by_group_type: dict[tuple[str, str], list[dict[str, Any]]] = defaultdict(list)
    by_type: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for resource in resources:
        group = resource["id"].lower().split("/providers/", 1)[0]
        by_group_type[(group, resource["type"].lower())].append(resource)
        by_type[resource["type"].lower()].append(resource)

    def related(query: RelatedQuery) -> list[dict[str, Any]]:
        wanted = query.type.lower()
        if query.existence_scope == "subscription":
            found = by_type.get(wanted, [])
        else:
            found = by_group_type.get((query.resource["id"].lower().split("/providers/", 1)[0], wanted), [])
        if query.name is not None:
            name = query.name.lower()
            found = [r for r in found if r["name"].lower() == name or r["name"].lower().endswith("/" + name)]
        return found

    return related


def record(result: Any) -> tuple[str, str] | None:
    if result.compliance_state is ComplianceState.NOT_APPLICABLE:
        return None
    return (result.effect.value, result.compliance_state.value)


def engine_scan(index: TypeIndex[int], assignments: list[Assignment], resources: list[dict[str, Any]], related):  # type: ignore[no-untyped-def]
    states = {}
    for r, resource in enumerate(resources):
        for a in index.candidates(resource["type"]):
            assignment = assignments[a]
            result = evaluate(assignment.definition, resource, assignment.parameters, related=related, explain=False)
            found = record(result)
            if found is not None:
                states[(r, a)] = found
    return states


def naive_scan(assignments: list[Assignment], resources: list[dict[str, Any]], related):  # type: ignore[no-untyped-def]
    # Same evaluator, but no index and no type short-cut: every definition on every resource.
    unindexed = [dataclasses.replace(a.definition, required_types=None) for a in assignments]
    states = {}
    for r, resource in enumerate(resources):
        for a, assignment in enumerate(assignments):
            result = evaluate(unindexed[a], resource, assignment.parameters, related=related, explain=False)
            found = record(result)
            if found is not None:
                states[(r, a)] = found
    return states


def write_latencies(rng: random.Random, index: TypeIndex[int], assignments, resources, related):  # type: ignore[no-untyped-def]
    """Per write: wall-clock ms, and this thread's CPU ms (which other processes on a busy machine
    don't inflate)."""
    latencies, cpu = [], []
    for resource in rng.sample(resources, min(N_WRITES, len(resources))):
        started, started_cpu = time.perf_counter_ns(), time.thread_time_ns()
        for a in index.candidates(resource["type"]):
            assignment = assignments[a]
            evaluate(assignment.definition, resource, assignment.parameters, related=related, explain=False)
        latencies.append((time.perf_counter_ns() - started) / 1e6)
        cpu.append((time.thread_time_ns() - started_cpu) / 1e6)
    return latencies, cpu


def percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--resources", type=int, default=N_RESOURCES)
    parser.add_argument("--assignments", type=int, default=N_ASSIGNMENTS)
    args = parser.parse_args()
    if not BUILTIN.is_dir():
        print(f"policy_eval: built-in definitions not found at {BUILTIN}; nothing to measure.")
        return 0
    rng = random.Random(SEED)
    started = time.perf_counter()
    assignments = choose_assignments(rng, args.assignments)
    resources = make_resources(rng, assignments, args.resources)
    related = related_lookup(resources)
    index: TypeIndex[int] = TypeIndex((i, a.definition) for i, a in enumerate(assignments))
    setup_s = time.perf_counter() - started
    types = {r["type"].lower() for r in resources}
    candidates = statistics.mean(len(index.candidates(r["type"])) for r in resources)
    any_type = sum(1 for a in assignments if a.definition.required_types is None)
    print(
        f"policy_eval: {len(assignments)} assignments ({any_type} match any type) over {len(resources)} resources "
        f"of {len(types)} types; {candidates:.1f} candidate assignments per resource on average (setup {setup_s:.1f} s)"
    )

    started = time.perf_counter()
    engine = engine_scan(index, assignments, resources, related)
    engine_s = time.perf_counter() - started
    print(f"  engine scan: {engine_s:.2f} s ({len(engine)} policy states)")
    started = time.perf_counter()
    naive = naive_scan(assignments, resources, related)
    naive_s = time.perf_counter() - started
    print(f"  naive scan:  {naive_s:.2f} s ({len(naive)} policy states)")
    differences = [k for k in set(engine) | set(naive) if engine.get(k) != naive.get(k)]
    identical = not differences
    ratio = naive_s / engine_s if engine_s else float("inf")
    print(f"  ratio {ratio:.1f}x; results identical: {identical}")
    for r, a in sorted(differences)[:10]:
        print(
            f"    differ: {resources[r]['id']} x {assignments[a].definition.name}: "
            f"{engine.get((r, a))} vs {naive.get((r, a))}"
        )

    latencies, cpu = write_latencies(rng, index, assignments, resources, related)
    p50, p95, p99 = (percentile(latencies, f) for f in (0.5, 0.95, 0.99))
    cpu50, cpu95 = (percentile(cpu, f) for f in (0.5, 0.95))
    target_met = p95 <= TARGET_P95_MS
    print(
        f"  write-time evaluation: p50 {p50:.3f} ms, p95 {p95:.3f} ms, p99 {p99:.3f} ms "
        f"(target p95 <= {TARGET_P95_MS} ms); CPU time p50 {cpu50:.3f} ms, p95 {cpu95:.3f} ms"
    )
    states: dict[str, int] = defaultdict(int)
    for _, state in engine.values():
        states[state] += 1
    print("  states: " + ", ".join(f"{k} {v}" for k, v in sorted(states.items())))

    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {
                "assignments": len(assignments),
                "assignments_matching_any_type": any_type,
                "resources": len(resources),
                "resource_types": len(types),
                "mean_candidates_per_resource": round(candidates, 2),
                "engine_scan_s": round(engine_s, 3),
                "naive_scan_s": round(naive_s, 3),
                "ratio": round(ratio, 1),
                "identical": identical,
                "differences": len(differences),
                "policy_states": len(engine),
                "states": dict(states),
                "write_p50_ms": round(p50, 4),
                "write_p95_ms": round(p95, 4),
                "write_p99_ms": round(p99, 4),
                "write_cpu_p50_ms": round(cpu50, 4),
                "write_cpu_p95_ms": round(cpu95, 4),
                "load_average": list(os.getloadavg()),
                "target_p95_ms": TARGET_P95_MS,
                "target_met": target_met,
                "python": platform.python_version(),
                "machine": platform.machine(),
            },
            indent=2,
        )
    )
    if not identical:
        return 1
    return 0 if target_met else 2


if __name__ == "__main__":
    sys.exit(main())
