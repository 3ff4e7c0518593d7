"""Directory fixtures and a scripted browser for the OAuth / sign-in end-to-end tests.

Users, applications and TOTP methods are created with Warden's own directory functions on the
running server's database (the Graph endpoints for them are another engineer's work in progress);
everything after that goes through the server's HTTPS endpoints only.
"""

from __future__ import annotations

import base64
import hashlib
import re
import secrets
import time
import uuid
from dataclasses import dataclass
from html import unescape
from urllib.parse import parse_qs, urlsplit

import httpx

from warden.identity.applications import create_application
from warden.identity.mfa.methods import confirm_totp_enrolment, start_totp_enrolment
from warden.identity.mfa.totp import totp
from warden.identity.principals import add_client_secret, get_principal
from warden.identity.users import create_user
from warden.kernel.db import Database
from warden.kernel.secrets import MasterKey
from warden.kernel.settings import load_settings

PASSWORD = "correct horse battery staple 42"


@dataclass
class SignInUser:
    object_id: str
    upn: str
    password: str
    totp_seed: bytes | None = None

    def code(self, offset_steps: int = 0) -> str:
        """The TOTP code ``offset_steps`` 30-second steps from now (enrolment used step -1)."""
        assert self.totp_seed is not None
        return totp(self.totp_seed, time.time() + 30 * offset_steps)


@dataclass
class RegisteredApp:
    client_id: str
    object_id: str
    redirect_uri: str
    secret: str | None = None


class Directory:
    """Creates directory objects in one tenant of a running server."""

    def __init__(self, data_dir, tenant_id: str) -> None:  # type: ignore[no-untyped-def]
        settings = load_settings(data_dir)  # the server's own database (SQLite or PostgreSQL)
        self.db = Database(settings.resolved_database_url)
        self.master_key = MasterKey.load_or_create(data_dir)
        self.tenant_id = tenant_id

    def close(self) -> None:
        self.db.dispose()

    def user(
        self, *, mfa: bool = False, enabled: bool = True, mail: str | None = None, tenant: str | None = None
    ) -> SignInUser:
        tenant_id = tenant or self.tenant_id
        upn = f"user-{uuid.uuid4().hex[:8]}@contoso.test"
        with self.db.write() as conn:
            user = create_user(
                conn, tenant_id, upn, f"Test {upn[:13]}", password=PASSWORD, mail=mail, account_enabled=enabled
            )
            seed = None
            if mfa:
                enrolment = start_totp_enrolment(conn, self.master_key, tenant_id, user.object_id, upn)
                padded = enrolment.secret_key + "=" * (-len(enrolment.secret_key) % 8)
                seed = base64.b32decode(padded)
                assert confirm_totp_enrolment(
                    conn, self.master_key, user.object_id, enrolment.id, totp(seed, time.time() - 30), time.time()
                )
        return SignInUser(user.object_id, upn, PASSWORD, seed)

    def app(
        self,
        *,
        web: str | None = None,
        spa: str | None = None,
        public: str | None = None,
        secret: bool = False,
        multi_tenant: bool = False,
        tenant: str | None = None,
        fallback_public: bool = False,
    ) -> RegisteredApp:
        tenant_id = tenant or self.tenant_id
        with self.db.write() as conn:
            app = create_application(
                conn,
                tenant_id,
                f"app-{uuid.uuid4().hex[:6]}",
                web_redirect_uris=[web] if web else [],
                spa_redirect_uris=[spa] if spa else [],
                public_client_redirect_uris=[public] if public else [],
                is_fallback_public_client=fallback_public,
                sign_in_audience="AzureADMultipleOrgs" if multi_tenant else "AzureADMyOrg",
            )
            text = None
            if secret:
                principal = get_principal(conn, app_id=app.app_id)
                assert principal is not None
                text = add_client_secret(conn, principal.object_id).secret_text
        return RegisteredApp(app.app_id, app.object_id, web or spa or public or "", text)

    def run(self, fn):  # type: ignore[no-untyped-def]
        """Run ``fn(conn)`` in a write transaction (for adding certificates, tenants ...)."""
        with self.db.write() as conn:
            return fn(conn)


def pkce_pair() -> tuple[str, str]:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    return verifier, challenge


_INPUT = re.compile(r'<input type="hidden" name="([^"]+)" value="([^"]*)">')
_ACTION = re.compile(r'<form method="post" action="([^"]+)"')


def form_of(page: httpx.Response) -> tuple[str, dict[str, str]]:
    """The (action, hidden fields) of the first form on an HTML page."""
    action = _ACTION.search(page.text)
    assert action is not None, page.text
    form = page.text[action.start() : page.text.index("</form>", action.start())]
    return unescape(action.group(1)), {unescape(k): unescape(v) for k, v in _INPUT.findall(form)}


def submit(browser: httpx.Client, page: httpx.Response, **fields: str) -> httpx.Response:
    """Post the page's form with its hidden fields plus ``fields`` (no redirects followed)."""
    action, hidden = form_of(page)
    return browser.post(action, data={**hidden, **fields})


def sign_in(browser: httpx.Client, page: httpx.Response, user: SignInUser, *, mfa_offset: int = 0) -> httpx.Response:
    """Fill the password step, and the MFA step when the user has TOTP; return the last response."""
    answer = submit(browser, page, login=user.upn, passwd=user.password)
    if user.totp_seed is not None and 'name="otc"' in answer.text:
        answer = submit(browser, answer, otc=user.code(mfa_offset))
    return answer


def query_of(response: httpx.Response) -> dict[str, str]:
    """The query parameters of a redirect's Location."""
    assert response.status_code == 302, (response.status_code, response.text[:500])
    return {k: v[0] for k, v in parse_qs(urlsplit(response.headers["location"]).query).items()}
