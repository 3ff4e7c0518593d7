"""HTTP Data Collector API logic: SharedKey signatures, Log-Type, body parsing and Azure's column typing."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime

import pytest

from warden.monitor.ingestion.data_collector import (
    MAX_BODY_BYTES,
    MAX_FIELD_BYTES,
    DataCollectorError,
    build_signature,
    check_request_date,
    parse_authorization,
    parse_body,
    shape_records,
    string_to_sign,
    validate_log_type,
    verify_signature,
)

WORKSPACE = "f3b1c0de-1234-4cde-9abc-0123456789ab"
NOW = datetime(2026, 3, 10, 12, 0, 0, tzinfo=UTC)
NOW_RFC1123 = "Tue, 10 Mar 2026 12:00:00 GMT"


def reference_authorization(customer_id: str, key_b64: str, date: str, length: int,
                            method: str = "POST", content_type: str = "application/json") -> str:
    """The doc's algorithm, written out here independently of the module under test."""
    text = method + "\n" + str(length) + "\n" + content_type + "\n" + "x-ms-date:" + date + "\n" + "/api/logs"
    digest = hmac.new(base64.b64decode(key_b64), text.encode("utf-8"), hashlib.sha256).digest()
    return "SharedKey " + customer_id + ":" + base64.b64encode(digest).decode("ascii")


def random_key() -> str:
    return base64.b64encode(os.urandom(64)).decode()


# --- signatures -----------------------------------------------------------------------------------------------------


def test_string_to_sign_matches_the_docs_example():
    expected = "POST\n1024\napplication/json\nx-ms-date:Mon, 04 Apr 2016 08:00:00 GMT\n/api/logs"
    assert string_to_sign("Mon, 04 Apr 2016 08:00:00 GMT", 1024) == expected


def test_signature_known_answer_from_openssl():
    # printf '<string to sign>' | openssl dgst -sha256 -mac HMAC -macopt hexkey:<key> -binary | base64
    key = base64.b64encode(b"warden-test-key-0123456789abcdef").decode()
    header = build_signature(WORKSPACE, key, "Mon, 04 Apr 2016 08:00:00 GMT", 1024)
    assert header == f"SharedKey {WORKSPACE}:7wSngPj49poEhRZ461qzX20ROj1zzlBz6RcQfJg8gyM="


@pytest.mark.parametrize("length", [0, 1, 187, 1024, 29_999_999])
def test_signature_matches_independent_computation(length):
    key = random_key()
    date = format_datetime(NOW, usegmt=True)
    assert build_signature(WORKSPACE, key, date, length) == reference_authorization(WORKSPACE, key, date, length)


def test_signature_depends_on_every_signed_part():
    key = random_key()
    base = build_signature(WORKSPACE, key, NOW_RFC1123, 100)
    variants = {
        build_signature(WORKSPACE, key, NOW_RFC1123, 101),
        build_signature(WORKSPACE, key, "Tue, 10 Mar 2026 12:00:01 GMT", 100),
        build_signature(WORKSPACE, key, NOW_RFC1123, 100, method="PUT"),
        build_signature(WORKSPACE, key, NOW_RFC1123, 100, content_type="text/plain"),
        build_signature(WORKSPACE, key, NOW_RFC1123, 100, resource="/api/other"),
        build_signature(WORKSPACE, random_key(), NOW_RFC1123, 100),
    }
    assert base not in variants and len(variants) == 6


def test_build_signature_rejects_a_non_base64_key():
    with pytest.raises(ValueError):
        build_signature(WORKSPACE, "not base64!!", NOW_RFC1123, 1)


def test_parse_authorization():
    assert parse_authorization(f"SharedKey {WORKSPACE}:abc+/=") == (WORKSPACE, "abc+/=")
    assert parse_authorization(f"sharedkey {WORKSPACE}:sig") == (WORKSPACE, "sig")


@pytest.mark.parametrize("header", [None, "", "SharedKey", f"Bearer {WORKSPACE}:sig", f"SharedKey {WORKSPACE}",
                                    f"SharedKey {WORKSPACE}:", "SharedKey :sig"])
def test_parse_authorization_refuses_malformed_headers(header):
    with pytest.raises(DataCollectorError) as caught:
        parse_authorization(header)
    assert caught.value.code == "InvalidAuthorization" and caught.value.status == 403


def test_verify_accepts_primary_or_secondary_key():
    primary, secondary = random_key(), random_key()
    for signer in (primary, secondary):
        header = reference_authorization(WORKSPACE, signer, NOW_RFC1123, 42)
        signed = verify_signature(header, keys=[primary, secondary], date_rfc1123=NOW_RFC1123, content_length=42,
                                  customer_id=WORKSPACE.upper(), now=NOW)
        assert signed == WORKSPACE


@pytest.mark.parametrize("change", ["key", "length", "date_header", "content_type", "workspace", "tampered"])
def test_verify_refuses_wrong_signatures(change):
    key = random_key()
    header = reference_authorization(WORKSPACE, key, NOW_RFC1123, 42)
    kwargs = {"keys": [key], "date_rfc1123": NOW_RFC1123, "content_length": 42, "customer_id": WORKSPACE,
              "now": NOW}
    if change == "key":
        kwargs["keys"] = [random_key(), random_key()]
    elif change == "length":
        kwargs["content_length"] = 43
    elif change == "date_header":
        kwargs["date_rfc1123"] = "Tue, 10 Mar 2026 12:00:05 GMT"
    elif change == "content_type":
        kwargs["content_type"] = "application/json; charset=utf-8"
    elif change == "workspace":
        kwargs["customer_id"] = "00000000-0000-0000-0000-000000000000"
    else:
        header = header[:-6] + ("A" if header[-6] != "A" else "B") + header[-5:]
    with pytest.raises(DataCollectorError) as caught:
        verify_signature(header, **kwargs)
    assert caught.value.code == "InvalidAuthorization" and caught.value.status == 403


def test_verify_ignores_a_broken_key_but_uses_the_other():
    good = random_key()
    header = reference_authorization(WORKSPACE, good, NOW_RFC1123, 7)
    assert verify_signature(header, keys=["%%%", good], date_rfc1123=NOW_RFC1123, content_length=7, now=NOW)
    with pytest.raises(DataCollectorError):
        verify_signature(header, keys=[], date_rfc1123=NOW_RFC1123, content_length=7, now=NOW)


@pytest.mark.parametrize(("offset", "accepted"), [
    (timedelta(0), True), (timedelta(minutes=14, seconds=59), True), (-timedelta(minutes=14), True),
    (timedelta(minutes=15, seconds=1), False), (-timedelta(minutes=16), False), (timedelta(days=3), False),
])
def test_request_date_window(offset, accepted):
    date = format_datetime(NOW + offset, usegmt=True)
    key = random_key()
    header = reference_authorization(WORKSPACE, key, date, 10)
    if accepted:
        assert verify_signature(header, keys=[key], date_rfc1123=date, content_length=10, now=NOW) == WORKSPACE
    else:
        with pytest.raises(DataCollectorError) as caught:
            verify_signature(header, keys=[key], date_rfc1123=date, content_length=10, now=NOW)
        assert "x-ms-date" in caught.value.message


@pytest.mark.parametrize("date", [None, "", "yesterday", "2026-03-10T12:00:00Z", "Tue, 10 Mar 2026 12:00:00"])
def test_request_date_must_be_rfc1123_gmt(date):
    with pytest.raises(DataCollectorError) as caught:
        check_request_date(date, now=NOW)
    assert caught.value.status == 403


# --- Log-Type ------------------------------------------------------------------------------------------------------


def test_log_type_becomes_a_custom_log_table():
    assert validate_log_type("MyRecordType") == "MyRecordType_CL"
    assert validate_log_type("Fw_2026_events") == "Fw_2026_events_CL"
    assert validate_log_type("x" * 100) == "x" * 100 + "_CL"


@pytest.mark.parametrize(("name", "code"), [
    (None, "MissingLogType"), ("", "MissingLogType"), ("my-type", "InvalidLogType"), ("my type", "InvalidLogType"),
    ("x" * 101, "InvalidLogType"), ("tÿpe", "InvalidLogType"), ("a.b", "InvalidLogType"),
])
def test_log_type_rules(name, code):
    with pytest.raises(DataCollectorError) as caught:
        validate_log_type(name)
    assert caught.value.code == code and caught.value.status == 400


# --- body ----------------------------------------------------------------------------------------------------------


def test_body_object_or_array_of_objects():
    assert parse_body(b'{"a": 1}') == [{"a": 1}]
    assert parse_body(b'[{"a": 1}, {"b": "x"}]') == [{"a": 1}, {"b": "x"}]
    assert parse_body(b"[]") == []
    assert parse_body('\ufeff[{"é": "ü"}]'.encode()) == [{"é": "ü"}]


@pytest.mark.parametrize(("body", "record"), [
    (b"not json", None), (b'"a string"', None), (b"42", None), (b'[{"a": 1}, 2]', 1), (b'[{"a":1},{"b":2},[1]]', 2),
    (b'[{"a": NaN}]', None), (b"\xff\xfe", None),
])
def test_bad_bodies(body, record):
    with pytest.raises(DataCollectorError) as caught:
        parse_body(body)
    assert caught.value.code == "InvalidDataFormat" and caught.value.record == record
    if record is not None:
        assert f"Record {record}" in caught.value.message


def test_body_over_30_mb_is_refused_before_parsing():
    with pytest.raises(DataCollectorError) as caught:
        parse_body(b" " * (MAX_BODY_BYTES + 1))
    assert caught.value.status == 413


# --- column typing -------------------------------------------------------------------------------------------------


def shape(records, existing=None, field=None, received=NOW):
    return shape_records(records, existing or {}, time_generated_field=field, received_at=received)


def test_docs_sample_records_get_suffixed_columns():
    # The two records of the doc's PowerShell sample.
    batch = shape(parse_body(json.dumps([
        {"StringValue": "MyString1", "NumberValue": 42, "BooleanValue": True,
         "DateValue": "2019-09-12T20:00:00.625Z", "GUIDValue": "9909ED01-A74C-4874-8ABF-D2678E3AE23D"},
        {"StringValue": "MyString2", "NumberValue": 43, "BooleanValue": False,
         "DateValue": "2019-09-12T20:00:00.625Z", "GUIDValue": "8809ED01-A74C-4874-8ABF-D2678E3AE23D"},
    ]).encode()))
    assert batch.columns == batch.new_columns == {
        "StringValue_s": "string", "NumberValue_d": "real", "BooleanValue_b": "bool", "DateValue_t": "datetime",
        "GUIDValue_g": "guid"}
    first = batch.rows[0]
    assert first["StringValue_s"] == "MyString1"
    assert first["NumberValue_d"] == 42.0 and isinstance(first["NumberValue_d"], float)
    assert first["BooleanValue_b"] is True
    assert first["DateValue_t"] == datetime(2019, 9, 12, 20, 0, 0, 625000, tzinfo=UTC)
    assert first["GUIDValue_g"] == "9909ed01-a74c-4874-8abf-d2678e3ae23d"
    assert first["TimeGenerated"] == NOW  # no time-generated-field: ingestion time
    assert batch.rows[1]["BooleanValue_b"] is False


def test_guid_without_dashes_is_stored_dashed():
    batch = shape([{"id": "8145d82213a744ad859c36f31a84f6dd"}])
    assert batch.rows[0] == {"id_g": "8145d822-13a7-44ad-859c-36f31a84f6dd", "TimeGenerated": NOW}


def test_nested_values_are_json_strings_and_nulls_are_left_out():
    batch = shape([{"obj": {"k": [1, "é"]}, "arr": [1, 2], "nothing": None, "empty": ""}])
    row = batch.rows[0]
    assert row["obj_s"] == '{"k":[1,"é"]}' and json.loads(row["obj_s"]) == {"k": [1, "é"]}
    assert row["arr_s"] == "[1,2]" and row["empty_s"] == ""
    assert "nothing_s" not in row and not any(c.startswith("nothing") for c in batch.columns)


def test_strings_are_not_guessed_as_numbers_or_booleans_for_a_new_type():
    # The doc's fourth example: all values sent as strings before the type exists.
    batch = shape([{"number": "1.2", "boolean": "true", "string": "hello"}])
    assert batch.columns == {"number_s": "string", "boolean_s": "string", "string_s": "string"}


def test_strings_convert_into_existing_columns():
    # The doc's second example: the type exists; string values that convert keep the existing columns.
    existing = {"number_d": "real", "boolean_b": "bool", "string_s": "string"}
    batch = shape([{"number": "2.5", "boolean": "FALSE", "string": "x"}], existing)
    assert batch.new_columns == {}
    assert batch.rows[0] == {"number_d": 2.5, "boolean_b": False, "string_s": "x", "TimeGenerated": NOW}


def test_type_clash_creates_a_second_column():
    # The doc's third example: values that cannot convert make new columns with their own suffix.
    existing = {"number_d": "real", "boolean_b": "bool", "string_s": "string"}
    batch = shape([{"number": "abc", "boolean": 1.2, "string": 2.3}], existing)
    assert batch.new_columns == {"number_s": "string", "boolean_d": "real", "string_d": "real"}
    assert batch.rows[0]["boolean_d"] == 1.2 and batch.rows[0]["string_d"] == 2.3
    assert set(batch.columns) == set(existing) | set(batch.new_columns)
    assert existing == {"number_d": "real", "boolean_b": "bool", "string_s": "string"}  # not modified


def test_clash_within_one_batch_and_later_records_reuse_columns():
    batch = shape([{"v": 1}, {"v": "text"}, {"v": 2}, {"v": "3"}])
    assert batch.new_columns == {"v_d": "real", "v_s": "string"}
    # "3" is a string and v_s now exists, so it goes there (its own type) rather than being converted.
    assert [{k: v for k, v in r.items() if k != "TimeGenerated"} for r in batch.rows] == [
        {"v_d": 1.0}, {"v_s": "text"}, {"v_d": 2.0}, {"v_s": "3"}]


def test_property_names_with_other_characters_are_normalised():
    batch = shape([{"property 1": "value1", "a-b.c": True}])
    assert set(batch.columns) == {"property_1_s", "a_b_c_b"}


@pytest.mark.parametrize("name", ["tenant", "TimeGenerated", "RawData", "timegenerated"])
def test_reserved_properties_are_refused_with_record_and_field(name):
    with pytest.raises(DataCollectorError) as caught:
        shape([{"ok": 1}, {"ok": 2, name: "x"}])
    assert caught.value.record == 1 and caught.value.field == name
    assert "Record 1" in caught.value.message and name in caught.value.message


def test_column_name_limit():
    assert "a" * 43 + "_s" in shape([{"a" * 43: "x"}]).columns
    with pytest.raises(DataCollectorError) as caught:
        shape([{"a" * 44: "x"}])
    assert caught.value.field == "a" * 44 and caught.value.record == 0


def test_table_column_limit_names_the_offending_record_and_field():
    existing = {f"c{i}_s": "string" for i in range(499)}
    assert len(shape([{"new": "x"}], existing).columns) == 500
    with pytest.raises(DataCollectorError) as caught:
        shape([{"c1": "ok"}, {"new": "x", "another": "y"}], existing)
    assert (caught.value.record, caught.value.field) == (1, "another")


def test_long_string_values_are_truncated_to_32_kb():
    row = shape([{"big": "é" * MAX_FIELD_BYTES}]).rows[0]
    assert len(row["big_s"].encode("utf-8")) <= MAX_FIELD_BYTES
    assert row["big_s"] == "é" * (MAX_FIELD_BYTES // 2)


def test_non_object_records_are_refused():
    with pytest.raises(DataCollectorError) as caught:
        shape([{"a": 1}, "nope"])
    assert caught.value.record == 1


# --- time-generated-field -------------------------------------------------------------------------------------------


def test_time_generated_field_sets_time_generated_and_keeps_the_column():
    batch = shape([{"When": "2026-03-09T20:15:00Z", "msg": "a"}, {"When": "2026-03-10T13:00:00+02:00"}],
                  field="When")
    assert batch.rows[0]["TimeGenerated"] == datetime(2026, 3, 9, 20, 15, tzinfo=UTC)
    assert batch.rows[0]["When_t"] == datetime(2026, 3, 9, 20, 15, tzinfo=UTC)
    assert batch.rows[1]["TimeGenerated"] == datetime(2026, 3, 10, 11, 0, tzinfo=UTC)


@pytest.mark.parametrize("value", ["not a date", 1234567890, "2026-03-07T11:59:59Z", "2026-03-11T12:00:01Z", None])
def test_time_generated_falls_back_to_ingestion_time(value):
    # Unparseable, not a string, more than 2 days old, more than 1 day ahead, or absent.
    row = shape([{"When": value, "x": 1}], field="When").rows[0]
    assert row["TimeGenerated"] == NOW


def test_time_generated_window_edges_are_inclusive():
    old = shape([{"t": "2026-03-08T12:00:00Z"}], field="t").rows[0]
    ahead = shape([{"t": "2026-03-11T12:00:00Z"}], field="t").rows[0]
    assert old["TimeGenerated"] == NOW - timedelta(days=2) and ahead["TimeGenerated"] == NOW + timedelta(days=1)


def test_missing_time_generated_field_and_default_received_at():
    before = datetime.now(UTC)
    row = shape_records([{"x": 1}], {}, time_generated_field="ts").rows[0]
    assert before <= row["TimeGenerated"] <= datetime.now(UTC)
