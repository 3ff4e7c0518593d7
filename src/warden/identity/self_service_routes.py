"""Self-service password reset over HTTPS: a JSON API under ``/{tenant}/sspr/`` and a minimal page.

Unauthenticated by nature (the user forgot the password), like Entra's passwordreset portal, so
every step is limited: per account in the store (:mod:`warden.identity.self_service`) and per
client IP here (in memory, per server process). Errors use ARM's ``{"error": {code, message}}``.

* ``POST /{tenant}/sspr/start`` ``{"userPrincipalName"}`` -> ``{challengeId, methods, expiresIn}``
* ``POST /{tenant}/sspr/{challengeId}/email`` -> 202 ``{"hint"}`` (sends an 8-digit code)
* ``POST /{tenant}/sspr/{challengeId}/verify`` ``{"methodType", "code"}`` -> ``{verifiedMethods, remainingMethods}``
* ``POST /{tenant}/sspr/{challengeId}/password`` ``{"newPassword"}`` -> 204
* ``GET /{tenant}/sspr`` -> the HTML page driving the same API
"""

from __future__ import annotations

import json
import secrets
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import HTMLResponse, JSONResponse
from sqlalchemy import select
from starlette.concurrency import run_in_threadpool

from warden.identity import mailer, self_service
from warden.kernel.clock import utcnow
from warden.kernel.errors import BadRequest, NotFound
from warden.kernel.ids import is_guid
from warden.kernel.schema import tenants

if TYPE_CHECKING:
    from warden.platform import Platform

MAX_BODY = 16 * 1024
IP_REQUESTS_PER_WINDOW = 60
IP_WINDOW_SECONDS = 600.0
SSPR_KEY_PURPOSE = "sspr"


class RateLimiter:
    """Sliding-window request counter per key (client IP), in memory."""

    def __init__(self, limit: int, window_seconds: float) -> None:
        self.limit = limit
        self.window = window_seconds
        self._hits: dict[str, deque[float]] = {}
        self._lock = threading.Lock()

    def allow(self, key: str, now: float | None = None) -> bool:
        """Count a request for ``key``; return False (not counted) when the window is full."""
        now = time.monotonic() if now is None else now
        with self._lock:
            hits = self._hits.setdefault(key, deque())
            while hits and hits[0] <= now - self.window:
                hits.popleft()
            if len(hits) >= self.limit:
                return False
            hits.append(now)
            if len(self._hits) > 100_000:  # bound memory under a spray from many addresses
                self._hits = {k: v for k, v in self._hits.items() if v and v[-1] > now - self.window}
            return True


def build_sspr_router(platform: Platform, *, limiter: RateLimiter | None = None) -> APIRouter:
    """Return the router serving the SSPR API and page for ``platform``."""
    router = APIRouter()
    ip_limiter = limiter or RateLimiter(IP_REQUESTS_PER_WINDOW, IP_WINDOW_SECONDS)
    key = platform.master_key.derive(SSPR_KEY_PURPOSE)

    def run(tenant: str, body: dict[str, Any], ip: str, step) -> Response:  # type: ignore[no-untyped-def]
        tenant_id = tenant.lower()
        with platform.db.write() as conn:
            exists = is_guid(tenant_id) and conn.execute(select(tenants.c.id).where(tenants.c.id == tenant_id)).first()
            if not exists:
                raise NotFound(f"Tenant '{tenant}' not found.", code="TenantNotFound")
            return step(conn, tenant_id, body, ip)

    async def handle(request: Request, tenant: str, step) -> Response:  # type: ignore[no-untyped-def]
        ip = request.client.host if request.client else ""
        if not ip_limiter.allow(ip):
            raise self_service.TooManyRequests(
                "Too many requests from your address. Try again later.", headers={"Retry-After": "600"}
            )
        raw = await request.body()
        if len(raw) > MAX_BODY:
            raise BadRequest("The request body is too large.", code="RequestEntityTooLarge")
        response = await run_in_threadpool(run, tenant, _json_object(raw), ip, step)
        for action in getattr(step, "after_commit", ()):
            action()  # e.g. mail a code only once the transaction that stored its hash has committed
        return response

    def start(conn, tenant_id: str, body: dict[str, Any], ip: str) -> Response:  # type: ignore[no-untyped-def]
        answer = self_service.start_reset(
            conn,
            tenant_id,
            body.get("userPrincipalName"),
            key=key,
            now=utcnow(),
            email_available=mailer.is_configured(platform.settings),
        )
        return _json(200, answer)

    def email(challenge: str):  # type: ignore[no-untyped-def]
        def step(conn, tenant_id: str, body: dict[str, Any], ip: str) -> Response:  # type: ignore[no-untyped-def]
            if not mailer.is_configured(platform.settings):
                raise BadRequest("This server cannot send email; use another method.", code="EmailNotConfigured")
            code = self_service.new_email_code(conn, tenant_id, challenge, key=key, now=utcnow())
            if code.address is not None:
                # Sent off the request thread once committed: a decoy (nothing to send) and a real
                # account answer in the same time.
                address, (subject, text) = code.address, _email_text(code.code)
                step.after_commit.append(lambda: mailer.send_in_background(platform.settings, address, subject, text))
            return _json(202, {"hint": code.hint})

        step.after_commit = []  # type: ignore[attr-defined]
        return step

    def verify(challenge: str):  # type: ignore[no-untyped-def]
        def step(conn, tenant_id: str, body: dict[str, Any], ip: str) -> Response:  # type: ignore[no-untyped-def]
            outcome = self_service.verify(
                conn,
                tenant_id,
                challenge,
                body.get("methodType"),
                body.get("code"),
                key=key,
                master_key=platform.master_key,
                now=utcnow(),
            )
            if not outcome.ok:
                code = "ChallengeExpired" if outcome.void else "InvalidVerificationCode"
                # The counters were updated; commit them by answering rather than raising.
                return _json(400, {"error": {"code": code, "message": outcome.reason}})
            return _json(200, {"verifiedMethods": list(outcome.proven), "remainingMethods": outcome.remaining})

        return step

    def password(challenge: str):  # type: ignore[no-untyped-def]
        def step(conn, tenant_id: str, body: dict[str, Any], ip: str) -> Response:  # type: ignore[no-untyped-def]
            self_service.complete_reset(
                conn, tenant_id, challenge, body.get("newPassword"), now=utcnow(), ip_address=ip
            )
            return Response(status_code=204, headers={"Cache-Control": "no-store"})

        return step

    @router.post("/{tenant}/sspr/start")
    async def sspr_start(request: Request, tenant: str) -> Response:
        return await handle(request, tenant, start)

    @router.post("/{tenant}/sspr/{challenge}/email")
    async def sspr_email(request: Request, tenant: str, challenge: str) -> Response:
        return await handle(request, tenant, email(challenge))

    @router.post("/{tenant}/sspr/{challenge}/verify")
    async def sspr_verify(request: Request, tenant: str, challenge: str) -> Response:
        return await handle(request, tenant, verify(challenge))

    @router.post("/{tenant}/sspr/{challenge}/password")
    async def sspr_password(request: Request, tenant: str, challenge: str) -> Response:
        return await handle(request, tenant, password(challenge))

    @router.get("/{tenant}/sspr")
    async def sspr_page(tenant: str) -> Response:
        if not is_guid(tenant):
            raise NotFound(f"Tenant '{tenant}' not found.", code="TenantNotFound")
        nonce = secrets.token_urlsafe(16)
        return HTMLResponse(
            _PAGE.replace("{nonce}", nonce).replace("{tenant}", tenant.lower()),
            headers={
                "Content-Security-Policy": f"default-src 'none'; script-src 'nonce-{nonce}'; connect-src 'self'; "
                "style-src 'unsafe-inline'; frame-ancestors 'none'",
                "Cache-Control": "no-store",
                "X-Content-Type-Options": "nosniff",
            },
        )

    return router


def _json_object(raw: bytes) -> dict[str, Any]:
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except ValueError:
        raise BadRequest("The request body is not valid JSON.", code="InvalidRequestContent") from None
    if not isinstance(body, dict):
        raise BadRequest("The request body must be a JSON object.", code="InvalidRequestContent")
    return body


def _json(status: int, body: dict[str, Any]) -> JSONResponse:
    return JSONResponse(body, status_code=status, headers={"Cache-Control": "no-store"})


def _email_text(code: str) -> tuple[str, str]:
    return (
        "Your Warden password reset code",
        f"Your password reset verification code is {code}.\n\n"
        "It expires in 10 minutes. If you did not ask to reset your password, ignore this message;\n"
        "your password has not changed.\n",
    )


_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Reset your password</title>
<meta name="viewport" content="width=device-width, initial-scale=1">
<style>body{font-family:sans-serif;max-width:28rem;margin:3rem auto}label,input,select,button{display:block;
margin:.4rem 0;width:100%}#msg{color:#a00}</style></head>
<body><h1>Reset your password</h1>
<form id="f1"><label>User name <input id="upn" autocomplete="username" required></label><button>Next</button></form>
<form id="f2" hidden><label>Method <select id="kind"></select></label>
<button type="button" id="send">Email me a code</button>
<label>Code <input id="code" autocomplete="one-time-code" required></label><button>Verify</button></form>
<form id="f3" hidden><label>New password <input id="pw" type="password" autocomplete="new-password" required>
</label><button>Reset password</button></form><p id="msg" role="status"></p>
<script nonce="{nonce}">
const base = "/{tenant}/sspr/"; let challenge = "";
const $ = (id) => document.getElementById(id);
async function call(path, body) {
  const r = await fetch(base + path, {method: "POST", headers: {"Content-Type": "application/json"},
                                      body: JSON.stringify(body || {})});
  const data = r.status === 204 ? {} : await r.json();
  if (!r.ok) { throw new Error((data.error && data.error.message) || r.statusText); }
  return data;
}
function fail(e) { $("msg").textContent = e.message; }
$("f1").onsubmit = async (e) => { e.preventDefault(); try {
  const d = await call("start", {userPrincipalName: $("upn").value}); challenge = d.challengeId;
  $("kind").innerHTML = ""; for (const m of d.methods) { const o = document.createElement("option");
    o.value = m.methodType; o.textContent = m.methodType + (m.hint ? " (" + m.hint + ")" : ""); $("kind").append(o); }
  $("f1").hidden = true; $("f2").hidden = false; $("msg").textContent = ""; } catch (x) { fail(x); } };
$("send").onclick = async () => { try { const d = await call(challenge + "/email");
  $("msg").textContent = "Code sent to " + d.hint; } catch (x) { fail(x); } };
$("f2").onsubmit = async (e) => { e.preventDefault(); try {
  const d = await call(challenge + "/verify", {methodType: $("kind").value, code: $("code").value});
  $("code").value = ""; if (d.remainingMethods === 0) { $("f2").hidden = true; $("f3").hidden = false;
    $("msg").textContent = ""; } else { $("msg").textContent = "Verified. Now verify one more method."; }
  } catch (x) { fail(x); } };
$("f3").onsubmit = async (e) => { e.preventDefault(); try { await call(challenge + "/password",
  {newPassword: $("pw").value}); $("f3").hidden = true; $("msg").textContent = "Your password has been reset.";
  } catch (x) { fail(x); } };
</script></body></html>
"""
