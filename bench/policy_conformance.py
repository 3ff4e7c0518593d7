"""Policy conformance: import every Azure built-in definition and initiative and evaluate each definition.

Reads ``shared/corpus/policy/builtin`` (Azure/azure-policy ``built-in-policies``): every file must
load and pass static validation (``warden.governance.policy.import_directory``), every
initiative's members must resolve against the definitions found, and every definition is
evaluated on a bare and a populated synthetic resource of its target type without raising.

Prints one summary line (the ``make conformance`` line) followed by any failure with its reason;
writes ``bench/results/policy_conformance.json``. Exits 1 when a file fails validation or an
evaluation raises, 0 otherwise (2 when the corpus is absent).

Run: .venv/bin/python bench/policy_conformance.py
"""

from __future__ import annotations

import collections
import json
import platform
import sys
import time
from pathlib import Path

from warden.governance.policy import ComplianceState, evaluate, import_directory, sample_parameters, sample_resource

ROOT = Path(__file__).resolve().parents[1]
BUILTIN = ROOT.parent / "shared" / "corpus" / "policy" / "builtin"
RESULT = Path(__file__).resolve().parent / "results" / "policy_conformance.json"


def main() -> int:
    if not BUILTIN.is_dir():
        print(f"policy conformance: corpus not found at {BUILTIN}", file=sys.stderr)
        return 2
    files = {
        kind: len(list((BUILTIN / kind).rglob("*.json"))) for kind in ("policyDefinitions", "policySetDefinitions")
    }
    started = time.perf_counter()
    report = import_directory(BUILTIN)
    import_seconds = time.perf_counter() - started

    outcomes: collections.Counter[str] = collections.Counter()
    exceptions: list[tuple[str, str]] = []
    error_states = 0
    started = time.perf_counter()
    for key, definition in report.definitions.items():
        parameters = sample_parameters(definition)
        for populate in (False, True):
            try:
                result = evaluate(definition, sample_resource(definition, populate=populate), parameters)
            except Exception as exc:  # any exception is a finding to report
                exceptions.append((report.files[key], repr(exc)))
                continue
            outcomes[f"{result.effect.value}/{result.compliance_state.value}"] += 1
            error_states += result.compliance_state is ComplianceState.ERROR
    evaluations = sum(outcomes.values())
    eval_seconds = time.perf_counter() - started

    print(
        f"policy: {len(report.definitions)}/{files['policyDefinitions']} definitions and "
        f"{len(report.set_definitions)}/{files['policySetDefinitions']} initiatives valid, "
        f"{len(report.failures)} failure(s), {len(report.reference_problems)} unresolved member(s); "
        f"{evaluations} evaluations, {len(exceptions)} exception(s), {error_states} implicit deny(s) "
        f"[{import_seconds:.1f}s import, {eval_seconds * 1e6 / max(evaluations, 1):.0f} us/evaluation]"
    )
    for path, reason in report.failures:
        print(f"  INVALID {path}: {reason}")
    for path, problem in report.reference_problems:
        print(f"  MEMBER  {path}: {problem}")
    for path, reason in exceptions:
        print(f"  RAISED  {path}: {reason}")

    RESULT.parent.mkdir(parents=True, exist_ok=True)
    RESULT.write_text(
        json.dumps(
            {
                "definitions": {"files": files["policyDefinitions"], "valid": len(report.definitions)},
                "initiatives": {"files": files["policySetDefinitions"], "valid": len(report.set_definitions)},
                "failures": [{"file": p, "reason": r} for p, r in report.failures],
                "unresolved_members": [{"file": p, "problem": r} for p, r in report.reference_problems],
                "evaluations": evaluations,
                "exceptions": [{"file": p, "error": r} for p, r in exceptions],
                "implicit_denies": error_states,
                "outcomes": dict(outcomes.most_common()),
                "import_seconds": round(import_seconds, 3),
                "evaluation_us": round(eval_seconds * 1e6 / max(evaluations, 1), 1),
                "python": platform.python_version(),
            },
            indent=2,
        )
    )
    return 1 if report.failures or exceptions else 0


if __name__ == "__main__":
    sys.exit(main())
