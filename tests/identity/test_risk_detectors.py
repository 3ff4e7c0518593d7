"""The pure risk detectors over constructed sign-in sequences: each fires at its threshold, not below."""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import uuid
from typing import Any

from warden.identity.risk.detectors import Thresholds
from warden.identity.risk.engine import Reference, detect, user_risk
from warden.identity.risk.hooks import is_leaked
from warden.identity.risk.reference import AddressList, IpLocations, parse_leaked_hashes

T0 = dt.datetime(2026, 11, 1, 9, 0, tzinfo=dt.UTC)
LOCATIONS = IpLocations.parse(
    "203.0.113.0/24,London,GB,51.5074,-0.1278\n"
    "198.51.100.0/24,Paris,FR,48.8566,2.3522\n"
    "192.0.2.0/24,Sydney,AU,-33.8688,151.2093\n"
)


def signin(user: str, ip: str, minutes: float, *, error: int = 0, client: str = "Browser", **extra: Any) -> dict:
    return {
        "id": str(uuid.uuid4()),
        "createdDateTime": (T0 + dt.timedelta(minutes=minutes)).isoformat().replace("+00:00", "Z"),
        "userId": user,
        "userPrincipalName": f"{user}@contoso.test",
        "ipAddress": ip,
        "clientAppUsed": client,
        "status": {"errorCode": error},
        **extra,
    }


def types(detections) -> list[str]:  # type: ignore[no-untyped-def]
    return sorted(str(d.risk_event_type) for d in detections)


def spray(accounts: int, *, spacing: float = 1.0) -> list[dict]:
    return [signin(f"user{i}", "192.0.2.66", i * spacing, error=50126) for i in range(accounts)]


def test_password_spray_fires_at_threshold_accounts_not_below() -> None:
    reference = Reference(thresholds=Thresholds(spray_accounts=10))
    assert detect(spray(9), None, reference) == []
    found = detect(spray(10), None, reference)
    assert types(found) == ["passwordSpray"] * 10
    assert {d.signin.user_id for d in found} == {f"user{i}" for i in range(10)}
    assert all(d.risk_level == "medium" for d in found)
    info = json.loads(found[0].graph("t", T0)["additionalInfo"])
    assert {"Key": "attackedAccounts", "Value": 10} in info


def test_password_spray_needs_the_accounts_within_the_window() -> None:
    reference = Reference(thresholds=Thresholds(spray_accounts=10, spray_window=dt.timedelta(hours=1)))
    assert detect(spray(10, spacing=7.0), None, reference) == []  # 63 minutes from first to last
    assert len(detect(spray(10, spacing=6.0), None, reference)) == 10  # 54 minutes


def test_repeated_failures_of_one_account_are_not_a_spray() -> None:
    records = [signin("alice", "192.0.2.66", i, error=50126) for i in range(30)]
    assert detect(records, None, Reference()) == []


def test_spray_that_succeeded_is_high_risk() -> None:
    records = [*spray(10), signin("user3", "192.0.2.66", 12)]
    found = {d.signin.user_id: d for d in detect(records, None, Reference())}
    assert found["user3"].risk_level == "high" and found["user3"].signin.succeeded
    assert found["user4"].risk_level == "medium"


def test_unfamiliar_features_only_after_enough_history() -> None:
    reference = Reference(thresholds=Thresholds(unfamiliar_min_history=5))
    usual = [signin("alice", "203.0.113.10", i * 60) for i in range(4)]
    odd = signin("alice", "198.51.100.7", 500, client="Mobile Apps and Desktop clients")
    assert detect([*usual, odd], None, reference) == []  # 4 successful sign-ins: still learning
    usual.append(signin("alice", "203.0.113.11", 300))
    found = detect([*usual, odd], None, reference)
    assert types(found) == ["unfamiliarFeatures"] and found[0].signin.id == odd["id"]
    # Same /24 and client as before: familiar.
    assert detect([*usual, signin("alice", "203.0.113.99", 600)], None, reference) == []
    # Only one feature new (the IP prefix): not enough.
    assert detect([*usual, signin("alice", "198.51.100.7", 600)], None, reference) == []


def test_impossible_travel_by_distance_and_time() -> None:
    reference = Reference(locations=LOCATIONS)
    london = signin("bob", "203.0.113.5", 0)
    sydney_soon = signin("bob", "192.0.2.5", 120)  # ~17,000 km in 2 h
    found = detect([london, sydney_soon], None, reference)
    assert types(found) == ["impossibleTravel"]
    assert found[0].location["city"] == "Sydney"
    graph = found[0].graph("tenant", T0)
    assert graph["riskEventType"] == "impossibleTravel" and graph["detectionTimingType"] == "offline"
    # A day later is possible (under 900 km/h).
    assert detect([london, signin("bob", "192.0.2.5", 24 * 60)], None, reference) == []
    # Paris in 30 minutes: fast, but under the minimum distance (344 km).
    assert detect([london, signin("bob", "198.51.100.5", 30)], None, reference) == []
    # Without a location file the detector is off.
    assert detect([london, sydney_soon], None, Reference()) == []


def test_anonymized_ip_from_the_list() -> None:
    listed = AddressList.parse("192.0.2.66\n")
    reference = Reference(anonymous_ips=listed)
    found = detect([signin("carol", "192.0.2.66", 0, error=50126)], None, reference)
    assert types(found) == ["anonymizedIPAddress"] and found[0].timing == "realtime"
    assert detect([signin("carol", "192.0.2.67", 0)], None, reference) == []
    assert detect([signin("carol", "192.0.2.66", 0)], None, Reference()) == []


def test_leaked_credentials_hash_match_and_detection() -> None:
    digests = parse_leaked_hashes(hashlib.sha1(b"P@ssw0rd").hexdigest() + ":3\n")
    assert is_leaked(digests, "P@ssw0rd") and not is_leaked(digests, "P@ssw0rd1")
    flagged = signin("dave", "203.0.113.5", 0, riskEventTypes_v2=["leakedCredentials"])
    again = signin("dave", "203.0.113.5", 5, riskEventTypes_v2=["leakedCredentials"])
    found = detect([flagged, again, signin("erin", "203.0.113.5", 1)], None, Reference())
    assert types(found) == ["leakedCredentials"] and found[0].risk_level == "high"


def test_only_new_sign_ins_trigger_and_ids_are_stable() -> None:
    reference = Reference(anonymous_ips=AddressList.parse("192.0.2.66\n"))
    old, new = signin("carol", "192.0.2.66", 0), signin("carol", "192.0.2.66", 5)
    found = detect([old, new], {new["id"]}, reference)
    assert [d.signin.id for d in found] == [new["id"]]
    again = detect([old, new], {new["id"]}, reference)
    assert found[0].detection_id("t") == again[0].detection_id("t") != found[0].detection_id("other-tenant")


def test_user_risk_is_the_highest_open_level() -> None:
    assert user_risk([]) == "none"
    assert user_risk(["low", "high", "medium"]) == "high"
    assert user_risk(["low", "bogus"]) == "low"


def test_spray_counts_accounts_that_do_not_exist() -> None:
    records = [*spray(7)]
    records += [
        {**signin("x", "192.0.2.66", 10 + i, error=50126), "userId": None, "userPrincipalName": f"ghost{i}@c.test"}
        for i in range(3)
    ]
    found = detect(records, None, Reference())
    assert len(found) == 10
    ghosts = [d.graph("t", T0) for d in found if d.signin.object_id is None]
    assert len(ghosts) == 3 and all(g["userId"] is None and g["userPrincipalName"] for g in ghosts)


def test_success_after_a_reported_spray_is_new_high_evidence() -> None:
    failures = spray(10)
    before = {d.detection_id("t") for d in detect(failures, None, Reference())}
    success = signin("user5", "192.0.2.66", 20)
    after = detect([*failures, success], {success["id"]}, Reference())
    high = [d for d in after if d.risk_level == "high"]
    assert [d.signin.id for d in high] == [success["id"]]
    assert high[0].detection_id("t") not in before  # stored as a new detection, not deduplicated away
