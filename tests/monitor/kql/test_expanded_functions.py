"""Scalars expanded into several columns by extend/project: series_stats, series_fit_line."""

from __future__ import annotations

import pytest

from warden.monitor.kql import run
from warden.monitor.kql.errors import KqlError

DATA = "print x = dynamic([23, 46, 23, 87, 4, 8, 3, 75, 2, 56, 13, 75, 32, 16, 29])"


def test_unnamed_columns_take_the_function_and_argument_names() -> None:
    result = run(f"{DATA} | project series_stats(x)")
    assert result.columns == [
        f"series_stats_x_{s}" for s in ("min", "min_idx", "max", "max_idx", "avg", "stdev", "variance")
    ]
    row = result.rows[0]
    assert row[:5] == [2.0, 8, 87.0, 3, 32.8]
    assert row[5] == pytest.approx(28.50363385354827) and row[6] == pytest.approx(812.4571428571429)


def test_named_columns_in_extend() -> None:
    query = "print y = dynamic([2, 5, 6, 8, 11, 15]) | extend (r2, slope, v, rv, icpt, line) = series_fit_line(y)"
    result = run(query)
    assert result.columns == ["y", "r2", "slope", "v", "rv", "icpt", "line"]
    assert result.rows[0][2] == pytest.approx(42.5 / 17.5)  # sxy / sxx
    # The expanded columns can be used by later operators.
    assert run(query + " | project s = round(slope, 2)").rows == [[2.43]]


def test_wrong_number_of_names_is_an_error() -> None:
    with pytest.raises(KqlError):
        run(f"{DATA} | extend (a, b) = series_stats(x)")
