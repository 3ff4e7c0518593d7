"""erf, erfc and the beta distribution functions, checked against independent computations."""

from __future__ import annotations

import math

import pytest

from monitor.kql.function_harness import Null, evaluate


@pytest.mark.parametrize("x", [-6.0, -3.0, -2.0, -1.5, -0.3, 0.0, 1e-5, 0.7, 1.99, 2.0, 2.5, 3.0, 4.5, 27.0])
def test_erf_and_erfc_match_the_standard_library(x: float) -> None:
    assert evaluate("erf", x) == pytest.approx(math.erf(x), rel=1e-13, abs=1e-300)
    assert evaluate("erfc", x) == pytest.approx(math.erfc(x), rel=1e-12, abs=1e-300)


def test_erf_of_integers_and_null() -> None:
    assert evaluate("erf", 1) == pytest.approx(0.8427007929497149, rel=1e-14)
    assert evaluate("erfc", 3) == pytest.approx(2.2090496998585438e-05, rel=1e-12)
    assert evaluate("erf", Null("real")) is None


def _binomial_cdf(x: float, a: int, b: int) -> float:
    """I_x(a, b) for whole a and b: the chance of at least a successes in a + b - 1 trials."""
    n = a + b - 1
    return sum(math.comb(n, j) * x**j * (1 - x) ** (n - j) for j in range(a, n + 1))


@pytest.mark.parametrize(("x", "a", "b"), [(0.9, 10, 20), (0.2, 10, 20), (0.5, 2, 3), (0.01, 1, 1), (0.75, 30, 4)])
def test_beta_cdf_and_pdf(x: float, a: int, b: int) -> None:
    assert evaluate("beta_cdf", x, float(a), float(b)) == pytest.approx(_binomial_cdf(x, a, b), rel=1e-10)
    density = x ** (a - 1) * (1 - x) ** (b - 1) * math.gamma(a + b) / (math.gamma(a) * math.gamma(b))
    assert evaluate("beta_pdf", x, float(a), float(b)) == pytest.approx(density, rel=1e-10)


def test_beta_documented_examples() -> None:
    assert evaluate("beta_cdf", 0.9, 10.0, 20.0) == pytest.approx(0.9999999999999593, rel=1e-12)
    assert evaluate("beta_pdf", 0.5, 10.0, 20.0) == pytest.approx(0.746176019310951, rel=1e-12)
    assert evaluate("beta_inv", 0.1, 10.0, 20.0) == pytest.approx(0.22641502238874897, rel=1e-12)


def test_beta_inv_inverts_the_cdf() -> None:
    for p in (0.001, 0.97):
        x = evaluate("beta_inv", p, 3.0, 7.0)
        assert _binomial_cdf(x, 3, 7) == pytest.approx(p, rel=1e-10)


def test_beta_domain_rules() -> None:
    assert evaluate("beta_cdf", 1.5, 10.0, 20.0) == "NaN"
    assert evaluate("beta_pdf", -10.0, 10.0, 20.0) == "NaN"
    assert evaluate("beta_pdf", 0.1, -1.0, 20.0) == "NaN"
    assert evaluate("beta_inv", 0.1, -1.0, 20.0) == "NaN"
    assert evaluate("beta_inv", 1.5, 10.0, 20.0) is None
    assert evaluate("beta_cdf", Null("real"), 1.0, 2.0) is None
    assert evaluate("beta_cdf", 0.0, 2.0, 3.0) == 0 and evaluate("beta_cdf", 1.0, 2.0, 3.0) == 1


def test_welch_test_matches_the_reference_example() -> None:
    # Wikipedia's first example of Welch's t-test: p = 0.021378...
    s1 = [27.5, 21.0, 19.0, 23.6, 17.0, 17.9, 16.9, 20.1, 21.9, 22.6, 23.1, 19.6, 19.0, 21.7, 21.4]
    s2 = [27.1, 22.0, 20.8, 23.4, 23.4, 23.5, 25.8, 22.0, 24.8, 20.2, 21.9, 22.1, 22.9, 20.5, 24.4]

    def moments(s: list[float]) -> tuple[float, float, float]:
        mean = sum(s) / len(s)
        return mean, sum((x - mean) ** 2 for x in s) / (len(s) - 1), float(len(s))

    p = evaluate("welch_test", *moments(s1), *moments(s2))
    assert p == pytest.approx(0.021378001462866, rel=1e-9)
    assert evaluate("welch_test", 1.0, 1.0, 10.0, 1.0, 1.0, 10.0) == pytest.approx(1.0)
    assert evaluate("welch_test", 1.0, 1.0, 1.0, 2.0, 1.0, 10.0) == "NaN"
    assert evaluate("welch_test", Null("real"), 1.0, 10.0, 2.0, 1.0, 10.0) is None
