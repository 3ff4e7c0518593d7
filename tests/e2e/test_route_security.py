"""Every route demands a token (401 without) and a permission (403 for a principal with no role).

Routes come from two places: the FastAPI route table, and the ARM operations each registered
resource type serves behind the catch-all route. Both are enumerated, so a new route or type is
covered without editing this test.
"""

from __future__ import annotations

import uuid

import httpx
import pytest
from starlette.routing import Route

from warden.api.app import create_app
from warden.kernel.settings import Settings
from warden.platform import Platform

# The only unauthenticated routes: how a client gets a token and checks its signature.
PUBLIC_PATHS = {
    "/{tenant}/v2.0/.well-known/openid-configuration",
    "/{tenant}/discovery/v2.0/keys",
    "/{tenant}/oauth2/v2.0/token",
    "/{tenant}/oauth2/token",
    # Sign-in: device code request, authorize and sign-in pages, device login, logout (tested in
    # tests/e2e/test_oauth_*.py); userinfo demands a user token of its own (401 without).
    "/{tenant}/oauth2/v2.0/devicecode",
    "/{tenant}/oauth2/v2.0/authorize",
    "/{tenant}/login",
    "/devicelogin",
    "/{tenant}/oauth2/v2.0/logout",
    "/oidc/userinfo",
    # Self-service password reset: for users who cannot sign in (rate-limited, no enumeration).
    "/{tenant}/sspr",
    "/{tenant}/sspr/start",
    "/{tenant}/sspr/{challenge}/email",
    "/{tenant}/sspr/{challenge}/verify",
    "/{tenant}/sspr/{challenge}/password",
}
CATCH_ALL = {"/{path:path}", "/v1.0/{path:path}"}
# Log Analytics data-plane routes: bearer tokens for their own audience (the scope to ask for).
LOGS = "https://api.loganalytics.io/.default"
INGESTION = "https://monitor.azure.com//.default"
DATA_PLANE = {
    "/v1/workspaces/{workspace}/query": LOGS,
    "/v1/$batch": LOGS,
    "/v1/{resource:path}/query": LOGS,
    "/dataCollectionRules/{rule}/streams/{stream}": INGESTION,
}
# The Graph directory subset (users, groups, applications, directory roles); a principal without a
# directory role gets Graph's 403 Authorization_RequestDenied.
_ID = "00000000-0000-4000-8000-000000000001"
GRAPH_DIRECTORY = [
    ("GET", "/v1.0/users"),
    ("POST", "/v1.0/users"),
    ("GET", f"/v1.0/users/{_ID}"),
    ("PATCH", f"/v1.0/users/{_ID}"),
    ("DELETE", f"/v1.0/users/{_ID}"),
    ("GET", f"/v1.0/users/{_ID}/memberOf"),
    ("GET", f"/v1.0/users/{_ID}/transitiveMemberOf"),
    ("POST", f"/v1.0/users/{_ID}/revokeSignInSessions"),
    ("GET", "/v1.0/groups"),
    ("POST", "/v1.0/groups"),
    ("GET", f"/v1.0/groups/{_ID}"),
    ("PATCH", f"/v1.0/groups/{_ID}"),
    ("DELETE", f"/v1.0/groups/{_ID}"),
    ("GET", f"/v1.0/groups/{_ID}/members"),
    ("GET", f"/v1.0/groups/{_ID}/transitiveMembers"),
    ("POST", f"/v1.0/groups/{_ID}/members/$ref"),
    ("DELETE", f"/v1.0/groups/{_ID}/members/{_ID}/$ref"),
    ("GET", f"/v1.0/groups/{_ID}/owners"),
    ("POST", f"/v1.0/groups/{_ID}/owners/$ref"),
    ("DELETE", f"/v1.0/groups/{_ID}/owners/{_ID}/$ref"),
    ("GET", f"/v1.0/groups/{_ID}/joinRequests"),
    ("POST", f"/v1.0/groups/{_ID}/joinRequests"),
    ("POST", f"/v1.0/groups/{_ID}/joinRequests/{_ID}/approve"),
    ("POST", f"/v1.0/groups/{_ID}/joinRequests/{_ID}/deny"),
    ("GET", "/v1.0/applications"),
    ("POST", "/v1.0/applications"),
    ("GET", f"/v1.0/applications/{_ID}"),
    ("PATCH", f"/v1.0/applications/{_ID}"),
    ("DELETE", f"/v1.0/applications/{_ID}"),
    ("POST", f"/v1.0/applications/{_ID}/addPassword"),
    ("POST", f"/v1.0/applications/{_ID}/removePassword"),
    ("GET", "/v1.0/roleManagement/directory/roleDefinitions"),
    ("GET", "/v1.0/roleManagement/directory/roleDefinitions/62e90394-69f5-4237-9190-012177145e10"),
    ("GET", "/v1.0/roleManagement/directory/roleAssignments"),
    ("POST", "/v1.0/roleManagement/directory/roleAssignments"),
    ("GET", f"/v1.0/roleManagement/directory/roleAssignments/{_ID}"),
    ("DELETE", f"/v1.0/roleManagement/directory/roleAssignments/{_ID}"),
]
# Authentication methods of the signed-in user (a service principal has none: 403), admin views of a
# user's methods and lockout (Global/User Administrator), tenant directory settings (Global Administrator).
GRAPH_MFA = [
    ("GET", "/v1.0/me/authentication/methods"),
    ("DELETE", f"/v1.0/me/authentication/methods/{_ID}"),
    ("GET", "/v1.0/me/authentication/softwareOathMethods"),
    ("POST", "/v1.0/me/authentication/softwareOathMethods"),
    ("GET", f"/v1.0/me/authentication/softwareOathMethods/{_ID}"),
    ("DELETE", f"/v1.0/me/authentication/softwareOathMethods/{_ID}"),
    ("POST", f"/v1.0/me/authentication/softwareOathMethods/{_ID}/verify"),
    ("POST", "/v1.0/me/authentication/recoveryCodes"),
    ("GET", "/v1.0/me/authentication/fido2Methods"),
    ("POST", "/v1.0/me/authentication/fido2Methods"),
    ("POST", "/v1.0/me/authentication/fido2Methods/creationOptions"),
    ("GET", f"/v1.0/me/authentication/fido2Methods/{_ID}"),
    ("DELETE", f"/v1.0/me/authentication/fido2Methods/{_ID}"),
    ("GET", f"/v1.0/users/{_ID}/authentication/methods"),
    ("DELETE", f"/v1.0/users/{_ID}/authentication/methods/{_ID}"),
    ("DELETE", f"/v1.0/users/{_ID}/authentication/softwareOathMethods/{_ID}"),
    ("GET", f"/v1.0/users/{_ID}/authentication/signInLockout"),
    ("POST", f"/v1.0/users/{_ID}/unlock"),
    ("GET", "/v1.0/policies/warden/directorySettings"),
    ("PATCH", "/v1.0/policies/warden/directorySettings"),
]
# Sign-in/audit logs, Identity Protection, security alerts and reports: directory readers of security
# data (Security Reader ...) only.
GRAPH_IDENTITY_LOGS = [
    ("GET", "/v1.0/auditLogs/signIns"),
    ("GET", f"/v1.0/auditLogs/signIns/{_ID}"),
    ("GET", "/v1.0/auditLogs/directoryAudits"),
    ("GET", f"/v1.0/auditLogs/directoryAudits/{_ID}"),
    ("GET", "/v1.0/identityProtection/riskDetections"),
    ("GET", f"/v1.0/identityProtection/riskDetections/{_ID}"),
    ("GET", "/v1.0/identityProtection/riskyUsers"),
    ("GET", f"/v1.0/identityProtection/riskyUsers/{_ID}"),
    ("POST", "/v1.0/identityProtection/riskyUsers/dismiss"),
    ("POST", "/v1.0/identityProtection/riskyUsers/confirmCompromised"),
    ("GET", "/v1.0/security/alerts_v2"),
    ("GET", f"/v1.0/security/alerts_v2/ip{_ID}"),
    ("GET", "/v1.0/reports/getAzureADApplicationSignInSummary(period='D7')"),
    ("GET", "/providers/microsoft.aadiam/diagnosticSettings/to-workspace"),
    ("PUT", "/providers/microsoft.aadiam/diagnosticSettings/to-workspace"),
    ("DELETE", "/providers/microsoft.aadiam/diagnosticSettings/to-workspace"),
    ("GET", "/providers/microsoft.aadiam/diagnosticSettings"),
]
# Authenticated by the workspace's shared-key signature instead of a token (Azure's Data Collector API).
SHARED_KEY = {"/api/logs"}
# The backup vault data endpoint: ARM bearer tokens, then the vault's backupData data actions (Owner has none).
BACKUP_DATA_VAULT = "/providers/Microsoft.RecoveryServices/vaults/{vault}/backupData"
BACKUP_DATA = {
    "/subscriptions/{subscription}/resourceGroups/{group}" + BACKUP_DATA_VAULT,
    "/subscriptions/{subscription}/resourceGroups/{group}" + BACKUP_DATA_VAULT + "/{name:path}",
}


@pytest.fixture(scope="module")
def app_routes(tmp_path_factory):  # type: ignore[no-untyped-def]
    platform = Platform(Settings(data_dir=tmp_path_factory.mktemp("routes")))
    app = create_app(platform)
    routes = [(r.path, sorted(r.methods - {"HEAD"} if r.methods else [])) for r in app.routes if isinstance(r, Route)]
    types = platform.registry.all()
    platform.stop()
    return routes, types


def concrete_requests(server, app_routes) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """(method, path) for every ARM operation Warden serves."""
    routes, types = app_routes
    sub = f"/subscriptions/{server.subscription}"
    group = f"{sub}/resourceGroups/rg-security"
    requests = [
        ("GET", "/subscriptions"),
        ("GET", sub),
        ("GET", f"{sub}/resourcegroups"),
        ("GET", group),
        ("PUT", group),
        ("PATCH", group),
        ("DELETE", group),
        ("HEAD", group),
        ("GET", f"{sub}/resources"),
        ("GET", f"{group}/resources"),
        ("GET", f"{sub}/providers"),
        ("GET", f"{sub}/providers/Microsoft.Authorization"),
        ("POST", f"{sub}/providers/Microsoft.Authorization/register"),
        ("GET", "/providers/Microsoft.Authorization/operations"),
        ("GET", f"{sub}/operationresults/{uuid.uuid4()}"),
        ("GET", f"{sub}/providers/Microsoft.Resources/operationStatuses/{uuid.uuid4()}"),
        ("GET", f"{sub}/providers/Microsoft.Insights/eventtypes/management/values"),
        ("GET", "/providers/Microsoft.Insights/eventtypes/management/values"),
        ("GET", f"{group}/providers/Microsoft.Authorization/permissions"),
        ("PUT", "/providers/Microsoft.Subscription/aliases/new-sub"),
        ("GET", "/providers/Microsoft.Subscription/aliases/new-sub"),
        ("GET", "/v1.0/servicePrincipals"),
        ("POST", "/v1.0/servicePrincipals"),
        ("GET", f"/v1.0/servicePrincipals/{uuid.uuid4()}"),
        ("DELETE", f"/v1.0/servicePrincipals/{uuid.uuid4()}"),
        ("POST", f"/v1.0/servicePrincipals/{uuid.uuid4()}/addPassword"),
        *GRAPH_DIRECTORY,
        *GRAPH_IDENTITY_LOGS,
        *GRAPH_MFA,
    ]
    for rtype in types:
        scope = group if "resourceGroup" in rtype.placements or "extension" in rtype.placements else sub
        if rtype.placements == {"tenant"}:  # tenant-only types (e.g. Entra diagnostic settings) live at "/"
            scope = ""
        name = str(uuid.uuid4())
        path = "/".join(f"{t}/{name}" for t in rtype.types)
        item = f"{scope}/providers/{rtype.namespace}/{path}"
        collection = item.rsplit("/", 1)[0]
        requests += [("GET", item), ("PUT", item), ("DELETE", item), ("GET", collection)]
        requests += [("POST", f"{item}/{action.name}") for action in rtype.actions.values()]
    vault_data = group + BACKUP_DATA_VAULT.format(vault="v-route-security")
    requests += [("GET", vault_data)] + [(m, f"{vault_data}/config") for m in ("GET", "HEAD", "PUT", "DELETE")]
    # Fixed routes other than the catch-alls must all be public token routes; anything else
    # would have to be added above.
    for path, _methods in routes:
        covered = path in PUBLIC_PATHS or path in CATCH_ALL or path in DATA_PLANE or path in SHARED_KEY
        covered = covered or path in BACKUP_DATA
        assert covered, f"route {path} is not covered by this test"
    return requests


def data_plane_requests(server) -> list[tuple[str, str, str, dict]]:  # type: ignore[no-untyped-def]
    """(method, path, token scope, body) for every Log Analytics data-plane route."""
    workspace = str(uuid.uuid4())
    vm = f"/subscriptions/{server.subscription}/resourceGroups/rg/providers/Microsoft.Compute/virtualMachines/vm"
    query = {"query": "Heartbeat | count"}
    return [
        ("GET", f"/v1/workspaces/{workspace}/query", LOGS, {}),
        ("POST", f"/v1/workspaces/{workspace}/query", LOGS, query),
        ("POST", "/v1/$batch", LOGS, {"requests": [{"id": "1", "workspace": workspace, "body": query}]}),
        ("POST", f"/v1{vm}/query", LOGS, query),
        ("POST", f"/dataCollectionRules/dcr-{uuid.uuid4().hex}/streams/Custom-X", INGESTION, {}),
    ]


def test_every_route_requires_a_token(warden_server, app_routes) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context()) as http:
        for method, path in concrete_requests(warden_server, app_routes):
            response = http.request(method, path, params={"api-version": "2022-04-01"}, json={})
            assert response.status_code == 401, (method, path, response.status_code, response.text)
            assert "WWW-Authenticate" in response.headers
            bogus = http.request(
                method,
                path,
                params={"api-version": "2022-04-01"},
                json={},
                headers={"Authorization": "Bearer not.a.token"},
            )
            assert bogus.status_code == 401, (method, path)
        for method, path, _scope, body in data_plane_requests(warden_server):
            response = http.request(method, path, params={"api-version": "2023-01-01"}, json=body)
            assert response.status_code == 401, (method, path, response.status_code, response.text)
            # A token for another API (here ARM) is refused too.
            other = http.request(method, path, json=body, headers={"Authorization": f"Bearer {warden_server.token()}"})
            assert other.status_code == 401, (method, path, other.text)
        unsigned = http.post("/api/logs", params={"api-version": "2016-04-01"}, json=[{"a": 1}])
        assert unsigned.status_code == 403 and unsigned.json()["Error"] == "InvalidAuthorization"


def test_every_route_requires_a_permission(warden_server, app_routes) -> None:  # type: ignore[no-untyped-def]
    nobody = warden_server.new_principal("no-role")
    with warden_server.client(nobody) as http:
        for method, path in concrete_requests(warden_server, app_routes):
            response = http.request(
                method, path, params={"api-version": "2022-04-01"}, json={"location": "westeurope", "properties": {}}
            )
            if (method, path) == ("GET", "/subscriptions"):
                # As in Azure, listing subscriptions filters rather than refuses: it must be empty.
                assert response.status_code == 200 and response.json()["value"] == []
                continue
            assert response.status_code == 403, (method, path, response.status_code, response.text)
            if method != "HEAD":  # HEAD answers carry no body
                # Graph answers in its own spelling.
                expected = "Authorization_RequestDenied" if path.startswith("/v1.0/") else "AuthorizationFailed"
                assert response.json()["error"]["code"] == expected, (method, path, response.text)
    for method, path, scope, body in data_plane_requests(warden_server):
        with warden_server.client(nobody, scope=scope) as http:
            response = http.request(method, path, params={"api-version": "2023-01-01"}, json=body)
        if path == "/v1/$batch":
            # A batch answers 200 with each request's own status, as Azure's does.
            assert response.status_code == 200, response.text
            assert [r["status"] for r in response.json()["responses"]] == [403]
            continue
        assert response.status_code == 403, (method, path, response.status_code, response.text)
        assert response.json()["error"]["code"] == "AuthorizationFailed"


def test_public_routes_answer_without_a_token(warden_server) -> None:  # type: ignore[no-untyped-def]
    with httpx.Client(base_url=warden_server.endpoint, verify=warden_server.ssl_context()) as http:
        config = http.get(f"/{warden_server.tenant}/v2.0/.well-known/openid-configuration").json()
        assert config["issuer"] == f"{warden_server.endpoint}/{warden_server.tenant}/v2.0"
        keys = http.get(f"/{warden_server.tenant}/discovery/v2.0/keys").json()["keys"]
        assert keys and all("d" not in key for key in keys)  # public halves only
