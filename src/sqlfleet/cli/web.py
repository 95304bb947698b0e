"""`sqlfleet web`: serve the web UI and the REST API."""

from __future__ import annotations

import dataclasses
import errno
import os
import socket
from collections.abc import Callable
from typing import TYPE_CHECKING, Annotated

import typer

from sqlfleet import limits, logs
from sqlfleet.cli.agents import (
    ConcurrencyOption,
    GracePeriodOption,
    LeaseOption,
    LogFormatOption,
    NameOption,
    RetentionOption,
    agent_settings,
)
from sqlfleet.cli.app import app, number_option, open_fleet, say
from sqlfleet.errors import InvalidValue
from sqlfleet.logs import LogFormat

if TYPE_CHECKING:
    from sqlfleet.agent import AgentSettings
    from sqlfleet.fleet import Fleet

DEFAULT_PORT = 8080


@app.command()
def web(
    ctx: typer.Context,
    host: Annotated[
        str,
        typer.Option(
            "--host",
            help="Address to listen on; off the loopback (127.0.0.0/8, ::1, localhost), "
            "SQLFLEET_API_TOKEN is required.",
        ),
    ] = "127.0.0.1",
    port: Annotated[int, number_option("--port", limits.PORT)] = DEFAULT_PORT,
    log_format: LogFormatOption = LogFormat.TEXT,
) -> None:
    """Serve the web UI and the REST API (/api/v1, OpenAPI at /openapi.json).

    With SQLFLEET_API_TOKEN set, the API wants `Authorization: Bearer <token>` and the pages
    a login with the token as password. Sign-ins live in this process: restarting it signs
    everyone out.
    """
    import asyncio

    from sqlfleet.api import create_app
    from sqlfleet.service import serve_web

    token = web_token(host)
    with open_fleet(ctx) as fleet:
        fleet.secrets  # noqa: B018 -- a missing or wrong secret key is reported now, not later
        listener = listen(host, port)
        logs.configure(log_format)  # only now: a refused command leaves logging as it was
        try:
            application = create_app(fleet, token=token)
            shown = f"[{host}]" if ":" in host else host
            bound = listener.getsockname()[1]
            say(f"sqlfleet web on http://{shown}:{bound}/ (job database {fleet.store.url})")
            asyncio.run(serve_web(application, listener))
        finally:
            listener.close()


def web_token(host: str) -> str | None:
    """SQLFLEET_API_TOKEN; required (InvalidValue) when serving off the loopback."""
    from sqlfleet.api import TOKEN_ENV, is_loopback

    token = os.environ.get(TOKEN_ENV) or None
    if token is None and not is_loopback(host):
        raise InvalidValue(
            f"serving on {host} needs a token: set {TOKEN_ENV} (the API's bearer token and "
            "the web login's password), or serve on a loopback address such as 127.0.0.1"
        )
    return token


def listen(host: str, port: int) -> socket.socket:
    """A listening socket for the web server, or a one-line error (port in use, bad address)."""
    try:
        family, kind, proto, _, address = socket.getaddrinfo(
            host, port, type=socket.SOCK_STREAM, flags=socket.AI_PASSIVE
        )[0]
    except socket.gaierror as exc:
        raise InvalidValue(f"cannot listen on {host!r}: {exc.strerror}") from None
    except (UnicodeError, ValueError):  # a label too long for IDNA, a NUL character
        raise InvalidValue(f"cannot listen on {host[:60]!r}: not a host name") from None
    listener = socket.socket(family, kind, proto)
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        listener.bind(address)
        listener.listen(2048)
    except OSError as exc:
        listener.close()
        if exc.errno == errno.EADDRINUSE:
            raise InvalidValue(
                f"port {port} on {host} is in use: choose another with --port"
            ) from None
        raise InvalidValue(f"cannot listen on {host}:{port}: {exc.strerror}") from None
    return listener


@app.command()
def up(
    ctx: typer.Context,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, number_option("--port", limits.PORT)] = DEFAULT_PORT,
    concurrency: ConcurrencyOption = 100,
    name: NameOption = None,
    grace_period: GracePeriodOption = 30.0,
    retention_days: RetentionOption = 45.0,
    lease_seconds: LeaseOption = 60.0,
    log_format: LogFormatOption = LogFormat.TEXT,
    web_url: Annotated[
        str | None,
        typer.Option(
            "--web-url",
            metavar="URL",
            help="The address users reach the web UI at, for links in notifications "
            "(default: $SQLFLEET_WEB_URL, else the address it listens on).",
        ),
    ] = None,
) -> None:
    """Run an agent and the web server in one process (the embedded default's way).

    The agent takes the options `sqlfleet agent` takes; the web server those of `web`.
    """
    if name is not None:
        limits.check_name("agent", name)
    settings = agent_settings(concurrency, grace_period, retention_days, lease_seconds, web_url)
    serve_up(ctx, host=host, port=port, settings=settings, name=name, log_format=log_format)


def serve_up(
    ctx: typer.Context,
    *,
    host: str,
    port: int,
    settings: AgentSettings,
    name: str | None = None,
    log_format: LogFormat = LogFormat.TEXT,
    before: Callable[[Fleet], None] | None = None,
) -> None:
    """Open the job database, listen, and run agent + web until stopped."""
    import asyncio

    from sqlfleet.service import serve_with_agent

    token = web_token(host)
    with open_fleet(ctx) as fleet:
        fleet.secrets  # noqa: B018 -- a missing or wrong secret key is reported now, not later
        if before is not None:
            before(fleet)
        listener = listen(host, port)
        try:
            shown = f"[{host}]" if ":" in host else host
            url = f"http://{shown}:{listener.getsockname()[1]}/"
            if settings.web_url is None:
                # Links in notifications: where it listens, by a name others can reach.
                reachable = socket.gethostname() if host in ("0.0.0.0", "::", "") else shown
                own = f"http://{reachable}:{listener.getsockname()[1]}"
                settings = dataclasses.replace(settings, web_url=own)
            say(f"sqlfleet is up: web UI and API on {url} (job database {fleet.store.url})")
            logs.configure(log_format)
            asyncio.run(
                serve_with_agent(fleet, listener, token=token, settings=settings, name=name)
            )
        finally:
            listener.close()
