"""Server-rendered HTML for the sign-in, MFA, MFA registration, consent and device-code pages (no scripts).

Every value is escaped; every page is sent with a strict Content-Security-Policy, ``no-store``
and framing denied, so the pages cannot be clickjacked or cached on shared machines.
"""

from __future__ import annotations

import secrets
from html import escape

from fastapi.responses import HTMLResponse

_STYLE = (
    "body{font-family:system-ui,sans-serif;background:#f2f2f2;margin:0}"
    "main{max-width:26rem;margin:4rem auto;background:#fff;padding:2rem;box-shadow:0 2px 6px #0003}"
    "label{display:block;margin:.8rem 0 .2rem}input[type=text],input[type=password]{width:100%;padding:.5rem;"
    "box-sizing:border-box}button{margin-top:1rem;padding:.5rem 1.5rem}.error{color:#a4262c}.muted{color:#605e5c}"
)


def _headers(extra_csp: str = "") -> dict[str, str]:
    return {
        "Content-Security-Policy": "default-src 'none'; style-src 'unsafe-inline'; form-action 'self'"
        f"{extra_csp}; frame-ancestors 'none'; base-uri 'none'",
        "X-Frame-Options": "DENY",
        "Cache-Control": "no-store",
        "Pragma": "no-cache",
        "Referrer-Policy": "no-referrer",
        "X-Content-Type-Options": "nosniff",
    }


def render(title: str, body: str, *, status: int = 200, extra_csp: str = "") -> HTMLResponse:
    """A complete page with the security headers."""
    html = (
        f'<!doctype html><html lang="en"><head><meta charset="utf-8"><title>{escape(title)}</title>'
        f'<meta name="viewport" content="width=device-width"><style>{_STYLE}</style></head>'
        f"<body><main><h1>{escape(title)}</h1>{body}</main></body></html>"
    )
    return HTMLResponse(html, status_code=status, headers=_headers(extra_csp))


def _hidden(fields: dict[str, str]) -> str:
    return "".join(f'<input type="hidden" name="{escape(k)}" value="{escape(v)}">' for k, v in fields.items())


def _error(message: str | None) -> str:
    return f'<p class="error" role="alert">{escape(message)}</p>' if message else ""


def signin_page(
    action: str,
    hidden: dict[str, str],
    app_name: str,
    *,
    username: str = "",
    error: str | None = None,
    cancel: bool = False,
):
    """The password step (status 200; errors are shown on the page, never as a redirect).

    ``cancel`` adds a second form that declines the request (device code: access_denied).
    """
    body = (
        f'<p class="muted">to continue to {escape(app_name)}</p>{_error(error)}'
        f'<form method="post" action="{escape(action)}">{_hidden({**hidden, "step": "password"})}'
        f'<label for="login">Email or username</label><input type="text" id="login" name="login" '
        f'value="{escape(username)}" autocomplete="username" required>'
        '<label for="passwd">Password</label><input type="password" id="passwd" name="passwd" '
        'autocomplete="current-password" required><button type="submit">Sign in</button></form>'
    )
    if cancel:
        body += (
            f'<form method="post" action="{escape(action)}">{_hidden({**hidden, "step": "deny"})}'
            '<button type="submit">Cancel: I did not start this sign-in</button></form>'
        )
    return render("Sign in", body)


def mfa_page(action: str, hidden: dict[str, str], challenge: str, *, error: str | None = None):
    """The second step: a code from the authenticator app, or a recovery code."""
    body = (
        f"<p>Enter the code displayed in your authenticator app, or one of your recovery codes.</p>{_error(error)}"
        f'<form method="post" action="{escape(action)}">'
        f"{_hidden({**hidden, 'step': 'mfa', 'challenge': challenge})}"
        '<label for="otc">Code</label><input type="text" id="otc" name="otc" inputmode="numeric" '
        'autocomplete="one-time-code" required><button type="submit">Verify</button></form>'
    )
    return render("Enter code", body)


def mfa_registration_page(
    action: str, hidden: dict[str, str], challenge: str, secret_key: str, otpauth_uri: str, *, error: str | None = None
):
    """The "More information required" interrupt: add an authenticator app, then type its code.

    The key and the otpauth:// URI are shown as text (no QR code service sees the secret).
    """
    body = (
        "<p>Your organization needs more information to keep your account secure. "
        "Set up an authenticator app to continue signing in.</p>"
        "<p>In your app, add an account and enter this key:</p>"
        f'<p><code id="secret">{escape(secret_key)}</code></p>'
        '<p class="muted">Or give your app this URI:</p>'
        f'<p><code id="otpauth" style="word-break:break-all">{escape(otpauth_uri)}</code></p>{_error(error)}'
        f'<form method="post" action="{escape(action)}">'
        f"{_hidden({**hidden, 'step': 'mfaRegistration', 'challenge': challenge})}"
        '<label for="otc">Enter the 6-digit code the app shows</label><input type="text" id="otc" name="otc" '
        'inputmode="numeric" autocomplete="one-time-code" required><button type="submit">Next</button></form>'
    )
    return render("More information required", body)


def consent_page(action: str, hidden: dict[str, str], app_name: str, publisher: str, scopes: list[str]):
    """Asks the signed-in user to grant an application the listed permissions."""
    items = "".join(f"<li>{escape(s)}</li>" for s in scopes)
    body = (
        f"<p><strong>{escape(app_name)}</strong> (published by tenant {escape(publisher)}) "
        f"wants to:</p><ul>{items}</ul>"
        f'<form method="post" action="{escape(action)}">{_hidden({**hidden, "step": "consent"})}'
        '<button type="submit" name="decision" value="accept">Accept</button> '
        '<button type="submit" name="decision" value="cancel">Cancel</button></form>'
    )
    return render("Permissions requested", body)


def device_code_page(action: str, hidden: dict[str, str], *, error: str | None = None):
    body = (
        f"<p>Enter the code displayed on your app or device.</p>{_error(error)}"
        f'<form method="post" action="{escape(action)}">{_hidden(hidden)}'
        '<label for="otc">Code</label><input type="text" id="otc" name="otc" autocomplete="off" required>'
        '<button type="submit">Next</button></form>'
    )
    return render("Enter code", body)


def message_page(title: str, text: str, *, status: int = 200):
    return render(title, f"<p>{escape(text)}</p>", status=status)


def form_post_page(redirect_uri: str, fields: dict[str, str], origin: str):
    """response_mode=form_post: the browser posts the answer to the client (one nonce'd script)."""
    nonce = secrets.token_urlsafe(16)
    body = (
        f'<form method="post" action="{escape(redirect_uri)}" id="answer">{_hidden(fields)}'
        '<noscript><button type="submit">Continue</button></noscript></form>'
        f'<script nonce="{nonce}">document.getElementById("answer").submit()</script>'
    )
    return render("Working...", body, extra_csp=f" {origin}; script-src 'nonce-{nonce}'")
