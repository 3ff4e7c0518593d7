"""``Azure-AsyncOperation`` and ``Location`` URLs of long-running operations.

The principal that started an operation may always poll it (its access may have gone with the
deleted scope); anyone else needs read access at the operation's target.
"""

from __future__ import annotations

from warden.kernel import operations
from warden.kernel.context import RequestContext
from warden.kernel.errors import NotFound
from warden.kernel.pipeline import Endpoint
from warden.kernel.reply import Reply

READ = "Microsoft.Resources/subscriptions/operationresults/read"


def endpoint(subscription_id: str, operation_id: str, *, result: bool) -> Endpoint:
    scope = f"/subscriptions/{subscription_id}"

    def find(ctx: RequestContext):  # type: ignore[no-untyped-def]
        assert ctx.conn is not None
        row = operations.get_operation(ctx.conn, operation_id)
        if row is None or row.tenant_id != ctx.tenant_id:
            return None
        return row if (row.subscription_id or "").lower() == subscription_id.lower() else None

    def load(ctx: RequestContext):  # type: ignore[no-untyped-def]
        row = find(ctx)
        if row is None:
            raise NotFound(f"The operation '{operation_id}' was not found.", code="OperationNotFound")
        return row

    def authorize(ctx: RequestContext) -> None:
        row = find(ctx)
        if row is None or row.created_by != ctx.caller.object_id:
            ctx.authorize(READ, row.target_id if row is not None else scope)

    def run(ctx: RequestContext) -> Reply:
        row = load(ctx)
        if not result:
            # Without Retry-After the SDK pollers wait 30 s between polls.
            headers = {"Retry-After": operations.RETRY_AFTER_SECONDS} if row.status == operations.IN_PROGRESS else {}
            return Reply(200, operations.status_document(row), headers)
        query = f"?api-version={ctx.api_version}"
        return operations.result_reply(
            row,
            ctx.link(operations.status_path(subscription_id, operation_id) + query),
            ctx.link(operations.result_path(subscription_id, operation_id) + query),
        )

    return Endpoint(READ, scope, run, subscription_id=subscription_id, authorize=authorize)
