"""Sending Warden's email (one-time codes) over SMTP, configured by the ``smtp_*`` settings.

Off unless ``smtp_host`` is set. STARTTLS and implicit TLS verify the server's certificate with
the system trust store; ``none`` is for a local relay or a test server only.
"""

from __future__ import annotations

import logging
import smtplib
import ssl
import threading
from email.message import EmailMessage

from warden.kernel.settings import Settings

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 15


class MailNotConfigured(RuntimeError):
    """Raised when email is needed but no SMTP server is configured."""


def is_configured(settings: Settings) -> bool:
    """Return True when an SMTP server is configured."""
    return bool(settings.smtp_host)


def build_message(settings: Settings, to: str, subject: str, body: str) -> EmailMessage:
    """Return the plain-text message Warden sends."""
    message = EmailMessage()
    message["From"] = settings.smtp_from or f"warden@{settings.smtp_host}"
    message["To"] = to
    message["Subject"] = subject
    message.set_content(body)
    return message


def send(settings: Settings, to: str, subject: str, body: str) -> None:
    """Send one message and return when the server accepted it.

    Raises MailNotConfigured without ``smtp_host`` and ``smtplib.SMTPException`` / ``OSError``
    when the server refuses or cannot be reached.
    """
    if not settings.smtp_host:
        raise MailNotConfigured("No SMTP server is configured (smtp_host).")
    message = build_message(settings, to, subject, body)
    context = ssl.create_default_context()
    if settings.smtp_security == "tls":
        client: smtplib.SMTP = smtplib.SMTP_SSL(
            settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS, context=context
        )
    else:
        client = smtplib.SMTP(settings.smtp_host, settings.smtp_port, timeout=TIMEOUT_SECONDS)
    with client:
        if settings.smtp_security == "starttls":
            client.starttls(context=context)
        if settings.smtp_username:
            client.login(settings.smtp_username, settings.smtp_password or "")
        client.send_message(message)


def send_in_background(settings: Settings, to: str, subject: str, body: str) -> threading.Thread:
    """Send on a daemon thread and return it; failures are logged (without the body, which holds a code).

    Answering before the SMTP exchange keeps the response time the same whether or not a message
    is sent, which self-service password reset relies on to not reveal who has an account.
    """

    def run() -> None:
        try:
            send(settings, to, subject, body)
        except (MailNotConfigured, smtplib.SMTPException, OSError) as error:
            log.warning("sending email failed: %s", type(error).__name__)

    thread = threading.Thread(target=run, name="warden-mail", daemon=True)
    thread.start()
    return thread
