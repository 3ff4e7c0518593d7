"""Parse rate over real-world KQL (../shared/corpus/kql/real/) and the docs conformance cases.

Both skip when the shared corpus is absent. Run with ``-s`` to see the rates and the top failure
causes (``bench/kql_parse_rate.py`` prints the same report).
"""

from __future__ import annotations

import json
import re
from collections import Counter
from pathlib import Path

import pytest

from warden.monitor.kql import KqlError, parse

REAL_TARGET = 0.97
DOCS_TARGET = 0.97


def parse_all(cases: list[tuple[str, str]]) -> tuple[float, Counter[str], list[str]]:
    """Parse every ``(name, text)``; return the rate, failure causes by message pattern, and crashes."""
    causes: Counter[str] = Counter()
    crashes: list[str] = []
    for name, text in cases:
        try:
            parse(text)
        except KqlError as exc:
            causes[f"{type(exc).__name__}: {re.sub(r'[0-9]+', 'N', exc.message)}"] += 1
        except Exception as exc:  # only KqlError may escape parse
            crashes.append(f"{name}: {type(exc).__name__}: {exc}")
    failed = sum(causes.values()) + len(crashes)
    return (len(cases) - failed) / len(cases), causes, crashes


def report(title: str, total: int, rate: float, causes: Counter[str]) -> None:
    print(f"\n{title}: {rate:.2%} of {total} parsed; top failure causes:")
    for cause, count in causes.most_common(10):
        print(f"  {count:4d}  {cause}")


def test_real_world_queries_parse(corpus_dir: Path):
    root = corpus_dir / "kql" / "real"
    files = sorted(root.rglob("*.kql"))
    if not files:
        pytest.skip(f"no .kql files under {root}")
    cases = [(str(p.relative_to(root)), p.read_text(encoding="utf-8", errors="replace")) for p in files]
    rate, causes, crashes = parse_all(cases)
    report("real-world KQL", len(cases), rate, causes)
    assert not crashes, crashes
    assert rate >= REAL_TARGET


def test_docs_cases_parse(corpus_dir: Path):
    path = corpus_dir / "kql" / "docs-cases.dev.jsonl"
    if not path.is_file():
        pytest.skip(f"{path} not found")
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    rate, causes, crashes = parse_all([(row["id"], row["kql"]) for row in rows])
    report("docs cases", len(rows), rate, causes)
    assert not crashes, crashes
    assert rate >= DOCS_TARGET
