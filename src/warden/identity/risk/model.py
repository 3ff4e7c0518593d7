"""Detections and the sign-in fields detectors read, in Graph's spellings."""

from __future__ import annotations

import datetime as dt
import json
import uuid
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

# Stable namespace for detection IDs: the same evidence always yields the same ID, so re-running
# the detectors over events already seen cannot create duplicates.
DETECTION_NAMESPACE = uuid.UUID("6f1d3c1e-5a55-4c39-9a4b-3f0f6b2d7e10")
# AADSTS codes that mean "the password was wrong" (50126) or the account was locked by repeated
# wrong passwords (50053): the failures a password spray produces.
PASSWORD_FAILURE_CODES = frozenset({50126, 50053})
UPN_KEY = "upn:"


class RiskEventType(StrEnum):
    PASSWORD_SPRAY = "passwordSpray"
    UNFAMILIAR_FEATURES = "unfamiliarFeatures"
    IMPOSSIBLE_TRAVEL = "impossibleTravel"
    ANONYMIZED_IP = "anonymizedIPAddress"
    LEAKED_CREDENTIALS = "leakedCredentials"


class RiskLevel(StrEnum):
    NONE = "none"
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


RANK = {RiskLevel.NONE: 0, RiskLevel.LOW: 1, RiskLevel.MEDIUM: 2, RiskLevel.HIGH: 3}


class Timing(StrEnum):
    REALTIME = "realtime"
    OFFLINE = "offline"


def parse_time(value: object) -> dt.datetime:
    """A Graph timestamp (``...Z`` or with an offset) as an aware UTC datetime; raises ValueError."""
    text = str(value).strip()
    parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith(("Z", "z")) else text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC)


def graph_time(value: dt.datetime) -> str:
    return value.astimezone(dt.UTC).isoformat().replace("+00:00", "Z")


@dataclass(frozen=True)
class SignIn:
    """The fields of a Graph signIn record the detectors use."""

    id: str
    time: dt.datetime
    user_id: str
    user_principal_name: str
    user_display_name: str
    ip_address: str
    error_code: int
    client: str  # clientAppUsed + browser + operating system
    location: dict[str, Any] | None
    correlation_id: str
    risk_event_types: tuple[str, ...]

    @property
    def succeeded(self) -> bool:
        return self.error_code == 0

    @property
    def object_id(self) -> str | None:
        """The user's object ID, or None for an account that does not exist."""
        return None if self.user_id.startswith(UPN_KEY) else self.user_id

    @classmethod
    def from_record(cls, record: dict[str, Any]) -> SignIn | None:
        """The view of ``record``, or None when it lacks a user or a readable timestamp."""
        try:
            time = parse_time(record.get("createdDateTime"))
        except ValueError:
            return None
        # A failed sign-in for an account that does not exist has a UPN but no userId; password
        # spray counts those accounts too, keyed by the lower-cased UPN.
        upn = str(record.get("userPrincipalName") or "").strip().lower()
        user_id = record.get("userId") or (f"{UPN_KEY}{upn}" if upn else None)
        if not user_id:
            return None
        status = record.get("status") or {}
        device = record.get("deviceDetail") or {}
        client = "|".join(
            str(part or "").lower()
            for part in (record.get("clientAppUsed"), device.get("browser"), device.get("operatingSystem"))
        )
        try:
            error_code = int(status.get("errorCode") or 0)
        except (TypeError, ValueError):
            error_code = -1
        return cls(
            id=str(record.get("id") or ""),
            time=time,
            user_id=str(user_id),
            user_principal_name=str(record.get("userPrincipalName") or ""),
            user_display_name=str(record.get("userDisplayName") or ""),
            ip_address=str(record.get("ipAddress") or ""),
            error_code=error_code,
            client=client,
            location=record.get("location") if isinstance(record.get("location"), dict) else None,
            correlation_id=str(record.get("correlationId") or ""),
            risk_event_types=tuple(str(t) for t in (record.get("riskEventTypes_v2") or []) if isinstance(t, str)),
        )


@dataclass(frozen=True)
class Detection:
    """One risk detection; ``key`` is the evidence that makes it unique (for the stable ID)."""

    risk_event_type: RiskEventType
    risk_level: RiskLevel
    timing: Timing
    signin: SignIn
    key: str
    location: dict[str, Any] | None = None
    additional_info: dict[str, Any] = field(default_factory=dict)

    def detection_id(self, tenant_id: str) -> str:
        """Same tenant, type, user and evidence → same ID."""
        name = f"{tenant_id}|{self.risk_event_type}|{self.signin.user_id}|{self.key}"
        return str(uuid.uuid5(DETECTION_NAMESPACE, name))

    def graph(self, tenant_id: str, detected: dt.datetime) -> dict[str, Any]:
        """Graph's riskDetection resource (``/v1.0/identityProtection/riskDetections``)."""
        signin = self.signin
        return {
            "id": self.detection_id(tenant_id),
            "requestId": signin.id,
            "correlationId": signin.correlation_id,
            "riskEventType": str(self.risk_event_type),
            "riskState": "atRisk",
            "riskLevel": str(self.risk_level),
            "riskDetail": "none",
            "source": "IdentityProtection",
            "detectionTimingType": str(self.timing),
            "activity": "signin",
            "tokenIssuerType": "AzureAD",
            "ipAddress": signin.ip_address,
            "location": self.location or signin.location,
            "activityDateTime": graph_time(signin.time),
            "detectedDateTime": graph_time(detected),
            "lastUpdatedDateTime": graph_time(detected),
            "userId": signin.object_id,
            "userDisplayName": signin.user_display_name,
            "userPrincipalName": signin.user_principal_name,
            # Graph carries additionalInfo as a JSON string of [{"Key": ..., "Value": ...}].
            "additionalInfo": json.dumps([{"Key": k, "Value": v} for k, v in self.additional_info.items()]),
        }
