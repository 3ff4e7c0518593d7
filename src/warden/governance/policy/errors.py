"""The exception tree of the policy engine: one root, :class:`PolicyError`."""

from __future__ import annotations

__all__ = [
    "AliasTableError",
    "PolicyDefinitionError",
    "PolicyError",
    "PolicyEvaluationError",
    "PolicyParameterError",
]


class PolicyError(Exception):
    """Root of every error raised by :mod:`warden.governance.policy`."""


class PolicyDefinitionError(PolicyError):
    """A definition (or initiative) fails static validation; ``path`` is the JSON path of the problem."""

    def __init__(self, path: str, message: str) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"{path}: {message}" if path else message)


class PolicyParameterError(PolicyError):
    """Assignment parameters don't fit the definition (unknown name, missing value, wrong type, not allowed)."""


class PolicyEvaluationError(PolicyError):
    """A condition could not be evaluated (e.g. comparing a number with an object).

    :func:`~warden.governance.policy.evaluate` never lets this escape: like Azure, it turns a failed
    evaluation into a ``deny`` with compliance state ``Error``.
    """


class AliasTableError(PolicyError):
    """An alias table file is not in a recognised shape."""
