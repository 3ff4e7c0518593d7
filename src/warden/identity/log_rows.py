"""Graph signIn / directoryAudit records as rows of the workspace tables Entra's diagnostic
setting fills: SigninLogs, AADNonInteractiveUserSignInLogs, AADServicePrincipalSignInLogs, AuditLogs.

Column names follow Azure's table reference (``warden.monitor.tables``); object-valued columns
(Status, DeviceDetail, LocationDetails, InitiatedBy ...) are JSON text, as Azure sends them.
"""

from __future__ import annotations

import datetime as dt
import json
from typing import Any

from .signin_logs import audit_json, signin_json

# Diagnostic setting category -> workspace table (Azure's names on both sides).
SIGNIN_CATEGORIES = {
    "SignInLogs": "SigninLogs",
    "NonInteractiveUserSignInLogs": "AADNonInteractiveUserSignInLogs",
    "ServicePrincipalSignInLogs": "AADServicePrincipalSignInLogs",
}
AUDIT_CATEGORIES = {"AuditLogs": "AuditLogs"}
CATEGORIES = {**SIGNIN_CATEGORIES, **AUDIT_CATEGORIES}


def _time(value: object) -> dt.datetime:
    text = str(value or "")
    try:
        parsed = dt.datetime.fromisoformat(text.replace("Z", "+00:00") if text.endswith("Z") else text)
    except ValueError:
        parsed = dt.datetime.now(dt.UTC)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=dt.UTC)
    return parsed.astimezone(dt.UTC).replace(tzinfo=None)


def _json(value: object) -> str:
    return json.dumps(value if value is not None else {}, separators=(",", ":"))


def signin_category(record: dict[str, Any]) -> str:
    """Which sign-in log a record belongs to: service principal, non-interactive user or interactive."""
    types = [str(t).lower() for t in record.get("signInEventTypes") or []]
    if "serviceprincipal" in types or (not record.get("userId") and record.get("servicePrincipalId")):
        return "ServicePrincipalSignInLogs"
    if record.get("isInteractive") is False or "noninteractiveuser" in types:
        return "NonInteractiveUserSignInLogs"
    return "SignInLogs"


def signin_row(record: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    """One sign-in as a row; columns a table lacks are dropped at append."""
    full = signin_json(record)
    status = full["status"]
    location = full["location"]
    risk_level = str(full.get("riskLevelDuringSignIn") or "none")
    error = int(status["errorCode"])
    category = signin_category(record)
    return {
        "TimeGenerated": _time(full.get("createdDateTime")),
        "CreatedDateTime": _time(full.get("createdDateTime")),
        "Id": str(full.get("id")),
        "OperationName": "Sign-in activity",
        "OperationVersion": "1.0",
        "Category": category,
        "Level": "4",
        "ResultType": str(error),
        "ResultSignature": "SUCCESS" if error == 0 else "FAILURE",
        "ResultDescription": status.get("failureReason") or "",
        "DurationMs": 0,
        "CorrelationId": str(full.get("correlationId") or ""),
        "AADTenantId": tenant_id,
        "Identity": full.get("userDisplayName") or full.get("servicePrincipalName") or "",
        "AppId": full.get("appId") or "",
        "AppDisplayName": full.get("appDisplayName") or "",
        "UserId": full.get("userId") or "",
        "UserPrincipalName": full.get("userPrincipalName") or "",
        "UserDisplayName": full.get("userDisplayName") or "",
        "UserType": full.get("userType") or "Member",
        "UserAgent": full.get("userAgent") or "",
        "IPAddress": full.get("ipAddress") or "",
        "ClientAppUsed": full.get("clientAppUsed") or "",
        "ConditionalAccessStatus": full.get("conditionalAccessStatus") or "",
        "ConditionalAccessPolicies": _json(full.get("appliedConditionalAccessPolicies") or []),
        "AuthenticationRequirement": full.get("authenticationRequirement") or "singleFactorAuthentication",
        "AuthenticationDetails": _json(full.get("authenticationDetails") or []),
        "MfaDetail": _json(full.get("mfaDetail") or {}),
        "IsInteractive": category == "SignInLogs",
        "IsRisky": risk_level not in ("none", "hidden", ""),
        "RiskDetail": full.get("riskDetail") or "none",
        "RiskLevelAggregated": full.get("riskLevelAggregated") or "none",
        "RiskLevelDuringSignIn": risk_level,
        "RiskState": full.get("riskState") or "none",
        "RiskEventTypes": _json(full.get("riskEventTypes") or []),
        "RiskEventTypes_V2": _json(full.get("riskEventTypes_v2") or []),
        "ResourceDisplayName": full.get("resourceDisplayName") or "",
        "ResourceIdentity": full.get("resourceId") or "",
        "ServicePrincipalId": full.get("servicePrincipalId") or "",
        "ServicePrincipalName": full.get("servicePrincipalName") or "",
        "Status": _json(status),
        "DeviceDetail": _json(full["deviceDetail"]),
        "LocationDetails": _json(location),
        "Location": location.get("countryOrRegion") or "",
        "TokenIssuerType": "AzureAD",
        "SignInEventTypes": _json(full.get("signInEventTypes") or []),
        "SourceSystem": "Azure",
    }


def audit_row(record: dict[str, Any], tenant_id: str) -> dict[str, Any]:
    """One directory audit event as an AuditLogs row."""
    full = audit_json(record)
    initiated = full.get("initiatedBy") or {}
    user = initiated.get("user") or {}
    app = initiated.get("app") or {}
    return {
        "TimeGenerated": _time(full.get("activityDateTime")),
        "ActivityDateTime": _time(full.get("activityDateTime")),
        "Id": str(full.get("id")),
        "Category": full.get("category") or "Other",
        "CorrelationId": str(full.get("correlationId") or ""),
        "ActivityDisplayName": full.get("activityDisplayName") or "",
        "OperationName": full.get("activityDisplayName") or "",
        "OperationVersion": "1.0",
        "AADOperationType": full.get("operationType") or "",
        "AADTenantId": tenant_id,
        "Result": full.get("result") or "",
        "ResultReason": full.get("resultReason") or "",
        "ResultType": "",
        "ResultDescription": "",
        "ResultSignature": "None",
        "LoggedByService": full.get("loggedByService") or "",
        "InitiatedBy": _json(initiated),
        "TargetResources": _json(full.get("targetResources") or []),
        "AdditionalDetails": _json(full.get("additionalDetails") or []),
        "Identity": user.get("userPrincipalName") or user.get("displayName") or app.get("displayName") or "",
        "Level": "4",
        "DurationMs": 0,
        "SourceSystem": "Azure",
    }
