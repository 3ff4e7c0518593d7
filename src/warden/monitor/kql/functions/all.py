"""Import every function module so that all KQL functions are registered (the generator imports this)."""

from . import aggregates, conditional, conversion, datetime, dynamic, hashing, math, network, strings  # noqa: F401
