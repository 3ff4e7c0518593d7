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

    @property
    def principal_ids(self) -> tuple[str, ...]:
        """The caller plus the groups it belongs to (groups arrive with the identity issue)."""
        return (self.object_id,)
