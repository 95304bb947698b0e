"""`sqlfleet web`: serve the web UI and the REST API."""

from __future__ import annotations

import os
import socket
from typing import Annotated

import typer

from sqlfleet.cli.app import app, job_db_option, say
from sqlfleet.errors import InvalidValue

DEFAULT_PORT = 8080


@app.command()
def web(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            "--host", help="Address to listen on; off 127.0.0.1 SQLFLEET_API_TOKEN is required."
        ),
    ] = "127.0.0.1",
    port: Annotated[
        int, typer.Option("--port", min=0, max=65535, help="Port (0: any free port).")
    ] = DEFAULT_PORT,
) -> None:
    """Serve the web UI and the REST API (/api/v1, OpenAPI at /openapi.json)."""
    import uvicorn

    from sqlfleet.api import TOKEN_ENV, create_app, is_loopback
    from sqlfleet.fleet import Fleet

    token = os.environ.get(TOKEN_ENV) or None
    if token is None and not is_loopback(host):
        raise InvalidValue(
            f"serving on {host} needs a token: set {TOKEN_ENV} (the API's bearer token and "
            "the web login's password), or serve on 127.0.0.1"
        )
    listener = _listen(host, port)
    fleet = Fleet.open(job_db_option(ctx))
    try:
        fleet.secrets  # noqa: B018 -- a missing or wrong secret key is reported now, not later
        application = create_app(fleet, token=token)
        bound_port = listener.getsockname()[1]
        shown = f"[{host}]" if ":" in host else host
        say(f"sqlfleet web on http://{shown}:{bound_port}/ (job database {fleet.store.url})")
        server = uvicorn.Server(
            uvicorn.Config(application, log_level="info", proxy_headers=False, lifespan="on")
        )
        server.run(sockets=[listener])
    finally:
        listener.close()
        fleet.close()


def _listen(host: str, port: int) -> socket.socket:
    """A listening socket, or a one-line error (port in use, unknown address)."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE)
    except socket.gaierror as exc:
        raise InvalidValue(f"cannot listen on {host!r}: {exc.strerror}") from None
    family, kind, proto, _, address = infos[0]
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        if exc.errno in (98, 48):  # EADDRINUSE on Linux, macOS
            raise InvalidValue(
                f"port {port} on {host} is in use: choose another with --port"
            ) from None
        raise InvalidValue(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return listener
