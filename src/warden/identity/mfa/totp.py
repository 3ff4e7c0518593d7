"""HOTP (RFC 4226) and TOTP (RFC 6238) one-time passwords.

Pure functions over bytes and numbers: the caller stores the secret and the last accepted time
step, and passes the clock in, so nothing here reads time or storage.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import math
import secrets
from urllib.parse import quote, urlencode

ALGORITHMS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}
SECRET_BYTES = 20  # 160 bits, the length RFC 4226 recommends for HMAC-SHA1


def _digest(algorithm: str):
    try:
        return ALGORITHMS[algorithm.lower()]
    except KeyError:
        raise ValueError(f"unsupported algorithm {algorithm!r}; use one of {sorted(ALGORITHMS)}") from None


def _check_digits(digits: int) -> None:
    # Below 6 digits a guess is too likely; above 10 the 31-bit truncated value has no more entropy.
    if not 6 <= digits <= 10:
        raise ValueError("digits must be between 6 and 10")


def hotp(secret: bytes, counter: int, digits: int = 6, algorithm: str = "sha1") -> str:
    """Return the RFC 4226 HOTP value for ``counter`` as a zero-padded decimal string.

    Raises ValueError for a negative counter, an unsupported algorithm or digits outside 6..10.
    """
    _check_digits(digits)
    if not 0 <= counter < 2**64:
        raise ValueError("counter must fit in an unsigned 64-bit integer")
    mac = hmac.new(secret, counter.to_bytes(8, "big"), _digest(algorithm)).digest()
    offset = mac[-1] & 0x0F  # dynamic truncation, RFC 4226 section 5.3
    value = int.from_bytes(mac[offset : offset + 4], "big") & 0x7FFFFFFF
    return str(value % 10**digits).zfill(digits)


def time_step(at: float, step: int = 30, t0: int = 0) -> int:
    """Return the RFC 6238 time step T = floor((at - t0) / step). Raises ValueError if step <= 0."""
    if step <= 0:
        raise ValueError("step must be positive")
    return math.floor((at - t0) / step)


def totp(secret: bytes, at: float, step: int = 30, digits: int = 6, algorithm: str = "sha1", t0: int = 0) -> str:
    """Return the RFC 6238 TOTP value at Unix time ``at``. Raises ValueError as :func:`hotp` does."""
    return hotp(secret, time_step(at, step, t0), digits, algorithm)


def verify_totp(
    secret: bytes,
    code: str,
    at: float,
    *,
    window: int = 1,
    step: int = 30,
    digits: int = 6,
    algorithm: str = "sha1",
    last_used_step: int | None = None,
) -> int | None:
    """Check ``code`` against the steps within ``window`` of the step at ``at``.

    Returns the matched time step (store it and pass it back as ``last_used_step`` to refuse a
    replay of that step or any earlier one, RFC 6238 section 5.2), or None when the code is
    malformed, wrong, or not newer than ``last_used_step``. Raises ValueError for bad parameters.
    """
    _check_digits(digits)
    if window < 0:
        raise ValueError("window must not be negative")
    code = code.strip() if isinstance(code, str) else ""
    # Reject malformed input up front; isascii() stops Unicode digits such as '٣' passing isdigit().
    if len(code) != digits or not (code.isascii() and code.isdigit()):
        return None
    current = time_step(at, step)
    matched: int | None = None
    # Check every candidate without stopping early, so timing does not reveal which step matched.
    for candidate in range(current - window, current + window + 1):
        if candidate < 0 or (last_used_step is not None and candidate <= last_used_step):
            continue
        if hmac.compare_digest(hotp(secret, candidate, digits, algorithm), code) and matched is None:
            matched = candidate
    return matched


def new_secret() -> bytes:
    """Return a fresh random 20-byte secret from the OS CSPRNG."""
    return secrets.token_bytes(SECRET_BYTES)


def provisioning_uri(
    secret: bytes, account: str, issuer: str, *, digits: int = 6, step: int = 30, algorithm: str = "sha1"
) -> str:
    """Return the ``otpauth://totp/...`` URI authenticator apps read from a QR code.

    The secret is unpadded base32 (the Key URI Format), the label is ``issuer:account`` and the
    issuer is repeated as a parameter because some apps only read one of the two.
    Raises ValueError if ``issuer`` or ``account`` contains a colon, which would split the label.
    """
    if ":" in issuer or ":" in account:
        raise ValueError("issuer and account must not contain ':'")
    _digest(algorithm)
    label = quote(f"{issuer}:{account}", safe=":@")
    params = {"secret": base64.b32encode(secret).decode("ascii").rstrip("="), "issuer": issuer}
    # Most apps ignore non-default parameters or mishandle them, so only send them when they differ.
    if algorithm.lower() != "sha1":
        params["algorithm"] = algorithm.upper()
    if digits != 6:
        params["digits"] = str(digits)
    if step != 30:
        params["period"] = str(step)
    return f"otpauth://totp/{label}?{urlencode(params, quote_via=quote)}"
