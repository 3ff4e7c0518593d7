"""What an expression can ask of its surroundings: the host object passed to :func:`evaluate`.

Subclass :class:`ExpressionContext` and override what your host supplies (a policy evaluation
supplies ``field``/``current``/``parameters``...; a template deployment ``variables``,
``reference``...). Everything not overridden raises :class:`ExpressionEvaluationError`, so a
missing capability is a clear evaluation error, never a silent default.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from .errors import ExpressionEvaluationError
from .registry import FunctionScope

__all__ = ["ExpressionContext"]


class ExpressionContext:
    """Base host: no parameters, no fields; ``utc_now`` is the wall clock unless ``now`` is given."""

    scope: FunctionScope = FunctionScope.POLICY

    def __init__(self, *, scope: FunctionScope | None = None, now: datetime | None = None) -> None:
        if scope is not None:
            self.scope = scope
        self._now = now
        # stack of {name: value} frames for lambda variables (template lambdas)
        self.lambda_frames: list[dict[str, Any]] = []

    def _unavailable(self, what: str) -> ExpressionEvaluationError:
        return ExpressionEvaluationError(f"The template function '{what}' is not available in this context")

    def parameter(self, name: str) -> Any:
        """Value of parameter ``name``; raises when undefined."""
        raise ExpressionEvaluationError(f"The template parameter '{name}' is not found")

    def variable(self, name: str) -> Any:
        raise self._unavailable("variables")

    def field(self, name: str) -> Any:
        raise self._unavailable("field")

    def current(self, name: str | None) -> Any:
        raise self._unavailable("current")

    def request_context(self) -> dict[str, Any]:
        raise self._unavailable("requestContext")

    def resource_group(self) -> dict[str, Any]:
        raise self._unavailable("resourceGroup")

    def subscription(self, subscription_id: str | None = None) -> dict[str, Any]:
        raise self._unavailable("subscription")

    def policy_info(self) -> dict[str, Any]:
        raise self._unavailable("policy")

    def utc_now(self) -> datetime:
        """The evaluation's notion of "now" (timezone-aware UTC)."""
        return self._now or datetime.now(UTC)

    def host_function(self, name: str, args: list[Any]) -> Any:
        """Deployment-bound functions (``reference``, ``deployment``, ``list*``, ``copyIndex``...).

        The template engine overrides this; here every such call is unavailable.
        """
        raise self._unavailable(name)
