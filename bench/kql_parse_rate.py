"""Parse rate of the KQL front-end over the real-world corpus and the docs conformance cases.

Parses every ``.kql`` file under ``../shared/corpus/kql/real/`` and every ``kql`` field of
``../shared/corpus/kql/docs-cases.dev.jsonl`` with ``warden.monitor.kql.parse``, prints the parse
rate of each set with the top failure causes (grouped by error message pattern, with one example
file each) and the parse throughput, and writes ``bench/results/kql_parse_rate.json``.

Exits 1 if anything but a ``KqlError`` escapes ``parse``, 2 if the real-world rate is below the
target (97 %), 0 otherwise; exits 0 with a note when the corpus is absent.

Run: .venv/bin/python bench/kql_parse_rate.py [--all] (``--all`` lists every failure)
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

from warden.monitor.kql import KqlError, parse

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus" / "kql"
RESULT = ROOT / "bench" / "results" / "kql_parse_rate.json"
TARGET_RATE = 0.97


def failure_pattern(error: Exception) -> str:
    """The error's kind and message with positions and numbers blanked, to group similar failures."""
    message = error.message if isinstance(error, KqlError) else str(error)
    message = re.sub(r"\d+", "N", message)
    return f"{type(error).__name__}: {message}"


def measure(cases: list[tuple[str, str]]) -> dict:
    """Parse every ``(name, text)``; return counts, rate, seconds and failures grouped by pattern."""
    failures: dict[str, list[str]] = defaultdict(list)
    crashes: list[str] = []
    started = time.perf_counter()
    for name, text in cases:
        try:
            parse(text)
        except KqlError as exc:
            failures[failure_pattern(exc)].append(f"{name}: {exc}")
        except Exception as exc:  # a bug: only KqlError may escape parse
            crashes.append(f"{name}: {type(exc).__name__}: {exc}")
            failures[failure_pattern(exc)].append(f"{name}: {type(exc).__name__}: {exc}")
    seconds = time.perf_counter() - started
    failed = sum(len(v) for v in failures.values())
    total = len(cases)
    return {
        "total": total,
        "parsed": total - failed,
        "rate": (total - failed) / total if total else 1.0,
        "seconds": seconds,
        "crashes": crashes,
        "failures": dict(sorted(failures.items(), key=lambda kv: -len(kv[1]))),
    }


def real_cases() -> list[tuple[str, str]]:
    root = CORPUS / "real"
    return [
        (str(p.relative_to(root)), p.read_text(encoding="utf-8", errors="replace")) for p in sorted(root.rglob("*.kql"))
    ]


def docs_cases() -> list[tuple[str, str]]:
    path = CORPUS / "docs-cases.dev.jsonl"
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return [(row["id"], row["kql"]) for row in rows]


def report(title: str, result: dict, show_all: bool) -> None:
    print(f"{title}: {result['parsed']}/{result['total']} parsed = {result['rate']:.2%} ({result['seconds']:.2f} s)")
    causes = Counter({pattern: len(items) for pattern, items in result["failures"].items()})
    for pattern, count in causes.most_common(None if show_all else 10):
        print(f"  {count:4d}  {pattern}")
        for example in result["failures"][pattern][: None if show_all else 1]:
            print(f"        e.g. {example.splitlines()[0]}")


def main() -> int:
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}; nothing to measure")
        return 0
    show_all = "--all" in sys.argv
    real = measure(real_cases())
    docs = measure(docs_cases())
    report("real-world KQL", real, show_all)
    report("docs cases", docs, show_all)
    queries = real["total"] + docs["total"]
    per_query_us = (real["seconds"] + docs["seconds"]) / max(queries, 1) * 1e6
    print(f"throughput: {per_query_us:.0f} us per query")
    RESULT.parent.mkdir(parents=True, exist_ok=True)
    summary = {
        "bench": "kql_parse_rate",
        "target_rate": TARGET_RATE,
        "per_query_us": round(per_query_us, 1),
        **{
            key: {
                "total": r["total"],
                "parsed": r["parsed"],
                "rate": round(r["rate"], 4),
                "crashes": len(r["crashes"]),
                "top_failures": {p: len(v) for p, v in list(r["failures"].items())[:10]},
            }
            for key, r in (("real", real), ("docs", docs))
        },
    }
    RESULT.write_text(json.dumps(summary, indent=2) + "\n", encoding="utf-8")
    if real["crashes"] or docs["crashes"]:
        print("non-KqlError exceptions escaped parse:", *real["crashes"], *docs["crashes"], sep="\n  ")
        return 1
    return 0 if real["rate"] >= TARGET_RATE else 2


if __name__ == "__main__":
    sys.exit(main())
