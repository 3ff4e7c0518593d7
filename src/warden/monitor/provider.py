"""Plugs Log Analytics into the platform: resource types, the log service and its data-plane APIs."""

from __future__ import annotations

from typing import TYPE_CHECKING

import pyarrow as pa

from warden.kernel.providers import ResourceType

from . import data_collection, diagnostic_settings, workspaces
from .ingestion.logs_ingestion import LogsIngestion
from .query_api import QueryApi
from .service import LogService
from .tables_api import TablesHandler

if TYPE_CHECKING:
    from warden.platform import Platform


class MonitorServices:
    """What the API layer needs of Log Analytics: the service, ingestion and the query API."""

    def __init__(self, platform: Platform) -> None:
        self.logs = LogService(platform.settings.data_dir, platform.master_key)
        # pyarrow imports pandas on first use of from_pylist (about a second): pay it at start-up,
        # not in the first ingestion request.
        pa.Table.from_pylist([{"warm": 1}])
        self.ingestion = LogsIngestion(self.logs, max_concurrent=platform.settings.ingestion_max_concurrent)
        self.queries = QueryApi(self.logs)


def register(platform: Platform) -> MonitorServices:
    services = MonitorServices(platform)
    registry = platform.registry
    workspace = workspaces.register(registry, services.logs)
    registry.register(
        ResourceType(
            "Microsoft.OperationalInsights",
            ("workspaces", "tables"),
            TablesHandler(services.logs),
            placements=workspace.placements,
            display_name="Log Analytics table",
            api_versions=workspace.api_versions,
        )
    )
    data_collection.register(registry, services.logs)
    diagnostic_settings.register(registry, services.logs)
    registry.add_operation(
        "Microsoft.OperationalInsights/workspaces/query/read", "Run queries over the data in the workspace"
    )
    registry.add_operation("Microsoft.Insights/logs/read", "Read the logs of a resource (resource-centric queries)")
    return services
