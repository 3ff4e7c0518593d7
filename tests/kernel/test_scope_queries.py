"""``below()``: "strictly inside this scope" must not treat ``_`` or ``%`` in names as wildcards."""

from __future__ import annotations

from sqlalchemy import insert, select

from warden.kernel.clock import utcnow
from warden.kernel.schema import below, locks

TENANT = "t1"
SCOPES = [
    "/subscriptions/s/resourcegroups/rg_1",
    "/subscriptions/s/resourcegroups/rg_1/providers/a.b/c/x",
    "/subscriptions/s/resourcegroups/rgx1/providers/a.b/c/y",
    "/subscriptions/s/resourcegroups/rg%1/p/q",
    "/subscriptions/s/resourcegroups/rg_10",
]


def test_below_matches_descendants_only(database) -> None:  # type: ignore[no-untyped-def]
    now = utcnow()
    with database.write() as conn:
        for index, scope in enumerate(SCOPES):
            conn.execute(
                insert(locks).values(
                    tenant_id=TENANT,
                    key=f"k{index}",
                    id=f"k{index}",
                    scope_key=scope,
                    name="l",
                    level="ReadOnly",
                    created_by="x",
                    created_at=now,
                    updated_by="x",
                    updated_at=now,
                )
            )

    def inside(scope: str) -> list[str]:
        with database.read() as conn:
            rows = conn.execute(select(locks.c.scope_key).where(below(locks.c.scope_key, scope)))
            return sorted(r.scope_key for r in rows)

    assert inside("/subscriptions/s/resourcegroups/rg_1") == [SCOPES[1]]
    assert inside("/subscriptions/s/resourcegroups/rg%1") == [SCOPES[3]]
    assert inside("/subscriptions/S/resourceGroups/RG_1/") == [SCOPES[1]]
    assert inside("/") == sorted(SCOPES)
