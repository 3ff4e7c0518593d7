"""Punycode encode/decode (checked against Python's punycode codec) and the domain forms."""

from __future__ import annotations

import pytest

from monitor.kql.function_harness import Null, evaluate

TEXTS = ["académie-française", "abc", "ü", "Lê Lợi", "日本語テキスト", "Skáldskaparmál", "𝄞 clef", "a-b-ç"]


@pytest.mark.parametrize("text", TEXTS)
def test_encoding_matches_the_rfc_reference(text: str) -> None:
    encoded = text.encode("punycode").decode("ascii")
    assert evaluate("punycode_from_string", text) == encoded
    assert evaluate("punycode_to_string", encoded) == text


def test_documented_examples() -> None:
    assert evaluate("punycode_from_string", "académie-française") == "acadmie-franaise-npb1a"
    assert evaluate("punycode_to_string", "acadmie-franaise-npb1a") == "académie-française"
    assert (
        evaluate("punycode_domain_to_string", "Lê Lợi。Thuận Thiên。com")
        == "xn--L Li-gpa4517b.xn--Thun Thin-s4a7194f.com"
    )
    assert evaluate("punycode_domain_to_string", "Kaledvoulc'h.Artorījos.edu") == "Kaledvoulc'h.xn--Artorjos-ejb.edu"
    assert (
        evaluate("punycode_domain_from_string", "xn--Ry-lja8c.xn--Jng-uta63a.xn--Bng-9ka.com") == "Rúyì.Jīngū.Bàng.com"
    )


@pytest.mark.parametrize("bad", ["abc-!!", "ab-9", "é-abc"])  # a bad digit, an unfinished number, non-ASCII
def test_invalid_punycode_decodes_to_empty(bad: str) -> None:
    assert evaluate("punycode_to_string", bad) == ""
    assert evaluate("punycode_domain_from_string", f"xn--{bad}.com") == ""


def test_null_and_empty() -> None:
    assert evaluate("punycode_from_string", Null("string")) == ""
    assert evaluate("punycode_to_string", "") == ""
    assert evaluate("punycode_domain_from_string", "plain.example.org") == "plain.example.org"
