"""KQL conformance: run every DEV docs case through ``warden.monitor.kql.run`` and compare with Kusto.

Each case of ``shared/corpus/kql/docs-cases.dev.jsonl`` carries the result Microsoft's engine gave;
``warden.monitor.kql.conformance.compare`` applies the corpus' comparison rules. Cases run in a
worker process so that one that hangs or crashes is recorded (timeout/crash) and the run goes on.

Prints the overall pass rate, the pass rate among cases whose tags use only supported operators
and functions, per-operator and per-function pass rates, and the failures; writes everything to
``bench/results/kql_conformance.json``. Exits 0 (a conformance figure, not a gate).
"""

from __future__ import annotations

import argparse
import collections
import json
import multiprocessing as mp
import sys
import time
import traceback
from pathlib import Path
from typing import Any

from warden.monitor.kql.conformance import (
    SUPPORTED_FUNCTIONS,
    SUPPORTED_OPERATORS,
    compare,
    should_skip,
    unsupported_tags,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
CASES = CORPUS / "kql" / "docs-cases.dev.jsonl"
FIXTURES = CORPUS / "kql" / "fixtures"
RESULTS = Path(__file__).resolve().parent / "results" / "kql_conformance.json"

NOT_IMPLEMENTED = "run() not implemented"


# ------------------------------------------------------------------------------------- the worker


def _load_run() -> tuple[Any, str | None]:
    """Return (run, None), or (None, why) when the engine's entry point is not there yet."""
    try:
        import warden.monitor.kql as kql  # imported lazily: the package is being written
    except ImportError:
        return None, NOT_IMPLEMENTED
    except Exception as exc:  # a half-written package must not stop the bench
        return None, f"importing warden.monitor.kql failed: {type(exc).__name__}: {exc}"
    run = getattr(kql, "run", None)
    return (run, None) if callable(run) else (None, NOT_IMPLEMENTED)


def _fixture_tables() -> dict[str, Path]:
    return {path.stem: path for path in sorted(FIXTURES.glob("*.csv"))} if FIXTURES.is_dir() else {}


def _run_case(run: Any, case: dict[str, Any]) -> dict[str, Any]:
    """Return the outcome of one case: its result (columns, types, rows) or its error."""
    tables = {} if case.get("inline_input", True) else _fixture_tables()
    try:
        result = run(case["kql"], tables)
    except Exception as exc:
        kind = type(exc).__name__
        known = any(base.__name__ == "KqlError" for base in type(exc).__mro__)
        status = "error" if known else "crash"
        where = "" if known else " at " + traceback.format_tb(exc.__traceback__)[-1].strip().splitlines()[0]
        return {"status": status, "reason": f"{kind}: {str(exc).splitlines()[0] if str(exc) else ''}{where}"}
    return {
        "status": "ran",
        "columns": list(result.columns),
        "types": [str(t) for t in result.types],
        "rows": json.loads(json.dumps(result.rows, default=str)),
    }


def _worker(connection: Any) -> None:
    run, why = _load_run()
    connection.send(why)
    while True:
        case = connection.recv()
        if case is None:
            return
        connection.send(_run_case(run, case))


class _Runner:
    """A worker process that runs cases one at a time; restarted after a timeout or a crash."""

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.context = mp.get_context("fork" if "fork" in mp.get_all_start_methods() else "spawn")
        self.process: Any = None
        self.connection: Any = None
        self.unavailable: str | None = None

    def _start(self) -> None:
        parent, child = self.context.Pipe()
        self.process = self.context.Process(target=_worker, args=(child,), daemon=True)
        self.process.start()
        self.connection = parent
        self.unavailable = parent.recv()

    def run(self, case: dict[str, Any]) -> dict[str, Any]:
        if self.process is None or not self.process.is_alive():
            self._start()
        if self.unavailable:
            return {"status": "fail", "reason": self.unavailable}
        self.connection.send(case)
        if not self.connection.poll(self.timeout):
            self.stop()
            return {"status": "timeout", "reason": f"no result within {self.timeout:g} s"}
        try:
            return self.connection.recv()
        except EOFError:  # the worker died mid-case (a segfault, an abort, os._exit)
            self.stop()
            return {"status": "crash", "reason": "the worker process died"}

    def stop(self) -> None:
        if self.process is not None:
            if self.process.is_alive():
                self.process.kill()
            self.process.join()
            self.process = None


# ------------------------------------------------------------------------------------- reporting


def _judge(case: dict[str, Any], outcome: dict[str, Any]) -> tuple[str, str]:
    """Return (status, reason): pass, fail (wrong answer), error/crash/timeout (no answer)."""
    if outcome["status"] != "ran":
        return outcome["status"], outcome["reason"]
    try:
        ok, reason = compare(case["expected"], outcome, case["kql"])
    except Exception as exc:
        return "fail", f"result could not be compared: {type(exc).__name__}: {exc}"
    return ("pass", reason) if ok else ("fail", reason)


def _rate(passed: int, total: int) -> str:
    return f"{passed}/{total} ({100 * passed / total:.1f} %)" if total else "0/0"


def _tally(records: list[dict[str, Any]], key: str) -> dict[str, dict[str, int]]:
    table: dict[str, dict[str, int]] = collections.defaultdict(lambda: {"cases": 0, "passed": 0})
    for record in records:
        if record["status"] == "skip":
            continue
        for tag in set(record["tags"].get(key, ())):
            table[tag]["cases"] += 1
            table[tag]["passed"] += record["status"] == "pass"
    return dict(sorted(table.items(), key=lambda item: (-item[1]["cases"], item[0])))


def _print_table(title: str, table: dict[str, dict[str, int]], supported: frozenset[str]) -> None:
    print(f"\n{title:<34} {'cases':>5} {'passed':>6} {'rate':>7}  supported")
    for name, row in table.items():
        rate = 100 * row["passed"] / row["cases"]
        print(f"{name:<34} {row['cases']:>5} {row['passed']:>6} {rate:>6.1f}%  {'yes' if name in supported else ''}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--timeout", type=float, default=20.0, help="seconds allowed per case (default 20)")
    parser.add_argument("--only", default="", help="run only cases whose id contains this text")
    parser.add_argument("--show", type=int, default=25, help="failures to print (all are in the JSON)")
    args = parser.parse_args()

    if not CASES.is_file():
        print(f"KQL conformance corpus not found at {CASES}; nothing to do.")
        return 0
    cases = [json.loads(line) for line in CASES.read_text().splitlines() if line.strip()]
    cases = [c for c in cases if args.only in c["id"]]

    started = time.perf_counter()
    runner = _Runner(args.timeout)
    records = []
    try:
        for case in cases:
            skip = should_skip(case["kql"])
            if skip:
                status, reason = "skip", skip
            else:
                case_started = time.perf_counter()
                status, reason = _judge(case, runner.run(case))
                reason = reason if status != "pass" else f"{reason} ({time.perf_counter() - case_started:.2f} s)"
            records.append(
                {
                    "id": case["id"],
                    "status": status,
                    "reason": reason,
                    "tags": case["tags"],
                    "unsupported": unsupported_tags(case["tags"]),
                    "source": case.get("source"),
                }
            )
    finally:
        runner.stop()
    elapsed = time.perf_counter() - started

    counted = [r for r in records if r["status"] != "skip"]
    supported = [r for r in counted if not r["unsupported"]]
    passed = sum(r["status"] == "pass" for r in counted)
    passed_supported = sum(r["status"] == "pass" for r in supported)
    statuses = collections.Counter(r["status"] for r in records)
    per_operator, per_function = _tally(records, "operators"), _tally(records, "functions")

    print(f"KQL conformance on {CASES.name}: {len(records)} cases, {statuses['skip']} skipped (not reproducible)")
    print(f"overall pass rate:          {_rate(passed, len(counted))}")
    print(f"supported-only pass rate:   {_rate(passed_supported, len(supported))}")
    print("outcomes: " + ", ".join(f"{k} {v}" for k, v in sorted(statuses.items())))
    _print_table("operator", per_operator, SUPPORTED_OPERATORS)
    functions = {k: v for k, v in per_function.items() if k in SUPPORTED_FUNCTIONS}
    others = len(per_function) - len(functions)
    _print_table(f"function (supported; {others} others in JSON)", functions, SUPPORTED_FUNCTIONS)

    failures = [r for r in records if r["status"] not in {"pass", "skip"}]
    reasons = collections.Counter(r["reason"].split(":")[0][:60] for r in failures)
    print("\nmost common failure reasons:")
    for reason, count in reasons.most_common(10):
        print(f"  {count:>4}  {reason}")
    shown = [r for r in failures if not r["unsupported"]][: args.show]
    if shown:
        print(f"\nfailing supported-only cases (first {len(shown)}):")
        for record in shown:
            print(f"  {record['id']}: [{record['status']}] {record['reason'][:150]}")

    RESULTS.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "corpus": str(CASES),
        "cases": len(records),
        "skipped": statuses["skip"],
        "counted": len(counted),
        "passed": passed,
        "pass_rate": passed / len(counted) if counted else 0.0,
        "supported_cases": len(supported),
        "supported_passed": passed_supported,
        "supported_pass_rate": passed_supported / len(supported) if supported else 0.0,
        "outcomes": dict(statuses),
        "per_operator": per_operator,
        "per_function": per_function,
        "failures": [{k: r[k] for k in ("id", "status", "reason", "unsupported", "source")} for r in failures],
        "skips": [{"id": r["id"], "reason": r["reason"]} for r in records if r["status"] == "skip"],
        "elapsed_s": round(elapsed, 2),
    }
    RESULTS.write_text(json.dumps(summary, indent=2) + "\n")
    print(f"\nwrote {RESULTS.relative_to(ROOT)} ({elapsed:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
