"""TOTP/HOTP against RFC 4226 Appendix D and RFC 6238 Appendix B."""

from __future__ import annotations

import base64
from urllib.parse import parse_qs, urlparse

import pytest

from warden.identity.mfa.totp import hotp, new_secret, provisioning_uri, totp, verify_totp

RFC4226_SECRET = b"12345678901234567890"
RFC4226_HOTP = ["755224", "287082", "359152", "969429", "338314", "254676", "287922", "162583", "399871", "520489"]

# RFC 6238 Appendix B: the seed is the ASCII string repeated to the hash's block-size key length.
SEEDS = {
    "sha1": b"12345678901234567890",
    "sha256": b"12345678901234567890123456789012",
    "sha512": b"1234567890123456789012345678901234567890123456789012345678901234",
}
RFC6238 = [
    (59, "94287082", "46119246", "90693936"),
    (1111111109, "07081804", "68084774", "25091201"),
    (1111111111, "14050471", "67062674", "99943326"),
    (1234567890, "89005924", "91819424", "93441116"),
    (2000000000, "69279037", "90698825", "38618901"),
    (20000000000, "65353130", "77737706", "47863826"),
]


@pytest.mark.parametrize("counter", range(10))
def test_rfc4226_hotp_vectors(counter):
    assert hotp(RFC4226_SECRET, counter) == RFC4226_HOTP[counter]


@pytest.mark.parametrize(("at", "sha1", "sha256", "sha512"), RFC6238)
def test_rfc6238_vectors(at, sha1, sha256, sha512):
    for algorithm, expected in (("sha1", sha1), ("sha256", sha256), ("sha512", sha512)):
        assert totp(SEEDS[algorithm], at, digits=8, algorithm=algorithm) == expected
        step = verify_totp(SEEDS[algorithm], expected, at, digits=8, algorithm=algorithm, window=0)
        assert step == at // 30


def test_window_accepts_adjacent_steps_only():
    secret, now = RFC4226_SECRET, 1_000_000_000.0
    previous, nxt, far = totp(secret, now - 30), totp(secret, now + 30), totp(secret, now - 60)
    assert verify_totp(secret, previous, now) == int(now // 30) - 1
    assert verify_totp(secret, nxt, now) == int(now // 30) + 1
    assert verify_totp(secret, far, now) is None
    assert verify_totp(secret, previous, now, window=0) is None
    assert verify_totp(secret, far, now, window=2) == int(now // 30) - 2


def test_replay_of_used_step_refused():
    secret, now = RFC4226_SECRET, 1_234_567_890.0
    code = totp(secret, now)
    used = verify_totp(secret, code, now)
    assert used is not None
    assert verify_totp(secret, code, now, last_used_step=used) is None
    assert verify_totp(secret, code, now + 10, last_used_step=used) is None
    # An older step than the last accepted one is refused too, even inside the window.
    assert verify_totp(secret, totp(secret, now - 30), now, last_used_step=used) is None
    # The next step's code is still accepted.
    assert verify_totp(secret, totp(secret, now + 30), now + 30, last_used_step=used) == used + 1


@pytest.mark.parametrize("bad", ["", "12345", "1234567", "12a456", "12 456", "-12345", "١٢٣٤٥٦", None, 123456])
def test_malformed_codes_rejected(bad):
    assert verify_totp(RFC4226_SECRET, bad, 59.0) is None


def test_wrong_code_rejected_and_whitespace_tolerated():
    code = totp(RFC4226_SECRET, 59)
    wrong = str((int(code) + 1) % 10**6).zfill(6)
    assert verify_totp(RFC4226_SECRET, wrong, 59, window=0) is None
    assert verify_totp(RFC4226_SECRET, f" {code} ", 59) == 1


def test_bad_parameters_raise():
    with pytest.raises(ValueError):
        hotp(RFC4226_SECRET, 0, algorithm="md5")
    with pytest.raises(ValueError):
        hotp(RFC4226_SECRET, -1)
    with pytest.raises(ValueError):
        hotp(RFC4226_SECRET, 0, digits=4)
    with pytest.raises(ValueError):
        totp(RFC4226_SECRET, 0, step=0)


def test_new_secret_is_random_20_bytes():
    a, b = new_secret(), new_secret()
    assert len(a) == 20 and len(b) == 20 and a != b


def test_provisioning_uri():
    uri = provisioning_uri(RFC4226_SECRET, "alice@contoso.com", "Warden Corp")
    parsed = urlparse(uri)
    assert parsed.scheme == "otpauth" and parsed.netloc == "totp"
    assert parsed.path == "/Warden%20Corp:alice@contoso.com"
    query = parse_qs(parsed.query)
    assert query["issuer"] == ["Warden Corp"]
    assert query["secret"] == ["GEZDGNBVGY3TQOJQGEZDGNBVGY3TQOJQ"]
    assert base64.b32decode(query["secret"][0]) == RFC4226_SECRET
    assert "algorithm" not in query and "digits" not in query and "period" not in query
    custom = parse_qs(urlparse(provisioning_uri(b"x" * 32, "bob", "W", digits=8, algorithm="sha256")).query)
    assert custom["algorithm"] == ["SHA256"] and custom["digits"] == ["8"]
    with pytest.raises(ValueError):
        provisioning_uri(RFC4226_SECRET, "a:b", "W")
