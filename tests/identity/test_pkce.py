"""PKCE against RFC 7636 Appendix B."""

from __future__ import annotations

import pytest

from warden.identity.pkce import code_challenge, validate_verifier, verify

# RFC 7636 Appendix B
VERIFIER = "dBjftJeZ4CVP-mB92K27uhbUJU1p1r_wW1gFWFOEjXk"
CHALLENGE = "E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM"


def test_rfc7636_appendix_b_vector():
    assert code_challenge(VERIFIER) == CHALLENGE
    assert code_challenge(VERIFIER, "S256") == CHALLENGE
    assert verify(VERIFIER, CHALLENGE, "S256")


def test_wrong_verifier_or_challenge_refused():
    other = VERIFIER[:-1] + ("A" if VERIFIER[-1] != "A" else "B")
    assert not verify(other, CHALLENGE, "S256")
    assert not verify(VERIFIER, CHALLENGE[:-1] + "x", "S256")
    assert not verify(VERIFIER, CHALLENGE + "=", "S256")
    assert not verify(VERIFIER, "", "S256")
    assert not verify(VERIFIER, None, "S256")
    assert not verify(VERIFIER, "é" * 43, "S256")


def test_plain_only_when_allowed():
    assert code_challenge(VERIFIER, "plain") == VERIFIER
    assert not verify(VERIFIER, VERIFIER, "plain")
    assert verify(VERIFIER, VERIFIER, "plain", allow_plain=True)
    assert not verify(VERIFIER, CHALLENGE, "plain", allow_plain=True)


def test_unknown_method():
    with pytest.raises(ValueError):
        code_challenge(VERIFIER, "s256")  # method names are case-sensitive in RFC 7636
    assert not verify(VERIFIER, CHALLENGE, "S512")


@pytest.mark.parametrize("verifier", ["a" * 43, "Z" * 128, "-._~" * 11, "0" * 43])
def test_valid_verifiers(verifier):
    validate_verifier(verifier)


@pytest.mark.parametrize(
    "verifier",
    [
        "a" * 42,
        "a" * 129,
        "a" * 42 + "+",
        "a" * 42 + "/",
        "a" * 42 + "=",
        "a" * 42 + " ",
        "a" * 42 + "é",
        "",
        None,
        b"a" * 43,
    ],
)
def test_invalid_verifiers(verifier):
    with pytest.raises(ValueError):
        validate_verifier(verifier)
    assert not verify(verifier, CHALLENGE, "S256")
