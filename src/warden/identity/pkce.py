"""PKCE, RFC 7636: code challenges and their verification at the token endpoint.

Pure functions; the authorization server stores the challenge and method with the code.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re

S256 = "S256"
PLAIN = "plain"

# RFC 7636 section 4.1: code-verifier = 43*128unreserved, unreserved = ALPHA / DIGIT / "-" / "." / "_" / "~"
_VERIFIER = re.compile(r"[A-Za-z0-9\-._~]{43,128}")


def validate_verifier(verifier: str) -> None:
    """Return None if ``verifier`` is a well-formed code verifier.

    Raises ValueError when it is not a string of 43 to 128 characters from the unreserved set.
    """
    if not isinstance(verifier, str) or _VERIFIER.fullmatch(verifier) is None:
        raise ValueError("code_verifier must be 43-128 characters of A-Z a-z 0-9 - . _ ~")


def code_challenge(verifier: str, method: str = S256) -> str:
    """Return the code challenge for ``verifier``: BASE64URL(SHA256(ASCII(verifier))) without padding for
    ``S256``, the verifier itself for ``plain``.

    Raises ValueError for a malformed verifier or an unknown method.
    """
    validate_verifier(verifier)
    if method == S256:
        digest = hashlib.sha256(verifier.encode("ascii")).digest()
        return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")
    if method == PLAIN:
        return verifier
    raise ValueError(f"unsupported code_challenge_method {method!r}")


def verify(verifier: str, challenge: str, method: str = S256, *, allow_plain: bool = False) -> bool:
    """Return True if ``verifier`` matches ``challenge`` under ``method``, compared in constant time.

    ``plain`` gives no protection against an intercepted authorization request, so it is refused
    (False) unless the caller opts in with ``allow_plain``. A malformed verifier, an unknown method
    or a non-string challenge also return False rather than raising: at the token endpoint they all
    mean the same thing, ``invalid_grant``.
    """
    if method == PLAIN and not allow_plain:
        return False
    if not isinstance(challenge, str):
        return False
    try:
        expected = code_challenge(verifier, method)
    except ValueError:
        return False
    return hmac.compare_digest(expected.encode("ascii"), challenge.encode("utf-8"))
