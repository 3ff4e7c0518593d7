"""The authenticated principal behind a request, as the token service vouches for it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Caller:
    """The authenticated principal behind a request."""

    tenant_id: str
    object_id: str
    app_id: str
    principal_type: str = "ServicePrincipal"
    claims: dict = field(default_factory=dict, compare=False)
    # Directory groups the caller belongs to, directly or through nesting (filled in by the API
    # layer when it authenticates the request), so a role assigned to a group applies to members.
    group_ids: tuple[str, ...] = field(default=(), compare=False)

    @property
    def principal_ids(self) -> tuple[str, ...]:
        """The caller plus the directory groups it belongs to (transitively)."""
        return (self.object_id, *self.group_ids)
