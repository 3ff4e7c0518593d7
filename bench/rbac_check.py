"""Benchmark: the RBAC engine against a naive evaluator, on one fixed-seed synthetic tenant.

Builds 1,000 role definitions (wildcard actions/notActions/dataActions drawn from a generator of
provider/type/operation strings), 5,000 role assignments and a few deny assignments over a deep
scope tree (subscriptions > resource groups > resources > child resources, ~500 principals, some
of them groups), then runs a few thousand random checks (mixed granted/denied) through
``AuthorizationEngine.check`` and through ``naive_check`` below, which scans every assignment,
tests scope ancestry by string prefix and matches every pattern with fnmatch.

Fails (exit 1) if the two disagree on any check; exits 2 if a target is missed
(engine >= 20x faster than naive, engine median < 50 us). Writes bench/results/rbac_check.json.

Run: .venv/bin/python bench/rbac_check.py
"""

from __future__ import annotations

import json
import platform
import random
import statistics
import sys
import time
from fnmatch import fnmatchcase
from pathlib import Path

from warden.authz.engine import (
    EVERYONE,
    AuthorizationEngine,
    DenyAssignment,
    Permission,
    RoleAssignment,
    RoleDefinition,
)

SEED = 20240611
N_ROLES = 1_000
N_ASSIGNMENTS = 5_000
N_DENIES = 40
N_PRINCIPALS = 500
N_GROUPS = 60  # the first N_GROUPS principals also act as groups callers belong to
N_CHECKS = 4_000
TARGET_RATIO = 20.0
TARGET_MEDIAN_US = 50.0
RESULT = Path(__file__).resolve().parent / "results" / "rbac_check.json"

NAMESPACES = [
    "Microsoft.Compute",
    "Microsoft.Network",
    "Microsoft.Storage",
    "Microsoft.KeyVault",
    "Microsoft.Sql",
    "Microsoft.Web",
    "Microsoft.Insights",
    "Microsoft.OperationalInsights",
    "Microsoft.Authorization",
    "Microsoft.Resources",
    "Microsoft.ContainerService",
    "Microsoft.DocumentDB",
    "Microsoft.EventHub",
    "Microsoft.ServiceBus",
    "Microsoft.Automation",
    "Microsoft.RecoveryServices",
    "Microsoft.Security",
    "Microsoft.Support",
    "Microsoft.Cache",
    "Microsoft.DataFactory",
    "Microsoft.Logic",
    "Microsoft.ManagedIdentity",
    "Microsoft.Search",
    "Microsoft.CognitiveServices",
]
TYPE_WORDS = [
    "virtualMachines",
    "disks",
    "snapshots",
    "accounts",
    "servers",
    "databases",
    "sites",
    "workspaces",
    "vaults",
    "secrets",
    "keys",
    "clusters",
    "namespaces",
    "queues",
    "topics",
    "pipelines",
    "identities",
    "alertRules",
    "components",
    "registries",
    "policies",
    "jobs",
]
VERBS = ["read", "write", "delete"]
ACTION_VERBS = [
    "start/action",
    "restart/action",
    "listKeys/action",
    "regenerate/action",
    "backup/action",
    "join/action",
]
DATA_VERBS = ["data/read", "data/write", "blobs/read", "messages/send/action", "secrets/getSecret/action"]


# --------------------------------------------------------------------------- synthetic tenant


def make_types(rng: random.Random) -> dict[str, list[str]]:
    """Return namespace -> resource types (some nested, like "servers/databases")."""
    types = {}
    for ns in NAMESPACES:
        base = rng.sample(TYPE_WORDS, 6)
        nested = [f"{rng.choice(base)}/{w}" for w in rng.sample(TYPE_WORDS, 3)]
        types[ns] = base + nested
    return types


def concrete_action(rng: random.Random, types: dict[str, list[str]]) -> str:
    ns = rng.choice(NAMESPACES)
    return f"{ns}/{rng.choice(types[ns])}/{rng.choice(VERBS + ACTION_VERBS)}"


def concrete_data_action(rng: random.Random, types: dict[str, list[str]]) -> str:
    ns = rng.choice(NAMESPACES)
    return f"{ns}/{rng.choice(types[ns])}/{rng.choice(DATA_VERBS)}"


def action_pattern(rng: random.Random, types: dict[str, list[str]]) -> str:
    ns = rng.choice(NAMESPACES)
    t = rng.choice(types[ns])
    kind = rng.random()
    if kind < 0.40:
        return f"{ns}/{t}/{rng.choice(VERBS + ACTION_VERBS)}"
    if kind < 0.60:
        return f"{ns}/{t}/*"
    if kind < 0.72:
        return f"{ns}/*"
    if kind < 0.82:
        return f"{ns}/*/{rng.choice(VERBS)}"
    if kind < 0.90:
        return "*/read"
    if kind < 0.97:
        return f"*/{t.split('/')[0]}/*/action"
    return "*"


def not_action_pattern(rng: random.Random, types: dict[str, list[str]]) -> str:
    ns = rng.choice(NAMESPACES)
    t = rng.choice(types[ns])
    kind = rng.random()
    if kind < 0.5:
        return f"{ns}/{t}/{rng.choice(VERBS)}"
    if kind < 0.8:
        return f"{ns}/*/{rng.choice(['write', 'delete'])}"
    return f"{ns}/{t}/*"


def deny_pattern(rng: random.Random, types: dict[str, list[str]]) -> str:
    kind = rng.random()
    if kind < 0.3:
        return f"*/{rng.choice(['write', 'delete'])}"
    if kind < 0.6:
        return f"{rng.choice(NAMESPACES)}/*"
    return not_action_pattern(rng, types)


def data_pattern(rng: random.Random, types: dict[str, list[str]]) -> str:
    ns = rng.choice(NAMESPACES)
    if rng.random() < 0.5:
        return f"{ns}/{rng.choice(types[ns])}/{rng.choice(DATA_VERBS)}"
    return f"{ns}/*/{rng.choice(['data/*', 'blobs/*', '*'])}"


def make_roles(rng: random.Random, types: dict[str, list[str]]) -> list[RoleDefinition]:
    roles = []
    for i in range(N_ROLES):
        blocks = []
        for _ in range(1 if rng.random() < 0.85 else 2):
            actions = tuple(action_pattern(rng, types) for _ in range(rng.randint(1, 12)))
            not_actions = (
                tuple(not_action_pattern(rng, types) for _ in range(rng.randint(1, 4)))
                if rng.random() < 0.45
                else ()
            )
            data = (
                tuple(data_pattern(rng, types) for _ in range(rng.randint(1, 3)))
                if rng.random() < 0.2
                else ()
            )
            not_data = (data_pattern(rng, types),) if data and rng.random() < 0.3 else ()
            blocks.append(Permission(actions, not_actions, data, not_data))
        roles.append(
            RoleDefinition(
                id=f"{i:08x}-0000-4000-8000-000000000000", role_name=f"Role {i}", permissions=tuple(blocks)
            )
        )
    return roles


def make_scopes(rng: random.Random) -> list[list[str]]:
    """Return scopes by depth: [root], subscriptions, resource groups, resources, child resources."""
    levels: list[list[str]] = [["/"], [], [], [], []]
    for s in range(4):
        sub = f"/subscriptions/{s:08d}-aaaa-4bbb-8ccc-{s:012d}"
        levels[1].append(sub)
        for g in range(6):
            rg = f"{sub}/resourceGroups/rg-{g}"
            levels[2].append(rg)
            for r in range(12):
                ns = rng.choice(NAMESPACES)
                res = f"{rg}/providers/{ns}/{rng.choice(TYPE_WORDS)}/res-{r}"
                levels[3].append(res)
                for c in range(3):
                    levels[4].append(f"{res}/{rng.choice(TYPE_WORDS)}/child-{c}")
    return levels


def descendants_or_self(scope: str, all_scopes: list[str]) -> list[str]:
    if scope == "/":
        return all_scopes
    return [s for s in all_scopes if s == scope or s.startswith(scope + "/")]


def instantiate(rng: random.Random, pattern: str) -> str:
    return "".join(
        part if i == 0 else rng.choice(["x", "virtualMachines/read", "a/b/start/action", "read"]) + part
        for i, part in enumerate(pattern.split("*"))
    )


# --------------------------------------------------------------------------- naive evaluator


def naive_matches(patterns: tuple[str, ...], action: str) -> bool:
    return any(fnmatchcase(action.lower(), p.lower()) for p in patterns)


def naive_block(p: Permission, action: str, data: bool) -> bool:
    if data:
        return naive_matches(p.data_actions, action) and not naive_matches(p.not_data_actions, action)
    return naive_matches(p.actions, action) and not naive_matches(p.not_actions, action)


def naive_applies(assigned_scope: str, target: str) -> bool:
    a, t = assigned_scope.lower().rstrip("/") or "/", target.lower().rstrip("/") or "/"
    return a == "/" or t == a or t.startswith(a + "/")


def naive_check(
    roles: list[RoleDefinition],
    assignments: list[RoleAssignment],
    denies: list[DenyAssignment],
    principals: list[str],
    action: str,
    scope: str,
    data: bool,
) -> bool:
    """Scan everything for every check; return True when allowed."""
    who = {p.lower() for p in principals}
    for da in denies:
        t = scope.lower().rstrip("/") or "/"
        in_scope = (
            (t == da.scope.lower()) if da.do_not_apply_to_child_scopes else naive_applies(da.scope, scope)
        )
        targeted = EVERYONE in da.principal_ids or who & {p.lower() for p in da.principal_ids}
        excluded = who & {p.lower() for p in da.exclude_principal_ids}
        if (
            in_scope
            and targeted
            and not excluded
            and any(naive_block(p, action, data) for p in da.permissions)
        ):
            return False
    for ra in assignments:
        if not naive_applies(ra.scope, scope) or ra.principal_id.lower() not in who:
            continue
        for role in roles:
            if role.id.lower() == ra.role_definition_id.lower() and any(
                naive_block(p, action, data) for p in role.permissions
            ):
                return True
    return False


# --------------------------------------------------------------------------- workload


def build(rng: random.Random):
    types = make_types(rng)
    roles = make_roles(rng, types)
    levels = make_scopes(rng)
    all_scopes = [s for level in levels for s in level]
    principals = [f"{i:08x}-1111-4222-8333-{i:012d}" for i in range(N_PRINCIPALS)]
    level_weights = [0.01, 0.09, 0.30, 0.35, 0.25]
    assignments = []
    for i in range(N_ASSIGNMENTS):
        level = rng.choices(range(5), level_weights)[0]
        assignments.append(
            RoleAssignment(
                id=f"ra-{i}",
                scope=rng.choice(levels[level]),
                principal_id=rng.choice(principals),
                role_definition_id=rng.choice(roles).id,
            )
        )
    denies = []
    for i in range(N_DENIES):
        level = rng.choices(range(1, 5), [0.1, 0.4, 0.3, 0.2])[0]
        targets = (EVERYONE,) if rng.random() < 0.5 else tuple(rng.sample(principals, 3))
        denies.append(
            DenyAssignment(
                id=f"da-{i}",
                scope=rng.choice(levels[level]),
                permissions=(
                    Permission(actions=(deny_pattern(rng, types),), data_actions=(data_pattern(rng, types),)),
                ),
                principal_ids=targets,
                exclude_principal_ids=tuple(rng.sample(principals, 2)) if rng.random() < 0.3 else (),
                do_not_apply_to_child_scopes=rng.random() < 0.2,
            )
        )
    roles_by_id = {r.id: r for r in roles}
    checks = []
    for _ in range(N_CHECKS):
        data = rng.random() < 0.1
        caller = [rng.choice(principals), *rng.sample(principals[:N_GROUPS], rng.randint(0, 3))]
        if rng.random() < 0.5:  # targeted: an action the caller's own assignment plausibly grants
            ra = rng.choice(assignments)
            caller.append(ra.principal_id)
            scope = rng.choice(descendants_or_self(ra.scope, all_scopes))
            blocks = roles_by_id[ra.role_definition_id].permissions
            patterns = [p for b in blocks for p in (b.data_actions if data else b.actions)]
            if patterns:
                action = instantiate(rng, rng.choice(patterns))
            else:
                action = concrete_data_action(rng, types) if data else concrete_action(rng, types)
        else:
            scope = rng.choice(levels[rng.choices(range(5), [0.02, 0.08, 0.2, 0.35, 0.35])[0]])
            action = concrete_data_action(rng, types) if data else concrete_action(rng, types)
        if rng.random() < 0.1:  # callers spell things in any case
            action, scope = action.upper(), scope.upper()
        checks.append((caller, action, scope, data))
    return roles, assignments, denies, checks, len(all_scopes)


def timed(fn, checks) -> tuple[list[bool], list[int]]:
    answers, times = [], []
    clock = time.perf_counter_ns
    for caller, action, scope, data in checks:
        t0 = clock()
        allowed = fn(caller, action, scope, data)
        times.append(clock() - t0)
        answers.append(allowed)
    return answers, times


def main() -> int:
    rng = random.Random(SEED)
    t0 = time.perf_counter()
    roles, assignments, denies, checks, n_scopes = build(rng)
    t1 = time.perf_counter()
    engine = AuthorizationEngine(roles, assignments, denies)
    build_s = time.perf_counter() - t1

    def run_engine(caller, action, scope, data):
        return engine.check(caller, action, scope, data_action=data).allowed

    def run_naive(caller, action, scope, data):
        return naive_check(roles, assignments, denies, caller, action, scope, data)

    engine_answers, engine_cold = timed(run_engine, checks)  # first pass: memos start empty
    _, engine_warm = timed(run_engine, checks)
    naive_answers, naive_times = timed(run_naive, checks)

    mismatches = [(c, e, n) for c, e, n in zip(checks, engine_answers, naive_answers, strict=True) if e != n]
    if mismatches:
        for (caller, action, scope, data), e, n in mismatches[:10]:
            print(f"MISMATCH engine={e} naive={n} caller={caller} action={action} scope={scope} data={data}")
        print(f"FAIL: {len(mismatches)} of {len(checks)} checks disagree")
        return 1

    cold_med = statistics.median(engine_cold)
    warm_med = statistics.median(engine_warm)
    naive_med = statistics.median(naive_times)
    ratio = naive_med / cold_med
    granted = sum(engine_answers)
    met = ratio >= TARGET_RATIO and cold_med / 1000 < TARGET_MEDIAN_US
    result = {
        "bench": "rbac_check",
        "seed": SEED,
        "role_definitions": len(roles),
        "role_assignments": len(assignments),
        "deny_assignments": len(denies),
        "principals": N_PRINCIPALS,
        "scopes": n_scopes,
        "checks": len(checks),
        "granted": granted,
        "denied": len(checks) - granted,
        "engine_build_ms": round(build_s * 1000, 1),
        "engine_median_ns": cold_med,
        "engine_p99_ns": statistics.quantiles(engine_cold, n=100)[98],
        "engine_warm_median_ns": warm_med,
        "naive_median_ns": naive_med,
        "ratio": round(ratio, 1),
        "targets": {"ratio_min": TARGET_RATIO, "engine_median_us_max": TARGET_MEDIAN_US},
        "targets_met": met,
        "answers_agree": True,
        "python": platform.python_version(),
        "machine": platform.machine(),
        "total_s": round(time.perf_counter() - t0, 1),
    }
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(json.dumps(result, indent=2) + "\n")

    print(
        f"rbac_check: {len(roles)} roles, {len(assignments)} assignments, {len(denies)} deny "
        f"assignments, {n_scopes} scopes, {len(checks)} checks ({granted} granted, "
        f"{len(checks) - granted} denied); engine and naive agree on every check"
    )
    print(
        f"  engine median {cold_med / 1000:.2f} us (first pass; p99 {result['engine_p99_ns'] / 1000:.2f} us,"
        f" warm median {warm_med / 1000:.2f} us), built in {result['engine_build_ms']} ms"
    )
    print(f"  naive  median {naive_med / 1000:.2f} us")
    print(
        f"  ratio  {ratio:.1f}x  -> targets (>= {TARGET_RATIO:.0f}x, < {TARGET_MEDIAN_US:.0f} us) "
        f"{'met' if met else 'MISSED'}"
    )
    print(f"  wrote {RESULT} in {result['total_s']} s")
    return 0 if met else 2


if __name__ == "__main__":
    sys.exit(main())
