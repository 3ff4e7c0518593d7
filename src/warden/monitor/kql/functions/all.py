"""Import every function module so that all KQL functions are registered (the generator imports this)."""

from . import (
    conversion,  # noqa: F401
    math,  # noqa: F401
)
