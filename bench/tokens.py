"""Warden's token service, per core, next to Keycloak's published sizing figures.

1. Starts a real server (``warden init`` + ``warden serve`` subprocesses, as the e2e tests do) and,
   before any clock starts, creates one service principal with a client secret per grant client,
   a web application with a secret and redirect URI, and ``--users`` users per sign-in client, each
   with a password and a confirmed TOTP method (``tests/support/signin.py``'s ``Directory``).
2. **Client-credentials grants**: ``--grant-clients`` processes each POST what MSAL's
   ``acquire_token_for_client`` posts (``grant_type=client_credentials``, ``client_id``,
   ``client_secret``, ``scope=https://management.azure.com/.default``) to
   ``/{tenant}/oauth2/v2.0/token`` over HTTPS, back to back, in two modes run one after the other:
   a new TLS connection per grant (how Keycloak measured: "each client runs only a single request")
   and one kept-alive connection per client (how MSAL's HTTP session behaves).
3. **Interactive sign-ins**: ``--signin-clients`` processes each run, per sign-in, a fresh cookie jar
   and TLS connection through the real sign-in page: authorize (code + PKCE S256, nonce, state) →
   password form → TOTP form → 302 with the code → code redemption at the token endpoint (client
   secret + ``code_verifier``). Every step's answer is checked; any unexpected one aborts the run.
   A TOTP code is accepted once per user per 30 s step, so each client cycles through its own users
   and waits for the next step only if every one of them has signed in during the current one.
4. Each phase: the clients connect, run ``--warmup`` seconds untimed, then ``--seconds`` timed.
   Operations completed inside the window are counted; the server process's CPU seconds (user +
   system, all threads, from /proc/PID/stat) are read at both ends of the window. Reported: wall
   rate (operations / window), server cores busy (CPU seconds / window) and the per-core rate
   (operations / server CPU second), which is what Keycloak's "per vCPU" figures size.
5. With the server stopped, the CPU cost of one argon2 verification with Warden's parameters and
   with Keycloak's defaults (``--hash-repeats`` each, median), so the login figures can also be
   compared at equal hashing cost (an estimate, labelled as one).

Prints a table and writes ``bench/results/tokens.json``. No target: exit 1 only if an operation
fails or a phase completes nothing.
"""

from __future__ import annotations

import argparse
import json
import math
import multiprocessing as mp
import os
import platform
import queue
import resource
import secrets
import ssl
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from argon2 import PasswordHasher

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests"))

from support.server import ARM_SCOPE, WardenServer, start_server, stop_server
from support.signin import Directory, SignInUser, pkce_pair, query_of, submit
from warden.identity.passwords import DEFAULT_HASHER, hash_password, verify_password

RESULTS = Path(__file__).resolve().parent / "results" / "tokens.json"
REDIRECT = "https://app.contoso.test/callback"
USER_SCOPE = "openid profile offline_access User.Read"
TOTP_STEP = 30
CLOCK_TICKS = os.sysconf("SC_CLK_TCK")

# Keycloak's "Concepts for sizing CPU and memory resources" guide, as published for Keycloak 26.2 and
# later (the Red Hat build of Keycloak 26.2 and 26.4 guides carry the same figures; the 26.0 guide
# said 200 client credential grants per vCPU).
KEYCLOAK = {
    "source": "'Concepts for sizing CPU and memory resources', Keycloak High Availability guide",
    "url": "https://www.keycloak.org/high-availability/single-cluster/concepts-memory-and-cpu-sizing",
    "also": "https://docs.redhat.com/en/documentation/red_hat_build_of_keycloak/26.2/html/high_availability_guide/"
    "concepts-memory-and-cpu-sizing-",
    "keycloak_version": "26.2+ (26.x guide; 26.0 gave 200 grants/s per vCPU)",
    "password_logins_per_s_per_vcpu": 15,
    "client_credential_grants_per_s_per_vcpu": 120,
    "wording": {
        "logins": "For each 15 password-based user logins per second, allocate 1 vCPU to the cluster "
        "(tested with up to 300 per second). Keycloak spends most of the CPU time hashing the password "
        "provided by the user, and it is proportional to the number of hash iterations.",
        "grants": "For each 120 client credential grants per second, 1 vCPU to the cluster (tested with up "
        "to 2000 per second).* Most CPU time goes into creating new TLS connections, as each client runs "
        "only a single request.",
        "footnote": "* For non-ARM CPU architectures on AWS (c7i/c7a vs. c7g) client credential grants and "
        "refresh token workloads delivered up to two times the operations per CPU core; password hashing "
        "a constant number per core.",
    },
    "reference_setup": "3 Pods on OpenShift/ROSA, c7g.2xlarge (ARM Graviton3) nodes, Aurora PostgreSQL multi-AZ, "
    "OpenJDK 21, 20,000 users and 20,000 clients, sessions stored in the database",
    "password_hashing": "Argon2 (Keycloak default), 5 iterations, 7 MiB memory, parallelism 1",
    "login_flow": "authorization code login with username + password only (no second factor)",
}
# Keycloak's default Argon2 parameters as its sizing guide states them (5 iterations, 7 MiB); parallelism 1
# is Keycloak's Argon2 provider default.
KEYCLOAK_HASHER = PasswordHasher(time_cost=5, memory_cost=7 * 1024, parallelism=1)


# ------------------------------------------------------------------------------------ measuring


def server_cpu_seconds(pid: int) -> float:
    """User + system CPU seconds of process ``pid`` and all its threads (and waited-for children)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    # After the ')' that closes comm: field 3 is state, so utime..cstime (14..17) are indexes 11..14.
    return sum(int(x) for x in fields[11:15]) / CLOCK_TICKS


def _ssl_context(ca: str) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=ca)


class Window:
    """Shared timing for one phase: clients wait on ``ready`` then read the window's bounds
    (CLOCK_MONOTONIC, the same in every process) from ``bounds`` once ``go`` passes."""

    def __init__(self, context: Any, clients: int) -> None:
        self.ready = context.Barrier(clients + 1)
        self.go = context.Barrier(clients + 1)
        self.bounds = context.Array("d", 2)
        self.results = context.Queue()

    def wait_for_start(self) -> tuple[float, float]:
        self.ready.wait()
        self.go.wait()
        return self.bounds[0], self.bounds[1]


# --------------------------------------------------------------------------------------- grants


def _grant_client(index: int, endpoint: str, ca: str, tenant: str, client_id: str, secret: str, reuse: bool, window):
    """One grant client: back-to-back client-credentials grants until the window closes; puts
    {"ops", "latencies", "failures"} for the timed window on ``window.results``."""
    url = f"{endpoint}/{tenant}/oauth2/v2.0/token"
    body = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret, "scope": ARM_SCOPE}
    headers = {"x-client-sku": "MSAL.Python", "x-client-ver": "1.31.0", "Accept": "application/json"}
    context = _ssl_context(ca)
    kept = httpx.Client(verify=context, timeout=60) if reuse else None
    ops, latencies, failures = 0, [], []

    def grant() -> None:
        if kept is not None:
            response = kept.post(url, data=body, headers=headers)
        else:
            with httpx.Client(verify=context, timeout=60) as http:
                response = http.post(url, data=body, headers=headers)
        if response.status_code != 200 or not response.json().get("access_token"):
            raise RuntimeError(f"grant client {index}: HTTP {response.status_code}: {response.text[:300]}")

    try:
        grant()  # imports, first handshake: before the barrier
        start, end = window.wait_for_start()
        while (now := time.perf_counter()) < end:
            grant()
            done = time.perf_counter()
            if start <= done <= end:
                ops += 1
                latencies.append(done - now)
    except Exception as error:  # reported to the parent, which fails the run
        failures.append(str(error)[:500])
    finally:
        if kept is not None:
            kept.close()
    window.results.put({"ops": ops, "latencies": latencies, "failures": failures})


# ------------------------------------------------------------------------------------- sign-ins


class UserRotation:
    """A client's own users; ``next()`` returns one that has not signed in during the current TOTP step
    (a code is accepted once per user per step), sleeping until the next step only if none is left."""

    def __init__(self, users: list[SignInUser]) -> None:
        self.users = users
        self.last_step = [-1] * len(users)
        self.position = 0
        self.step_waits = 0

    def next(self) -> SignInUser:
        while True:
            step = int(time.time() // TOTP_STEP)
            for offset in range(len(self.users)):
                i = (self.position + offset) % len(self.users)
                if self.last_step[i] < step:
                    self.position = i + 1
                    self.last_step[i] = step
                    return self.users[i]
            self.step_waits += 1
            time.sleep((step + 1) * TOTP_STEP - time.time() + 0.05)


def sign_in_once(endpoint: str, context: ssl.SSLContext, tenant: str, app: dict[str, str], user: SignInUser) -> None:
    """One interactive sign-in in a new browser (cookie jar, TLS connection): authorize, password,
    TOTP, code redemption. Raises RuntimeError on any unexpected answer."""
    verifier, challenge = pkce_pair()
    state, nonce = secrets.token_urlsafe(16), secrets.token_urlsafe(16)
    query = {
        "client_id": app["client_id"],
        "response_type": "code",
        "redirect_uri": REDIRECT,
        "scope": USER_SCOPE,
        "code_challenge": challenge,
        "code_challenge_method": "S256",
        "state": state,
        "nonce": nonce,
        "response_mode": "query",
    }
    with httpx.Client(base_url=endpoint, verify=context, timeout=60) as browser:
        page = browser.get(f"/{tenant}/oauth2/v2.0/authorize?{urlencode(query)}")
        if page.status_code != 200 or 'name="passwd"' not in page.text:
            raise RuntimeError(f"authorize: HTTP {page.status_code}: {page.text[:300]}")
        mfa = submit(browser, page, login=user.upn, passwd=user.password)
        if 'name="otc"' not in mfa.text:
            raise RuntimeError(f"password step: HTTP {mfa.status_code}: {mfa.text[:300]}")
        done = submit(browser, mfa, otc=user.code())
        if done.status_code != 302:
            raise RuntimeError(f"TOTP step: HTTP {done.status_code}: {done.text[:300]}")
        params = query_of(done)
        if params.get("state") != state or "code" not in params:
            raise RuntimeError(f"redirect without code or with the wrong state: {done.headers['location'][:300]}")
        token = browser.post(
            f"/{tenant}/oauth2/v2.0/token",
            data={
                "grant_type": "authorization_code",
                "client_id": app["client_id"],
                "client_secret": app["secret"],
                "code": params["code"],
                "redirect_uri": REDIRECT,
                "code_verifier": verifier,
                "scope": USER_SCOPE,
            },
        )
        answer = token.json() if token.headers.get("content-type", "").startswith("application/json") else {}
        if token.status_code != 200 or not answer.get("access_token") or not answer.get("id_token"):
            raise RuntimeError(f"code redemption: HTTP {token.status_code}: {token.text[:300]}")


def _signin_client(index: int, endpoint: str, ca: str, tenant: str, app: dict[str, str], users, window):
    """One sign-in client: back-to-back interactive sign-ins until the window closes; puts
    {"ops", "latencies", "failures", "step_waits"} for the timed window on ``window.results``."""
    context = _ssl_context(ca)
    rotation = UserRotation(users)
    ops, latencies, failures = 0, [], []
    try:
        sign_in_once(endpoint, context, tenant, app, rotation.next())  # imports, first handshake
        start, end = window.wait_for_start()
        rotation.step_waits = 0
        while (now := time.perf_counter()) < end:
            sign_in_once(endpoint, context, tenant, app, rotation.next())
            done = time.perf_counter()
            if start <= done <= end:
                ops += 1
                latencies.append(done - now)
    except Exception as error:  # reported to the parent, which fails the run
        failures.append(str(error)[:500])
    window.results.put({"ops": ops, "latencies": latencies, "failures": failures, "step_waits": rotation.step_waits})


# ---------------------------------------------------------------------------------------- phases


def run_phase(server: WardenServer, name: str, targets: list[tuple[Any, tuple]], warmup: float, seconds: float):
    """Start one process per (function, args) — each gets the phase's ``Window`` as last argument —,
    let them warm up, and time ``seconds``. Returns the phase's figures."""
    context = mp.get_context("fork")
    window = Window(context, len(targets))
    processes = [context.Process(target=fn, args=(*args, window), daemon=True) for fn, args in targets]
    clients_cpu_before = os.times()
    for process in processes:
        process.start()
    window.ready.wait()
    start = time.perf_counter() + warmup
    window.bounds[0], window.bounds[1] = start, start + seconds
    window.go.wait()
    time.sleep(max(0.0, start - time.perf_counter()))
    cpu_start = server_cpu_seconds(server.process.pid)
    time.sleep(max(0.0, start + seconds - time.perf_counter()))
    cpu_end = server_cpu_seconds(server.process.pid)
    reports: list[dict[str, Any]] = []
    deadline = time.monotonic() + 120  # a sign-in in flight (or waiting for a TOTP step) may finish late
    while len(reports) < len(processes):
        try:
            reports.append(window.results.get(timeout=1))
        except queue.Empty:
            if time.monotonic() > deadline or all(not p.is_alive() for p in processes):
                break
    for process in processes:
        process.join(timeout=10)
        if process.is_alive():
            process.kill()
    clients_cpu_after = os.times()
    ops = sum(r["ops"] for r in reports)
    server_cpu = cpu_end - cpu_start
    latencies = sorted(lat for r in reports for lat in r["latencies"])
    failures = [f for r in reports for f in r["failures"]]
    if len(reports) < len(processes):
        failures.append(f"{len(processes) - len(reports)} client process(es) never reported")
    client_cpu = (clients_cpu_after.children_user + clients_cpu_after.children_system) - (
        clients_cpu_before.children_user + clients_cpu_before.children_system
    )
    return {
        "phase": name,
        "clients": len(processes),
        "window_s": seconds,
        "operations": ops,
        "per_s_wall": round(ops / seconds, 2),
        "server_cpu_s": round(server_cpu, 2),
        "server_cores_busy": round(server_cpu / seconds, 2),
        "per_s_per_server_core": round(ops / server_cpu, 2) if server_cpu > 0 else None,
        # Clients' CPU over their whole life (connect, warm-up, window): the 2 cores are shared.
        "clients_cpu_s_total": round(client_cpu, 2),
        "latency_median_ms": round(statistics.median(latencies) * 1000, 1) if latencies else None,
        "latency_p95_ms": round(latencies[math.ceil(0.95 * len(latencies)) - 1] * 1000, 1) if latencies else None,
        "totp_step_waits": sum(r.get("step_waits", 0) for r in reports),
        "failures": failures,
    }


def idle_server_cores(server: WardenServer, seconds: float) -> float:
    """The server's CPU use with no requests (job pollers, maintenance), in cores, over ``seconds``."""
    before = server_cpu_seconds(server.process.pid)
    time.sleep(seconds)
    return (server_cpu_seconds(server.process.pid) - before) / seconds


def create_directory(server: WardenServer, signin_clients: int, users_per_client: int):
    """The web app and every sign-in client's users, through Warden's directory functions on the
    server's database. Returns (app dict, users per client, seconds taken)."""
    started = time.perf_counter()
    directory = Directory(server.data_dir, server.tenant)
    try:
        registered = directory.app(web=REDIRECT, secret=True)
        users = [[directory.user(mfa=True) for _ in range(users_per_client)] for _ in range(signin_clients)]
    finally:
        directory.close()
    app = {"client_id": registered.client_id, "secret": registered.secret or ""}
    return app, users, time.perf_counter() - started


def verify_cpu_seconds(hasher: PasswordHasher, repeats: int) -> float:
    """Median CPU seconds (all threads of this process) of one argon2 verification with ``hasher``."""
    stored = hash_password("correct horse battery staple 42", hasher=hasher)
    samples = []
    for _ in range(repeats):
        before = resource.getrusage(resource.RUSAGE_SELF)
        ok, _ = verify_password(stored, "correct horse battery staple 42", hasher=hasher)
        after = resource.getrusage(resource.RUSAGE_SELF)
        assert ok
        samples.append((after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime))
    return statistics.median(samples)


def _print_phase(result: dict[str, Any], keycloak_per_core: float) -> None:
    per_core = result["per_s_per_server_core"]
    ratio = f"{per_core / keycloak_per_core:.2f}x" if per_core else "-"
    print(
        f"{result['phase']:<34}{result['clients']:>3}{result['operations']:>7}{result['per_s_wall']:>9.1f}"
        f"{result['server_cores_busy']:>7.2f}{per_core or 0:>11.1f}{keycloak_per_core:>8}{ratio:>8}"
        f"{result['latency_median_ms'] or 0:>8.1f}{result['latency_p95_ms'] or 0:>8.1f}"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=20.0, help="timed window per phase")
    parser.add_argument("--warmup", type=float, default=4.0, help="untimed seconds before each window")
    parser.add_argument("--grant-clients", type=int, default=4)
    parser.add_argument("--signin-clients", type=int, default=3)
    parser.add_argument("--users", type=int, default=400, help="users (password + TOTP) per sign-in client")
    parser.add_argument("--hash-repeats", type=int, default=9, help="argon2 verifications timed per parameter set")
    args = parser.parse_args()

    load_before = os.getloadavg()[0]
    failures: list[str] = []
    with tempfile.TemporaryDirectory(prefix="warden-bench-tokens-") as tmp:
        server = start_server(Path(tmp))
        try:
            principals = [server.new_principal(f"bench-grant-{i}") for i in range(args.grant_clients)]
            idle_cores = idle_server_cores(server, 3.0)
            app, users, setup_seconds = create_directory(server, args.signin_clients, args.users)
            print(f"created {args.signin_clients * args.users} users with TOTP in {setup_seconds:.1f} s (untimed)")
            phases = []
            for name, reuse in (("grants, new TLS connection each", False), ("grants, kept-alive connection", True)):
                targets = [
                    (_grant_client, (i, server.endpoint, server.ca, server.tenant, p.client_id, p.secret, reuse))
                    for i, p in enumerate(principals)
                ]
                phases.append(run_phase(server, name, targets, args.warmup, args.seconds))
            targets = [
                (_signin_client, (i, server.endpoint, server.ca, server.tenant, app, users[i]))
                for i in range(args.signin_clients)
            ]
            phases.append(run_phase(server, "sign-ins, password + TOTP", targets, args.warmup, args.seconds))
        finally:
            stop_server(server)
    # With the server stopped: the CPU cost of one verification with Warden's and with Keycloak's
    # default argon2 parameters, so the login comparison can be read at equal hashing cost.
    warden_hash_cpu = verify_cpu_seconds(DEFAULT_HASHER, args.hash_repeats)
    keycloak_hash_cpu = verify_cpu_seconds(KEYCLOAK_HASHER, args.hash_repeats)
    load_after = os.getloadavg()[0]

    keycloak_rates = [
        KEYCLOAK["client_credential_grants_per_s_per_vcpu"],
        KEYCLOAK["client_credential_grants_per_s_per_vcpu"],
        KEYCLOAK["password_logins_per_s_per_vcpu"],
    ]
    print(
        f"\n{'phase':<34}{'cl':>3}{'ops':>7}{'ops/s':>9}{'cores':>7}{'ops/core-s':>11}{'KC/vCPU':>8}"
        f"{'vs KC':>8}{'p50 ms':>8}{'p95 ms':>8}"
    )
    for result, keycloak_rate in zip(phases, keycloak_rates, strict=True):
        _print_phase(result, keycloak_rate)
        result["keycloak_per_s_per_vcpu"] = keycloak_rate
        per_core = result["per_s_per_server_core"]
        result["ratio_to_keycloak"] = round(per_core / keycloak_rate, 3) if per_core else None
        failures += [f"{result['phase']}: {f}" for f in result["failures"]]
        if result["operations"] == 0:
            failures.append(f"{result['phase']}: no operation completed in the window")
    signins = phases[2]
    # Swap Warden's hash cost for Keycloak's in the measured server CPU: an estimate, not a measurement.
    cpu_at_keycloak_cost = signins["server_cpu_s"] - signins["operations"] * (warden_hash_cpu - keycloak_hash_cpu)
    at_keycloak_cost = signins["operations"] / cpu_at_keycloak_cost if cpu_at_keycloak_cost > 0 else None
    hashing = {
        "warden": {
            "algorithm": "argon2id",
            "time_cost": DEFAULT_HASHER.time_cost,
            "memory_cost_kib": DEFAULT_HASHER.memory_cost,
            "parallelism": DEFAULT_HASHER.parallelism,
            "verify_cpu_s": round(warden_hash_cpu, 4),
        },
        "keycloak_default": {
            "algorithm": "argon2id",
            "time_cost": KEYCLOAK_HASHER.time_cost,
            "memory_cost_kib": KEYCLOAK_HASHER.memory_cost,
            "parallelism": KEYCLOAK_HASHER.parallelism,
            "verify_cpu_s": round(keycloak_hash_cpu, 4),
        },
        "cost_ratio": round(warden_hash_cpu / keycloak_hash_cpu, 2),
    }
    w = hashing["warden"]
    print(
        f"\nPassword hashing: Warden argon2id t={w['time_cost']}, m={w['memory_cost_kib'] // 1024} MiB, "
        f"p={w['parallelism']} (OWASP's recommended profile): {warden_hash_cpu * 1000:.0f} ms CPU "
        f"per verification here. Keycloak's figure uses its default, {KEYCLOAK['password_hashing']}: "
        f"{keycloak_hash_cpu * 1000:.0f} ms CPU here ({hashing['cost_ratio']:.1f}x cheaper). Warden's sign-in also "
        "includes the TOTP step and code redemption; Keycloak's login is password only."
    )
    if at_keycloak_cost:
        print(
            f"Estimate, not measured: at Keycloak's hashing cost Warden's sign-ins would be {at_keycloak_cost:.1f} "
            f"per server core-second ({at_keycloak_cost / KEYCLOAK['password_logins_per_s_per_vcpu']:.2f}x "
            "Keycloak's 15)."
        )
    print(
        f"Keycloak figures: {KEYCLOAK['source']}, Keycloak {KEYCLOAK['keycloak_version']}:\n  {KEYCLOAK['url']}\n"
        f"  measured on {KEYCLOAK['reference_setup']}; its grant clients opened a new TLS connection per grant."
    )
    print(
        "ops/core-s = operations / server CPU seconds in the window (all server threads; idle server "
        f"{idle_cores:.3f} cores); the clients share the same cores, so wall rates stay below cores x per-core rate."
    )
    result = {
        "benchmark": "tokens",
        "seconds": args.seconds,
        "warmup_s": args.warmup,
        "users_per_signin_client": args.users,
        "user_setup_s": round(setup_seconds, 1),
        # Included in every phase's server CPU: background work with no requests at all.
        "server_idle_cores": round(idle_cores, 3),
        "phases": phases,
        "grants_per_s": phases[0]["per_s_wall"],
        "grants_per_s_per_server_core": phases[0]["per_s_per_server_core"],
        "grants_kept_alive_per_s": phases[1]["per_s_wall"],
        "grants_kept_alive_per_s_per_server_core": phases[1]["per_s_per_server_core"],
        "signins_per_s": signins["per_s_wall"],
        "signins_per_s_per_server_core": signins["per_s_per_server_core"],
        "signins_per_s_per_server_core_at_keycloak_hash_cost_estimate": round(at_keycloak_cost, 2)
        if at_keycloak_cost
        else None,
        "password_hashing": hashing,
        "keycloak": KEYCLOAK,
        "failures": failures,
        "python": platform.python_version(),
        "cpus": mp.cpu_count(),
        # Other work on the machine skews every figure: the 1-minute load average before and after.
        "load_average_1m": [round(load_before, 2), round(load_after, 2)],
    }
    RESULTS.parent.mkdir(exist_ok=True)
    RESULTS.write_text(json.dumps(result, indent=2) + "\n")
    print(f"load average (1 min) before/after: {load_before:.2f} / {load_after:.2f}\nwrote {RESULTS}")
    for failure in failures:
        print(f"FAIL: {failure}")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
