"""bag_pack_columns: a bag of the named columns."""

from __future__ import annotations

import pytest

from warden.monitor.kql import run
from warden.monitor.kql.errors import KqlError

DATA = 'datatable(Id: string, Value: string, Other: long, When: datetime) ["A", "val_a", 1, datetime(2024-01-02)]'


def test_documented_example_and_types() -> None:
    assert run(DATA + " | project Packed = bag_pack_columns(Id, Value)").rows == [['{"Id":"A","Value":"val_a"}']]
    packed = run(DATA + " | project p = bag_pack_columns(Other, When)").rows[0][0]
    assert packed == '{"Other":1,"When":"2024-01-02T00:00:00.0000000Z"}'


def test_only_column_names() -> None:
    with pytest.raises(KqlError):
        run(DATA + " | project p = bag_pack_columns(strlen(Id))")
