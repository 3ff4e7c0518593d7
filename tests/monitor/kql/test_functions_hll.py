"""hll/hll_if/hll_merge/dcount_hll (exact intermediates) and the base64 byte-array functions."""

from __future__ import annotations

import base64

from monitor.kql.function_harness import Null, evaluate
from warden.monitor.kql import run


def test_documented_merge_example() -> None:
    query = (
        "range x from 1 to 10 step 1 | extend y = x + 10 | summarize hll_x = hll(x), hll_y = hll(y)"
        " | project merged = hll_merge(hll_x, hll_y) | project dcount_hll(merged)"
    )
    result = run(query)
    assert result.columns == ["dcount_hll_merged"]
    assert result.rows == [[20]]


def test_merge_aggregate_and_hll_if() -> None:
    merged = "range x from 1 to 30 step 1 | summarize h = hll(x % 7) by g = x % 2 | summarize m = hll_merge(h)"
    assert run(merged + " | project dcount_hll(m)").rows == [[7]]
    only = "range x from 1 to 30 step 1 | summarize h = hll_if(x % 7, x > 25) | project dcount_hll(h)"
    assert run(only).rows == [[5]]
    assert evaluate("dcount_hll", Null("dynamic")) == 0


def test_base64_byte_arrays() -> None:
    assert evaluate("base64_decode_toarray", "S3VzdG8=") == [75, 117, 115, 116, 111]
    assert evaluate("base64_decode_toarray", "not base64!") == []
    assert evaluate("base64_encode_fromarray", [75, 117, 115, 116, 111]) == "S3VzdG8="
    data = bytes(range(0, 256, 7))
    assert evaluate("base64_encode_fromarray", list(data)) == base64.b64encode(data).decode()
    assert evaluate("base64_encode_fromarray", []) == ""  # a null string
    assert evaluate("base64_encode_fromarray", [1, 256]) == ""  # a null string
    assert evaluate("base64_encode_fromarray", ["a"]) == ""  # a null string
