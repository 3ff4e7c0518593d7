"""The detectors: each takes sign-ins (oldest first) and returns detections for the ``new`` ones.

``history`` is everything the caller loaded (it includes ``new``); only sign-ins whose IDs are in
``new_ids`` can trigger a detection, so a periodic run over a sliding window reports each event
once. All thresholds live in ``Thresholds`` so the tests and the admin see them in one place.
"""

from __future__ import annotations

import ipaddress
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

from .model import PASSWORD_FAILURE_CODES, Detection, RiskEventType, RiskLevel, SignIn, Timing
from .reference import AddressList, GeoLocation, IpLocations, distance_km


@dataclass(frozen=True)
class Thresholds:
    # passwordSpray: this many distinct accounts failing with a wrong password from one IP ...
    spray_accounts: int = 10
    # ... within this window.
    spray_window: timedelta = timedelta(hours=1)
    # unfamiliarFeatures: a user needs this many successful sign-ins before anything is unfamiliar
    # (Azure speaks of a learning period; without history every sign-in would look new).
    unfamiliar_min_history: int = 5
    # ... and a sign-in is unfamiliar when at least this many known features are unseen.
    unfamiliar_min_new_features: int = 2
    # impossibleTravel: faster than a airliner's cruise between sign-ins this far apart.
    travel_max_speed_kmh: float = 900.0
    travel_min_distance_km: float = 500.0


def password_spray(history: Sequence[SignIn], new_ids: set[str], thresholds: Thresholds) -> list[Detection]:
    """``passwordSpray``: one IP fails with wrong passwords for ``spray_accounts`` or more distinct
    accounts within ``spray_window``. Every account attacked in that burst gets a detection (medium),
    high when the account also signed in successfully from that IP in the window (the spray worked).
    """
    by_ip: dict[str, list[SignIn]] = defaultdict(list)
    for signin in history:
        if signin.ip_address:
            by_ip[signin.ip_address].append(signin)
    found: list[Detection] = []
    for ip, signins in by_ip.items():
        failures = [s for s in signins if s.error_code in PASSWORD_FAILURE_CODES]
        for burst in _bursts(failures, thresholds):
            start, end = burst[0].time, burst[-1].time
            successes: dict[str, SignIn] = {}
            for s in signins:
                if s.succeeded and start <= s.time <= end + thresholds.spray_window:
                    successes.setdefault(s.user_id, s)
            # A burst is reported when it holds new evidence; the stable IDs absorb repeats.
            if not any(s.id in new_ids for s in [*burst, *successes.values()]):
                continue
            first_per_user: dict[str, SignIn] = {}
            for signin in burst:
                first_per_user.setdefault(signin.user_id, signin)
            for user_id, signin in first_per_user.items():
                compromised = user_id in successes
                found.append(
                    Detection(
                        RiskEventType.PASSWORD_SPRAY,
                        RiskLevel.HIGH if compromised else RiskLevel.MEDIUM,
                        Timing.OFFLINE,
                        successes.get(user_id, signin),
                        # A later success is new evidence: a second, high detection, not a silent no-op.
                        key=f"{ip}|{signin.id}" + ("|succeeded" if compromised else ""),
                        additional_info={
                            "attackedAccounts": len(first_per_user),
                            "sprayIpAddress": ip,
                            "succeeded": compromised,
                        },
                    )
                )
    return found


def _bursts(failures: list[SignIn], thresholds: Thresholds) -> list[list[SignIn]]:
    """Failures (oldest first) lying in some window of ``spray_window`` that holds
    ``spray_accounts`` distinct users, grouped into bursts separated by more than a window."""
    marked = [False] * len(failures)
    left = 0
    for right, signin in enumerate(failures):
        while signin.time - failures[left].time > thresholds.spray_window:
            left += 1
        if len({s.user_id for s in failures[left : right + 1]}) >= thresholds.spray_accounts:
            for i in range(left, right + 1):
                marked[i] = True
    bursts: list[list[SignIn]] = []
    for signin, hit in zip(failures, marked, strict=True):
        if not hit:
            continue
        if bursts and signin.time - bursts[-1][-1].time <= thresholds.spray_window:
            bursts[-1].append(signin)
        else:
            bursts.append([signin])
    return bursts


def _ip_prefix(address: str) -> str:
    """The /24 (IPv4) or /48 (IPv6) holding ``address``: a stand-in for the ASN Azure uses."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address
    length = 24 if ip.version == 4 else 48
    return str(ipaddress.ip_network(f"{ip}/{length}", strict=False))


def _place(signin: SignIn, locations: IpLocations | None) -> str:
    located = locations.locate(signin.ip_address) if locations else None
    if located is not None:
        return f"{located.country}|{located.city}".lower()
    if signin.location and (signin.location.get("countryOrRegion") or signin.location.get("city")):
        return f"{signin.location.get('countryOrRegion') or ''}|{signin.location.get('city') or ''}".lower()
    return ""


def unfamiliar_features(
    history: Sequence[SignIn], new_ids: set[str], thresholds: Thresholds, locations: IpLocations | None
) -> list[Detection]:
    """``unfamiliarFeatures``: a sign-in whose IP prefix, location and client are mostly unseen in
    the user's earlier successful sign-ins (at least ``unfamiliar_min_new_features`` of the known
    ones), once the user has ``unfamiliar_min_history`` of them. Failed sign-ins are judged too
    (an attacker's attempt is the point) but only successes teach the history."""
    seen: dict[str, dict[str, set[str]]] = defaultdict(lambda: {"ip": set(), "place": set(), "client": set()})
    count: dict[str, int] = defaultdict(int)
    found: list[Detection] = []
    for signin in history:
        features = {"ip": _ip_prefix(signin.ip_address), "place": _place(signin, locations), "client": signin.client}
        known = seen[signin.user_id]
        if signin.id in new_ids and count[signin.user_id] >= thresholds.unfamiliar_min_history:
            unseen = [name for name, value in features.items() if value and value not in known[name]]
            if len(unseen) >= thresholds.unfamiliar_min_new_features:
                found.append(
                    Detection(
                        RiskEventType.UNFAMILIAR_FEATURES,
                        RiskLevel.MEDIUM if len(unseen) < 3 else RiskLevel.HIGH,
                        Timing.REALTIME,
                        signin,
                        key=signin.id,
                        additional_info={"unfamiliarFeatures": unseen},
                    )
                )
        if signin.succeeded:
            count[signin.user_id] += 1
            for name, value in features.items():
                if value:
                    known[name].add(value)
    return found


def impossible_travel(
    history: Sequence[SignIn], new_ids: set[str], thresholds: Thresholds, locations: IpLocations | None
) -> list[Detection]:
    """``impossibleTravel``: two successful sign-ins of one user from places at least
    ``travel_min_distance_km`` apart, closer in time than ``travel_max_speed_kmh`` allows. Off (no
    detections) without an IP location table."""
    if locations is None:
        return []
    last: dict[str, tuple[SignIn, GeoLocation]] = {}
    found: list[Detection] = []
    for signin in history:
        if not signin.succeeded:
            continue
        here = locations.locate(signin.ip_address)
        if here is None:
            continue
        previous = last.get(signin.user_id)
        last[signin.user_id] = (signin, here)
        if previous is None or signin.id not in new_ids:
            continue
        before, there = previous
        km = distance_km(there, here)
        hours = max((signin.time - before.time).total_seconds() / 3600, 1e-6)
        if km >= thresholds.travel_min_distance_km and km / hours > thresholds.travel_max_speed_kmh:
            found.append(
                Detection(
                    RiskEventType.IMPOSSIBLE_TRAVEL,
                    RiskLevel.MEDIUM,
                    Timing.OFFLINE,
                    signin,
                    key=f"{before.id}|{signin.id}",
                    location=here.graph(),
                    additional_info={
                        "previousSignInId": before.id,
                        "previousLocation": f"{there.city}, {there.country}",
                        "distanceKm": round(km),
                        "hoursBetween": round(hours, 2),
                    },
                )
            )
    return found


def anonymized_ip(history: Sequence[SignIn], new_ids: set[str], listed: AddressList | None) -> list[Detection]:
    """``anonymizedIPAddress``: a sign-in (successful or not) from an address on the admin's list."""
    if not listed:
        return []
    return [
        Detection(RiskEventType.ANONYMIZED_IP, RiskLevel.MEDIUM, Timing.REALTIME, s, key=s.id)
        for s in history
        if s.id in new_ids and s.ip_address and s.ip_address in listed
    ]


def leaked_credentials(history: Sequence[SignIn], new_ids: set[str]) -> list[Detection]:
    """``leakedCredentials``: the sign-in code found the verified password on the leaked list and
    said so in ``riskEventTypes_v2`` (see ``hooks.check_leaked_password``). One detection per user
    and day, so every sign-in with the same password does not add another."""
    found: dict[str, Detection] = {}
    for signin in history:
        if signin.id in new_ids and RiskEventType.LEAKED_CREDENTIALS in signin.risk_event_types:
            key = f"{signin.user_id}|{signin.time.date().isoformat()}"
            found.setdefault(
                key, Detection(RiskEventType.LEAKED_CREDENTIALS, RiskLevel.HIGH, Timing.OFFLINE, signin, key=key)
            )
    return list(found.values())
