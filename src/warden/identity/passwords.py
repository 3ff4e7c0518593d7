"""Password hashing (argon2id) and NIST SP 800-63B password rules.

Pure functions: no storage, no settings. Passwords are Unicode-normalised with NFKC before they
are measured or hashed (800-63B section 5.1.1.2), so the same password typed on two keyboards
that produce different code points for the same character still verifies.

Stored hashes are argon2's PHC strings (``$argon2id$v=19$m=...,t=...,p=...$salt$hash``), so the
parameters travel with each hash and can be raised later without invalidating old ones.
"""

from __future__ import annotations

import itertools
import re
import unicodedata
from collections.abc import Iterable

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError, VerifyMismatchError

MIN_LENGTH_WITH_MFA = 8
MIN_LENGTH_WITHOUT_MFA = 15
MAX_LENGTH = 64
# Tenant-banned terms and context words shorter than this are ignored for substring matching:
# banning "ab" would reject a large share of all passwords without making any of them stronger.
MIN_TERM_LENGTH = 4

# OWASP's recommended argon2id configuration (m=19 MiB, t=2, p=1): about 25 ms of one core per
# verification here, where argon2-cffi's default (RFC 9106's second profile, m=64 MiB, t=3, p=4)
# took about 215 ms of CPU and 64 MiB, which capped sign-ins at a few per second per core and made
# a flood of sign-in attempts a memory problem. Hashes with other parameters still verify and are
# re-hashed with these at the next successful sign-in.
DEFAULT_TIME_COST = 2
DEFAULT_MEMORY_KIB = 19 * 1024
DEFAULT_PARALLELISM = 1
DEFAULT_HASHER = PasswordHasher(
    time_cost=DEFAULT_TIME_COST, memory_cost=DEFAULT_MEMORY_KIB, parallelism=DEFAULT_PARALLELISM
)

# Hand-written list of the passwords seen most often in public breach statistics. It is a floor,
# not the whole defence: tenants add their own terms, and the minimum length does most of the work.
COMMON_PASSWORDS = frozenset(
    """
    password password1 password12 password123 password1234 passw0rd p@ssw0rd p@ssword pa55word
    123456 1234567 12345678 123456789 1234567890 12345 1234 123123 123321 111111 000000 666666
    654321 121212 112233 123654 987654321 1q2w3e4r 1q2w3e4r5t 1qaz2wsx zaq12wsx qwerty qwerty1
    qwerty123 qwertyuiop asdfgh asdfghjkl zxcvbnm qazwsx abc123 abcd1234 abcdef a1b2c3 aa123456
    iloveyou letmein letmein1 welcome welcome1 welcome123 admin admin123 administrator root toor
    login guest changeme default secret monkey dragon master shadow sunshine princess football
    baseball soccer hockey superman batman starwars trustno1 whatever freedom michael jordan
    jennifer charlie thomas hunter hunter2 killer ninja mustang access flower hello hello123
    computer internet google samsung pokemon cheese summer winter spring autumn lovely loveme
    iloveyou1 qwe123 azerty azerty123 test test123 testing temp temp123 pass pass123 passpass
    """.split()  # noqa: SIM905 - a word block is easier to read and review than 114 quoted strings
)


def normalise(password: str) -> str:
    """Return ``password`` in Unicode NFKC form, the form that is measured, checked and hashed."""
    return unicodedata.normalize("NFKC", password)


def make_hasher(
    *, time_cost: int = DEFAULT_TIME_COST, memory_cost: int = DEFAULT_MEMORY_KIB, parallelism: int = DEFAULT_PARALLELISM
) -> PasswordHasher:
    """Return an argon2id PasswordHasher; ``memory_cost`` is in KiB. Tests pass tiny values for speed."""
    return PasswordHasher(time_cost=time_cost, memory_cost=memory_cost, parallelism=parallelism)


def hash_password(password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> str:
    """Return the argon2id PHC string for the NFKC form of ``password`` (random salt each call).

    Raises TypeError if ``password`` is not a str.
    """
    if not isinstance(password, str):
        raise TypeError("password must be a str")
    return hasher.hash(normalise(password))


def verify_password(stored_hash: str, password: str, *, hasher: PasswordHasher = DEFAULT_HASHER) -> tuple[bool, bool]:
    """Return ``(ok, needs_rehash)``.

    ``ok`` is False for a wrong password and also for a stored value that is not an argon2 hash
    (a corrupt row must not let anyone in). ``needs_rehash`` is True only when the password was
    right and the stored parameters differ from ``hasher``'s: the caller should then store a fresh
    :func:`hash_password`, since that is the only moment the plaintext is available.
    """
    if not isinstance(password, str) or not isinstance(stored_hash, str):
        return False, False
    try:
        hasher.verify(stored_hash, normalise(password))
    except (VerifyMismatchError, VerificationError, InvalidHashError):
        return False, False
    return True, hasher.check_needs_rehash(stored_hash)


def _fold(text: str) -> str:
    """Return the comparison form: NFKC, case-folded, surrounding whitespace removed."""
    return normalise(text).casefold().strip()


def _terms(words: Iterable[str]) -> set[str]:
    """Return the folded words plus their alphanumeric pieces (``alice@contoso.com`` gives
    ``alice`` and ``contoso`` too), keeping only pieces long enough to be meaningful."""
    found: set[str] = set()
    for word in words:
        folded = _fold(word)
        for piece in [folded, *re.split(r"[\W_]+", folded)]:
            if len(piece) >= MIN_TERM_LENGTH:
                found.add(piece)
    return found


def _is_trivial_pattern(folded: str) -> bool:
    """Return True for one repeated character or a run of consecutive code points (``abcdefgh``)."""
    if len(set(folded)) == 1:
        return True
    steps = {ord(b) - ord(a) for a, b in itertools.pairwise(folded)}
    return steps in ({1}, {-1})


def check_password(
    password: str, *, mfa_enabled: bool, banned: Iterable[str] = (), context: Iterable[str] = ()
) -> list[str]:
    """Return the problems with a proposed password under NIST SP 800-63B; empty means acceptable.

    Length is counted in code points after NFKC normalisation: at least 8 when the account has
    MFA, 15 without, at most 64. There are deliberately no composition rules (no "one digit and
    one symbol"): 800-63B says they push users to predictable patterns. The password is refused if,
    compared case-insensitively after normalising, it is a common password (also with trailing
    digits and symbols removed, so ``Password123!`` counts), a repeated or sequential run, or
    contains a tenant-banned term or a context word (user name, app name) of 4 or more characters.
    """
    if not isinstance(password, str):
        return ["Password must be text."]
    problems: list[str] = []
    normalised = normalise(password)
    minimum = MIN_LENGTH_WITH_MFA if mfa_enabled else MIN_LENGTH_WITHOUT_MFA
    if len(normalised) < minimum:
        problems.append(f"Password must be at least {minimum} characters.")
    if len(normalised) > MAX_LENGTH:
        problems.append(f"Password must be at most {MAX_LENGTH} characters.")
    folded = _fold(normalised)
    # Users satisfy old composition rules by appending digits and symbols, so strip those too.
    variants = {folded, re.sub(r"[\W_]+$", "", folded), re.sub(r"[\d\W_]+$", "", folded)}
    if variants & COMMON_PASSWORDS:
        problems.append("Password is too common.")
    elif folded and _is_trivial_pattern(folded):
        problems.append("Password is a repeated or sequential pattern.")
    if any(term in folded for term in _terms(banned)):
        problems.append("Password contains a term banned by your organisation.")
    if any(term in folded for term in _terms(context)):
        problems.append("Password contains your user name or the application's name.")
    return problems
