"""Warden's security baseline: an initiative of policy definitions for the resource types Warden
implements, shipped as package data in Azure's built-in file layout (``policyDefinitions/``,
``policySetDefinitions/``).

The definitions were written for Warden after the rule logic Azure publishes; those matching an
Azure built-in keep its name (so its ID, ``/providers/Microsoft.Authorization/policyDefinitions/{guid}``)
and ``policyType: BuiltIn``, the others are ``warden-*`` and name the Azure definition they stand
in for. ``warden policy import --baseline`` loads them into a server; ``warden policy check``
uses them when no ``--assignments`` directory is given. Defender builds its recommendations on
this initiative.
"""

from __future__ import annotations

from importlib import resources
from pathlib import Path

from warden.governance.policy import ImportReport, import_directory

__all__ = ["BASELINE_INITIATIVE", "baseline_directory", "load_baseline"]

BASELINE_INITIATIVE = "warden-security-baseline"


def baseline_directory() -> Path:
    """The directory holding the baseline's JSON files (package data)."""
    return Path(str(resources.files(__package__)))


def load_baseline() -> ImportReport:
    """The baseline's definitions and initiative, loaded and validated (members checked)."""
    return import_directory(baseline_directory())
