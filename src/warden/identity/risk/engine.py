"""Run every detector over a batch of sign-ins and aggregate user risk.

``detect(records, new_ids, reference)`` → detections; ``user_risk(levels)`` → the user's level.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from . import detectors
from .detectors import Thresholds
from .model import RANK, Detection, RiskLevel, SignIn
from .reference import AddressList, IpLocations


@dataclass(frozen=True)
class Reference:
    """The admin's reference data; a detector whose data is missing is off."""

    locations: IpLocations | None = None
    anonymous_ips: AddressList | None = None
    thresholds: Thresholds = field(default_factory=Thresholds)


def detect(records: Iterable[dict[str, Any]], new_ids: set[str] | None, reference: Reference) -> list[Detection]:
    """Detections triggered by the sign-ins in ``new_ids`` (all of them when None), judged against
    every record given (history and context). Records without a user or timestamp are skipped."""
    signins = sorted(
        (s for s in (SignIn.from_record(r) for r in records) if s is not None), key=lambda s: (s.time, s.id)
    )
    new = {s.id for s in signins} if new_ids is None else set(new_ids)
    found = [
        *detectors.password_spray(signins, new, reference.thresholds),
        *detectors.unfamiliar_features(signins, new, reference.thresholds, reference.locations),
        *detectors.impossible_travel(signins, new, reference.thresholds, reference.locations),
        *detectors.anonymized_ip(signins, new, reference.anonymous_ips),
        *detectors.leaked_credentials(signins, new),
    ]
    return found


def user_risk(levels: Sequence[str]) -> RiskLevel:
    """A user's risk level: the highest level among their open (atRisk) detections."""
    best = RiskLevel.NONE
    for level in levels:
        try:
            candidate = RiskLevel(level)
        except ValueError:
            continue
        if RANK[candidate] > RANK[best]:
            best = candidate
    return best
