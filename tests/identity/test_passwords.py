"""argon2id hashing and NIST SP 800-63B password rules."""

from __future__ import annotations

import pytest

from warden.identity.passwords import (
    COMMON_PASSWORDS,
    MAX_LENGTH,
    check_password,
    hash_password,
    make_hasher,
    verify_password,
)

# Tiny cost parameters so the suite stays fast; production uses DEFAULT_HASHER.
FAST = make_hasher(time_cost=1, memory_cost=256, parallelism=1)
STRONGER = make_hasher(time_cost=2, memory_cost=512, parallelism=1)

GOOD = "correct horse battery staple"


def _fullwidth(text: str) -> str:
    """Return ``text`` with ASCII letters as their full-width forms (U+FF21...), which NFKC maps back."""
    return "".join(chr(ord(c) + 0xFEE0) if c.isascii() and c.isalpha() else c for c in text)


def test_hash_is_argon2id_and_salted():
    first, second = hash_password(GOOD, hasher=FAST), hash_password(GOOD, hasher=FAST)
    assert first.startswith("$argon2id$v=19$m=256,t=1,p=1$")
    assert first != second  # random salt per hash


def test_verify_right_and_wrong():
    stored = hash_password(GOOD, hasher=FAST)
    assert verify_password(stored, GOOD, hasher=FAST) == (True, False)
    assert verify_password(stored, GOOD.upper(), hasher=FAST) == (False, False)
    assert verify_password(stored, "", hasher=FAST) == (False, False)


def test_needs_rehash_only_when_parameters_changed_and_password_right():
    stored = hash_password(GOOD, hasher=FAST)
    assert verify_password(stored, GOOD, hasher=STRONGER) == (True, True)
    assert verify_password(stored, "wrong password!", hasher=STRONGER) == (False, False)


def test_corrupt_or_foreign_hash_does_not_verify():
    assert verify_password("not a hash", GOOD, hasher=FAST) == (False, False)
    assert verify_password("$2b$12$abcdefghijklmnopqrstuu", GOOD, hasher=FAST) == (False, False)
    assert verify_password(None, GOOD, hasher=FAST) == (False, False)
    with pytest.raises(TypeError):
        hash_password(b"bytes", hasher=FAST)


def test_nfkc_normalisation_before_hashing():
    # U+FB01 LATIN SMALL LIGATURE FI becomes "fi"; full-width letters become ASCII.
    stored = hash_password("\ufb01ne-grained tulips", hasher=FAST)
    assert verify_password(stored, "fine-grained tulips", hasher=FAST)[0]
    stored = hash_password(_fullwidth("warden tulips"), hasher=FAST)
    assert verify_password(stored, "warden tulips", hasher=FAST)[0]


def test_length_limits_depend_on_mfa():
    eight = "tulip-ok"
    assert check_password(eight, mfa_enabled=True) == []
    assert any("at least 15" in p for p in check_password(eight, mfa_enabled=False))
    assert any("at least 8" in p for p in check_password("tulip", mfa_enabled=True))
    assert check_password("x7" + "tulip-meadow" * 5 + "zz", mfa_enabled=False) == []  # exactly 64
    assert len("x7" + "tulip-meadow" * 5 + "zz") == MAX_LENGTH
    assert any("at most 64" in p for p in check_password("q" + "tulip-meadow" * 6, mfa_enabled=False))


def test_length_counted_after_normalisation():
    # Seven ligatures are 7 code points but 14 once normalised ("fi" * 7): long enough with MFA.
    assert check_password("\ufb01" * 4 + "lmz", mfa_enabled=True) == []
    # A decomposed "é" (e + combining acute) composes to one code point under NFKC.
    assert any("at least 8" in p for p in check_password("cafe\u0301ab", mfa_enabled=True))


def test_no_composition_rules():
    assert check_password("all lower case words here", mfa_enabled=False) == []
    assert check_password("🌷🌷🌷 mes tulipes 🌷", mfa_enabled=False) == []


@pytest.mark.parametrize(
    "password",
    [
        "password",
        "PASSWORD",
        "Password123!",
        "qwerty123",
        "P@ssw0rd",
        "123456789!",
        _fullwidth("password"),
        "iloveyou",
        " letmein1 ",
    ],
)
def test_common_passwords_rejected(password):
    assert "Password is too common." in check_password(password, mfa_enabled=True)


def test_builtin_list_is_modest_and_lowercase():
    assert 90 <= len(COMMON_PASSWORDS) <= 200
    assert all(entry == entry.casefold() for entry in COMMON_PASSWORDS)


@pytest.mark.parametrize("password", ["aaaaaaaaaaaaaaaa", "abcdefghijklmnop", "9876543210"])
def test_repeated_and_sequential_rejected(password):
    assert "Password is a repeated or sequential pattern." in check_password(password, mfa_enabled=True)


def test_tenant_banned_terms_case_insensitive_and_normalised():
    problems = check_password("ilovecontosoforever", mfa_enabled=False, banned=["Contoso", "ab"])
    assert problems == ["Password contains a term banned by your organisation."]
    assert check_password(f"my {_fullwidth('CONTOSO')} tulip garden", mfa_enabled=False, banned=["contoso"])
    # Terms shorter than four characters are ignored rather than banning half of all passwords.
    assert check_password("a lovely tulip garden", mfa_enabled=False, banned=["ab", "a"]) == []


def test_context_words_rejected():
    context = ["alice.smith@fabrikam.com", "Warden Portal"]
    assert check_password("Alice-summer-garden", mfa_enabled=False, context=context) == [
        "Password contains your user name or the application's name."
    ]
    assert check_password("fabrikam tulips 4ever", mfa_enabled=False, context=context)
    assert check_password("my warden portal secret", mfa_enabled=False, context=context)
    assert check_password("a lovely tulip garden", mfa_enabled=False, context=context) == []


def test_not_a_string():
    assert check_password(None, mfa_enabled=True) == ["Password must be text."]
