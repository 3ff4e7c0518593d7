"""``warden serve``: the HTTPS server (uvicorn) around the API app."""

from __future__ import annotations

import logging

import uvicorn

from warden.api.app import create_app
from warden.kernel.settings import Settings
from warden.kernel.tls import TlsPaths
from warden.platform import Platform

KEEP_ALIVE_SECONDS = 75  # nginx's default


def serve(settings: Settings) -> None:
    """Serve until interrupted. Requires an initialized data dir (``warden init``)."""
    tls = TlsPaths.in_dir(settings.data_dir)
    if not tls.server_cert.exists():
        raise SystemExit(f"{settings.data_dir} is not initialized: run `warden init --data-dir {settings.data_dir}`")
    platform = Platform(settings)
    platform.db.migrate()
    platform.keys.ensure_key()
    platform.start_background()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    receiver = _start_syslog(platform)
    try:
        uvicorn.run(
            create_app(platform),
            host=settings.host,
            port=settings.port,
            ssl_certfile=str(tls.server_cert),
            ssl_keyfile=str(tls.server_key),
            log_level="info",
            # Authorization headers must never reach logs; uvicorn's access log prints paths only.
            access_log=True,
            # uvicorn closes idle connections after 5 s, the same moment httpx's pool reuses them: a request
            # sent as the server closes fails with "Server disconnected". Keep them longer than clients do
            # (httpx 5 s), as Azure's front ends do (minutes), so the client always gives up first.
            timeout_keep_alive=KEEP_ALIVE_SECONDS,
        )
    finally:
        if receiver is not None:
            receiver.stop()
        platform.stop()


def _start_syslog(platform: Platform):  # type: ignore[no-untyped-def]
    """The syslog receiver on ``settings.syslog_port`` (UDP and TCP), when one is configured."""
    port = platform.settings.syslog_port
    if port is None:
        return None
    from warden.monitor.ingestion.syslog_routing import SyslogRouter
    from warden.monitor.ingestion.syslog_server import SyslogReceiver

    receiver = SyslogReceiver(platform.settings.host, port, SyslogRouter(platform).deliver)
    bound = receiver.start()
    logging.getLogger(__name__).info("syslog receiver on %s:%d (UDP and TCP)", platform.settings.host, bound)
    return receiver
