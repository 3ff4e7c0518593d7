"""The sign-in log entries the sign-in flows write, in Graph's signIn shape (``events.record_signin``).

Every attempt is written, success or failure: interactive (sign-in page), non-interactive (refresh,
single sign-on) and service-principal (client credentials) sign-ins.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy import Connection

from warden.identity.events import record_signin
from warden.identity.oauth import errors as e
from warden.identity.oauth.clients import OAuthClient
from warden.identity.users import User
from warden.kernel.clock import utcnow

BROWSER = "Browser"
NATIVE = "Mobile Apps and Desktop clients"
MFA_FAILED = 500121  # "Authentication failed during strong authentication request."
REASONS = {
    0: "",
    e.INVALID_CREDENTIALS: "Error validating credentials due to invalid username or password.",
    e.ACCOUNT_LOCKED: "The account is locked, you've tried to sign in too many times with an incorrect user ID "
    "or password.",
    e.ACCOUNT_DISABLED: "User account is disabled. The account has been disabled by an administrator.",
    e.MFA_REGISTRATION_REQUIRED: "User needs to enroll for second factor authentication.",
    MFA_FAILED: "Authentication failed during strong authentication request.",
    e.USER_NOT_IN_TENANT: "User account does not exist in the tenant.",
}


@dataclass(frozen=True)
class Attempt:
    """Where a sign-in comes from and what it is for; copied into the sign-in record."""

    tenant_id: str
    client: OAuthClient
    ip_address: str
    user_agent: str
    client_app: str = BROWSER
    resource_id: str | None = None


def write_signin(
    conn: Connection,
    attempt: Attempt,
    error: int,
    *,
    user: User | None = None,
    username: str = "",
    mfa_method: str | None = None,
    interactive: bool = True,
    risk_events: list[str] | None = None,
) -> dict[str, Any]:
    """Write one Graph-shaped signIn record for an interactive or refresh sign-in."""
    multi = mfa_method is not None
    details = [
        {
            "authenticationStepDateTime": utcnow().isoformat().replace("+00:00", "Z"),
            "authenticationMethod": "Password",
            "succeeded": error == 0 or (multi and error == MFA_FAILED),
        }
    ]
    if multi:
        details.append({"authenticationMethod": mfa_method, "succeeded": error == 0})
    record: dict[str, Any] = {
        "userId": user.object_id if user else None,
        "userPrincipalName": user.user_principal_name if user else username[:256],
        "userDisplayName": user.display_name if user else None,
        "appId": attempt.client.client_id,
        "appDisplayName": attempt.client.display_name,
        "ipAddress": attempt.ip_address,
        "clientAppUsed": attempt.client_app,
        "userAgent": attempt.user_agent[:512],
        "isInteractive": interactive,
        "resourceId": attempt.resource_id,
        "resourceDisplayName": attempt.resource_id,
        "status": {
            "errorCode": error,
            "failureReason": REASONS.get(error, "Sign-in failed."),
            "additionalDetails": None,
        },
        "authenticationRequirement": "multiFactorAuthentication" if multi else "singleFactorAuthentication",
        "mfaDetail": {"authMethod": mfa_method, "authDetail": None} if multi else None,
        "authenticationDetails": details,
        "conditionalAccessStatus": "notApplied",
        "riskLevelDuringSignIn": "none",
        "riskEventTypes_v2": list(risk_events or []),
        "signInEventTypes": ["interactiveUser" if interactive else "nonInteractiveUser"],
    }
    return record_signin(conn, attempt.tenant_id, record)


def write_service_principal_signin(
    conn: Connection,
    tenant_id: str,
    client_id: str,
    display_name: str,
    principal_id: str | None,
    ip_address: str,
    error: int,
    credential: str,
) -> dict[str, Any]:
    """Write the signIn record of a client-credentials grant (non-interactive, no user)."""
    return record_signin(
        conn,
        tenant_id,
        {
            "appId": client_id,
            "appDisplayName": display_name,
            "servicePrincipalId": principal_id,
            "servicePrincipalName": display_name,
            "ipAddress": ip_address,
            "clientAppUsed": NATIVE,
            "isInteractive": False,
            "clientCredentialType": credential,
            "status": {"errorCode": error, "failureReason": "" if error == 0 else "Invalid client credentials."},
            "authenticationRequirement": "singleFactorAuthentication",
            "conditionalAccessStatus": "notApplied",
            "riskLevelDuringSignIn": "none",
            "signInEventTypes": ["servicePrincipal"],
        },
    )
