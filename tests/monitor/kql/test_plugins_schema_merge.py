"""evaluate schema_merge over getschema rows (Kusto's documented examples and type conflicts)."""

from __future__ import annotations

from warden.monitor.kql import run

S1 = "let schema1 = datatable(Uri:string, HttpStatus:int)[] | getschema;"


def merged(second: str, args: str = "") -> list[list]:
    query = (
        f"{S1} let schema2 = datatable({second})[] | getschema; union schema1, schema2 | evaluate schema_merge({args})"
    )
    return sorted(run(query).rows, key=lambda r: r[1])


def test_appended_column() -> None:
    assert merged("Uri:string, HttpStatus:int, Referrer:string") == [
        ["Uri", 0, "System.String", "string"],
        ["HttpStatus", 1, "System.Int32", "int"],
        ["Referrer", 2, "System.String", "string"],
    ]


def test_reordered_column_is_an_error_unless_order_is_not_preserved() -> None:
    error = "ERROR(columns are out of order)"
    assert merged("Uri:string, Referrer:string, HttpStatus:int") == [
        ["HttpStatus", -1, f"ERROR(unknown CSL type:{error})", error],
        ["Uri", 0, "System.String", "string"],
        ["Referrer", 1, "System.String", "string"],
    ]
    assert merged("Uri:string, Referrer:string, HttpStatus:int", "PreserveOrder = false") == [
        ["Uri", 0, "System.String", "string"],
        ["Referrer", 1, "System.String", "string"],
        ["HttpStatus", 2, "System.Int32", "int"],
    ]


def test_conflicting_types_become_dynamic() -> None:
    assert merged("Uri:string, HttpStatus:string") == [
        ["Uri", 0, "System.String", "string"],
        ["HttpStatus", 1, "System.Object", "dynamic"],
    ]
