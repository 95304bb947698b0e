"""`sqlfleet up`: an agent and the web server in one process, on one event loop.

The web server only creates executions; the agent beside it runs them (and fires
schedules). SIGTERM or Ctrl-C stops both: the server closes, and the agent shuts down
gracefully as it does on its own.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import socket
from collections.abc import Callable, Iterator

import uvicorn
from starlette.types import ASGIApp

from sqlfleet.agent import Agent, AgentSettings
from sqlfleet.api import create_app
from sqlfleet.api.access_log import quiet_polling
from sqlfleet.api.launcher import AgentLauncher
from sqlfleet.fleet import Fleet
from sqlfleet.metrics import FleetMetrics

log = logging.getLogger("sqlfleet.up")


class _Server(uvicorn.Server):
    """uvicorn without its own signal handling: `up` stops the server and the agent together."""

    @contextlib.contextmanager
    def capture_signals(self) -> Iterator[None]:
        yield

    def install_signal_handlers(self) -> None:
        """Signals are handled by `serve_with_agent`."""


async def serve_web(application: ASGIApp, listener: socket.socket) -> None:
    """Serve the web UI and the API until SIGTERM/SIGINT, then close gracefully and return
    (uvicorn on its own would re-raise the signal, and the process would die of it)."""
    server = _Server(uvicorn.Config(application, log_config=None, proxy_headers=False))
    quiet_polling()

    def stop() -> None:
        server.should_exit = True

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        await server.serve(sockets=[listener])
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def serve_with_agent(
    fleet: Fleet,
    listener: socket.socket,
    *,
    token: str | None,
    settings: AgentSettings,
    name: str | None = None,
    on_ready: Callable[[Agent], None] | None = None,
) -> None:
    """Run the agent and the web server until SIGTERM/SIGINT."""
    agent = Agent(fleet, name=name, settings=settings)
    metrics = FleetMetrics(fleet.store)
    metrics.watch(agent.dispatcher)
    application = create_app(fleet, token=token, launcher=AgentLauncher(), metrics=metrics)
    server = _Server(uvicorn.Config(application, log_config=None, proxy_headers=False))
    quiet_polling()

    def stop() -> None:
        server.should_exit = True
        agent.request_stop()

    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop)
    try:
        async with asyncio.TaskGroup() as group:
            agent_task = group.create_task(agent.run(install_signal_handlers=False), name="agent")
            group.create_task(server.serve(sockets=[listener]), name="web")
            if on_ready is not None:
                on_ready(agent)
            # Either one ending (the agent refused to start, say) ends the other.
            await asyncio.wait([agent_task], return_when=asyncio.FIRST_COMPLETED)
            server.should_exit = True
    finally:
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)
