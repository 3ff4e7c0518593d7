"""Series functions: element-wise arithmetic, comparisons and math, reductions, gap filling, IIR."""

from __future__ import annotations

import math

import pytest

from monitor.kql.function_harness import Null, evaluate


def test_elementwise_arithmetic_follows_kusto_docs() -> None:
    assert evaluate("series_add", [1, 2, 4], [4, 2, 1]) == [5, 4, 5]
    assert evaluate("series_subtract", [2, 4, 8], [8, 4, 2]) == [-6, 0, 6]
    assert evaluate("series_multiply", [3, 6, 12], [12, 6, 3]) == [36, 36, 36]
    assert evaluate("series_pow", [1, 2, 3, 4], [1, 2, 3, 0.5]) == [1, 4, 27, 2]
    assert evaluate("series_divide", [1, 4], [2, 0.5]) == [0.5, 8]


def test_a_number_applies_to_every_element_and_gaps_are_null() -> None:
    assert evaluate("series_multiply", 10, [1, 0, 2]) == [10, 0, 20]
    # Missing elements (shorter array) and non-numbers give null elements.
    assert evaluate("series_add", [1, 2, 3], [1]) == [2, None, None]
    assert evaluate("series_add", [1, "a", None], [1, 1, 1]) == [2, None, None]
    assert evaluate("series_add", Null("dynamic"), [1]) is None
    assert evaluate("series_add", {"a": 1}, [1]) is None


def test_comparisons_give_bools() -> None:
    assert evaluate("series_greater", [1, 2, 4], [4, 2, 1]) == [False, False, True]
    assert evaluate("series_greater_equals", [1, 2, 4], [4, 2, 1]) == [False, True, True]
    assert evaluate("series_not_equals", [1, 2, 4], [4, 2, 1]) == [True, False, True]
    assert evaluate("series_less", [1, 2], 2) == [True, False]


def test_elementwise_math() -> None:
    assert evaluate("series_abs", [-6.5, 0, 8.2]) == [6.5, 0, 8.2]
    assert evaluate("series_floor", [-1.5, 1, 2.5]) == [-2, 1, 2]
    assert evaluate("series_exp", [1, 2]) == pytest.approx([math.e, math.exp(2)])
    assert evaluate("series_log", [1, 2, -1]) == [0, pytest.approx(math.log(2)), None]
    assert evaluate("series_acos", [-1, 0, 1]) == pytest.approx([math.pi, math.pi / 2, 0])
    assert evaluate("series_sin", [None, 1]) == [None, pytest.approx(math.sin(1))]


def test_reductions() -> None:
    assert evaluate("series_sum", [1, 2, 3, 4]) == 10
    assert evaluate("series_magnitude", [1, 2, 3, 4]) == pytest.approx(math.sqrt(30))
    assert evaluate("series_dot_product", [1, 2], [3, 4]) == 11
    expected = (0.011 + 0.04 + 0.011 + 0.042) / math.sqrt(0.1 * (0.11**2 * 2 + 0.04 + 0.21**2))
    assert evaluate("series_cosine_similarity", [0.1, 0.2, 0.1, 0.2], [0.11, 0.2, 0.11, 0.21]) == pytest.approx(
        expected
    )
    assert evaluate("series_sum", Null("dynamic")) is None


def test_series_stats_dynamic() -> None:
    stats = evaluate("series_stats_dynamic", [23, 46, 23, 87, 4, 8, 3, 75, 2, 56, 13, 75, 32, 16, 29])
    assert stats["min"] == 2 and stats["min_idx"] == 8 and stats["max"] == 87 and stats["max_idx"] == 3
    assert stats["avg"] == pytest.approx(32.8) and stats["variance"] == pytest.approx(812.4571428571429)
    assert stats["stdev"] == pytest.approx(28.50363385354827) and stats["sum"] == 492 and stats["len"] == 15


def test_fill_forward_and_backward() -> None:
    series = [None, None, 36, 41, None, None, 16, None]
    assert evaluate("series_fill_forward", series) == [None, None, 36, 41, 41, 41, 16, 16]
    assert evaluate("series_fill_backward", series) == [36, 36, 36, 41, 16, 16, 16, None]
    assert evaluate("series_fill_const", [1, None, 3], 0) == [1, 0, 3]


def test_iir_cumulative_sum() -> None:
    assert evaluate("series_iir", [1.0, 2.0, 3.0, 4.0], [1], [1, -1]) == [1, 3, 6, 10]
    # y[i] = x[i] + 0.5 * y[i-1]
    assert evaluate("series_iir", [2.0, 0.0, 0.0], [1], [1, -0.5]) == [2, 1, 0.5]


def test_product_and_pearson_correlation() -> None:
    assert evaluate("series_product", [1, 2, 3, 4]) == 24
    assert evaluate("series_product", []) == 1
    assert evaluate("series_pearson_correlation", [1, 2, 3, 4, 5], [2, 4, 6, 8, 10]) == pytest.approx(1.0)
    xs, ys = [1.0, 2.0, 4.0, 7.0], [3.0, 1.0, 4.0, 1.0]
    mx, my = sum(xs) / 4, sum(ys) / 4
    r = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / math.sqrt(
        sum((x - mx) ** 2 for x in xs) * sum((y - my) ** 2 for y in ys)
    )
    assert evaluate("series_pearson_correlation", xs, ys) == pytest.approx(r)
    assert evaluate("series_pearson_correlation", [1, 2], [1, 2, 3]) is None
    assert evaluate("series_pearson_correlation", [1, "x"], [1, 2]) is None


def _fit(ys: list[float]) -> dict:
    n = len(ys)
    xs = range(1, n + 1)
    mx, my = (n + 1) / 2, sum(ys) / n
    slope = sum((x - mx) * (y - my) for x, y in zip(xs, ys, strict=True)) / sum((x - mx) ** 2 for x in xs)
    icpt = my - slope * mx
    res = sum((y - icpt - slope * x) ** 2 for x, y in zip(xs, ys, strict=True))
    tot = sum((y - my) ** 2 for y in ys)
    return {
        "slope": slope,
        "interception": icpt,
        "rsquare": 1 - res / tot,
        "variance": tot / (n - 1),
        "rvariance": res / (n - 1),
    }


def test_series_fit_line_dynamic() -> None:
    ys = [2, 5, 6, 8, 11, 15, 17, 18, 25, 26, 30, 30]
    fit = evaluate("series_fit_line_dynamic", ys)
    for key, value in _fit(ys).items():
        assert fit[key] == pytest.approx(value)
    assert fit["line_fit"] == pytest.approx([fit["interception"] + fit["slope"] * x for x in range(1, 13)])
    # Kusto's documented values.
    assert fit["slope"] == pytest.approx(2.730769230769231) and fit["rvariance"] == pytest.approx(1.686480186480187)
    assert evaluate("series_fit_line_dynamic", Null("dynamic")) is None


def test_series_fill_linear_documented_example() -> None:
    reals = [None, 111.0, None, 36.0, 41.0, None, None, 16.0, 61.0, 33.0, None, None]
    filled = [111, 111, 73.5, 36, 41, 41 - 25 / 3, 41 - 50 / 3, 16, 61, 33, 33, 33]
    assert evaluate("series_fill_linear", reals) == pytest.approx(filled)
    kept = evaluate("series_fill_linear", reals, Null("real"), False)
    assert kept[0] is None and kept[-2:] == [None, None] and kept[1:10] == pytest.approx(filled[1:10])
    whole = [None, 111, None, 36, 41, None, None, 16, 61, 33, None, None]
    assert evaluate("series_fill_linear", whole) == [111, 111, 73, 36, 41, 32, 24, 16, 61, 33, 33, 33]
    assert evaluate("series_fill_linear", [None, None, None]) == [0, 0, 0]
    assert evaluate("series_fill_linear", [None, None], Null("real"), True, 3.5) == [3.5, 3.5]
    assert evaluate("series_fill_linear", Null("dynamic")) is None


def test_series_fir_moving_average() -> None:
    val = [0, 0, 0, 0, 0, 0, 0, 0, 0, 10, 20, 40, 100, 40, 20, 10, 0, 0, 0, 0, 0, 0, 0, 0]
    window = [1, 1, 1, 1, 1]
    expected = [sum(val[max(0, i - 4) : i + 1]) / 5 for i in range(len(val))]
    assert evaluate("series_fir", val, window) == pytest.approx(expected)
    centered = [sum(val[max(0, i - 2) : i + 3]) / 5 for i in range(len(val))]
    assert evaluate("series_fir", val, window, True, True) == pytest.approx(centered)
    # Kusto's documented peak values.
    assert max(evaluate("series_fir", val, window)) == 44
    assert evaluate("series_fir", [0, 0, 2, 2, 3], [1, -1], False, False) == [0, 0, 2, 0, 1]
    assert evaluate("series_fir", [1, 2], [1, -1]) is None  # coefficients summing to 0 cannot normalize
