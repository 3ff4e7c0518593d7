"""Typed settings: the one place configuration is read.

Values come from (highest first) explicit arguments, ``WARDEN_*`` environment variables and
``DATA_DIR/warden.json`` (written by ``warden init``). Code receives a ``Settings`` object and
never reads the environment itself.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

CONFIG_FILE = "warden.json"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="WARDEN_", extra="ignore")

    data_dir: Path = Field(description="Directory holding the database, TLS material and keys.")
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the control-plane database; default: SQLite file in the data dir.",
    )
    host: str = Field(default="127.0.0.1", description="Address the HTTPS server binds.")
    port: int = Field(default=8443, ge=0, le=65535, description="Port the HTTPS server binds.")
    public_endpoint: str | None = Field(
        default=None,
        description="URL clients use to reach the server (token issuer); default https://{host}:{port}.",
    )
    token_lifetime_seconds: int = Field(default=3600, ge=60, le=86400, description="Access token lifetime.")
    activity_retention_days: int = Field(default=90, ge=1, description="Activity log retention.")
    job_poll_seconds: float = Field(default=0.5, gt=0, description="How often workers look for queued jobs.")
    page_size: int = Field(default=100, ge=1, le=1000, description="Default page size of list operations.")
    syslog_port: int | None = Field(
        default=None,
        ge=0,
        le=65535,
        description="UDP and TCP port of the syslog receiver (RFC 5424/3164); off when unset.",
    )
    ingestion_max_concurrent: int = Field(
        default=8,
        ge=1,
        le=256,
        description="Logs Ingestion API requests processed at once per process; more get 429 with Retry-After.",
    )
    backup_roots: list[Path] = Field(
        default_factory=list,
        description="Directories of this machine whose files vaults may protect and restore into (each tenant's "
        "Backup Operators may read and write there through the server); empty: none.",
    )
    syslog_tenant: str | None = Field(
        default=None, description="Tenant whose data collection rules receive syslog; default: the first tenant."
    )
    public_ip_pool: str = Field(
        default="198.51.100.0/24",
        description="CIDR range Microsoft.Network/publicIPAddresses are allocated from (default: a documentation "
        "range).",
    )

    identity_ip_locations_file: Path | None = Field(
        default=None,
        description="CSV of CIDR,city,country,lat,lon the impossible-travel risk detection locates sign-ins with; "
        "the detection is off when unset (none is shipped).",
    )
    identity_anonymous_ips_file: Path | None = Field(
        default=None,
        description="File of anonymizing IP addresses or CIDRs (e.g. Tor exit nodes), one a line; the "
        "anonymizedIPAddress risk detection is off when unset.",
    )
    identity_leaked_password_hashes_file: Path | None = Field(
        default=None,
        description="File of SHA-1 hex hashes of leaked passwords (HIBP's HASH[:COUNT] lines); the "
        "leakedCredentials risk detection is off when unset.",
    )

    smtp_host: str | None = Field(
        default=None,
        description="SMTP server that sends email one-time codes (self-service password reset); email is off when "
        "unset.",
    )
    smtp_port: int = Field(default=587, ge=1, le=65535, description="Port of the SMTP server.")
    smtp_security: str = Field(
        default="starttls",
        pattern="^(starttls|tls|none)$",
        description="starttls (upgrade after connecting), tls (implicit TLS, usually port 465) or none (local "
        "relays and tests only).",
    )
    smtp_from: str | None = Field(default=None, description="From address of Warden's email; default warden@{host}.")
    smtp_username: str | None = Field(default=None, description="SMTP login name; no login when unset.")
    smtp_password: str | None = Field(default=None, description="SMTP password (prefer WARDEN_SMTP_PASSWORD).")

    @property
    def resolved_database_url(self) -> str:
        return self.database_url or f"sqlite:///{self.data_dir / 'warden.db'}"

    @property
    def endpoint(self) -> str:
        if self.public_endpoint:
            return self.public_endpoint.rstrip("/")
        host = "127.0.0.1" if self.host in ("0.0.0.0", "::") else self.host
        return f"https://{host}:{self.port}"


def load_settings(data_dir: Path, **overrides: object) -> Settings:
    """Settings for ``data_dir``: its ``warden.json``, then ``WARDEN_*`` variables, then ``overrides``.

    ``None`` overrides are ignored so CLI options left unset do not mask the file.
    """
    data_dir = Path(data_dir).expanduser().resolve()
    config = data_dir / CONFIG_FILE
    file_values = json.loads(config.read_text()) if config.is_file() else {}
    # pydantic-settings ranks init arguments above the environment; the file must rank below it,
    # so file values the environment also sets are left out.
    values = {k: v for k, v in file_values.items() if f"WARDEN_{k.upper()}" not in os.environ}
    values.update({k: v for k, v in overrides.items() if v is not None})
    values["data_dir"] = data_dir
    return Settings(**values)


def save_config(settings: Settings, keys: tuple[str, ...] = ("database_url", "host", "port")) -> None:
    """Persist the options ``serve`` must reuse (database URL, address) to ``warden.json``."""
    path = settings.data_dir / CONFIG_FILE
    current = json.loads(path.read_text()) if path.is_file() else {}
    for key in keys:
        value = getattr(settings, key)
        if value is not None:
            current[key] = value
    path.write_text(json.dumps(current, indent=2, default=str) + "\n")
