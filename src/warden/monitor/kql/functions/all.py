"""Import every function module so that all KQL functions are registered (the generator imports this)."""

from . import conditional, conversion, datetime, dynamic, math, strings  # noqa: F401
