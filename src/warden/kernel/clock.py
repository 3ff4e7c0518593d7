"""Time in one place, so tests and retention logic agree on "now"."""

from __future__ import annotations

from datetime import UTC, datetime


def utcnow() -> datetime:
    return datetime.now(UTC)


def isoformat(moment: datetime) -> str:
    """ARM's timestamp spelling: ISO 8601 in UTC with a trailing ``Z`` and microseconds."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def aware(moment: datetime) -> datetime:
    """``moment`` as a UTC-aware datetime (SQLite hands back naive ones; all stored times are UTC)."""
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
