"""What the browser-facing handlers need from a request, and the CSRF check they share.

CSRF uses a double-submit cookie: a random ``warden_csrf`` cookie (HttpOnly, SameSite=Lax) and a
form field holding its HMAC under a key derived from the master key, so a page on another site can
neither read the cookie nor forge the field.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field

from fastapi import Request
from fastapi.responses import Response

from warden.kernel.secrets import MasterKey

CSRF_COOKIE = "warden_csrf"
MAX_FIELD = 8192


@dataclass
class WebRequest:
    method: str
    fields: dict[str, str]
    cookies: dict[str, str]
    ip_address: str
    user_agent: str
    set_cookies: list[str] = field(default_factory=list)

    def get(self, name: str) -> str:
        return self.fields.get(name, "")


async def read_web_request(request: Request) -> WebRequest:
    """Query parameters, plus form fields for a POST (fields over 8 KiB are cut, not trusted)."""
    fields = {k: v[:MAX_FIELD] for k, v in request.query_params.items()}
    if request.method == "POST":
        form = await request.form()
        fields.update({k: v[:MAX_FIELD] for k, v in form.items() if isinstance(v, str)})
    return WebRequest(
        method=request.method,
        fields=fields,
        cookies=dict(request.cookies),
        ip_address=request.client.host if request.client else "",
        user_agent=request.headers.get("user-agent", ""),
    )


def csrf_token(master_key: MasterKey, web: WebRequest) -> str:
    """The form field value for this browser, setting the cookie when it has none yet."""
    cookie = web.cookies.get(CSRF_COOKIE, "")
    if not (16 <= len(cookie) <= 128):
        cookie = secrets.token_urlsafe(32)
        web.cookies[CSRF_COOKIE] = cookie
        web.set_cookies.append(f"{CSRF_COOKIE}={cookie}; Path=/; Secure; HttpOnly; SameSite=Lax")
    return hmac.new(master_key.derive("signin-csrf"), cookie.encode(), hashlib.sha256).hexdigest()


def csrf_ok(master_key: MasterKey, web: WebRequest) -> bool:
    """True when the posted ``csrf`` field matches this browser's cookie."""
    cookie = web.cookies.get(CSRF_COOKIE, "")
    if not (16 <= len(cookie) <= 128):
        return False
    expected = hmac.new(master_key.derive("signin-csrf"), cookie.encode(), hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, web.get("csrf"))


def finish(web: WebRequest, response: Response) -> Response:
    """Attach the cookies the handler set."""
    for cookie in web.set_cookies:
        response.headers.append("set-cookie", cookie)
    return response
