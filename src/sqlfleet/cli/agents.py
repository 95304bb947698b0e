"""The agent commands: `sqlfleet agent` runs one; `sqlfleet agent list` shows them."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import Annotated

import typer

from sqlfleet import limits
from sqlfleet.cli.app import (
    JsonOption,
    app,
    checked,
    number_option,
    open_fleet,
    print_json,
    print_table,
)
from sqlfleet.documents import iso

agent_app = typer.Typer(
    help="Run an agent: it fires schedules and runs what anyone started. "
    "`sqlfleet agent list` shows the agents.",
    invoke_without_command=True,
)
app.add_typer(agent_app, name="agent")


@agent_app.callback()
def agent(
    ctx: typer.Context,
    concurrency: Annotated[int, number_option("--concurrency", limits.CONCURRENCY)] = 100,
    name: Annotated[
        str | None, typer.Option("--name", help="Agent name (default: host-pid).")
    ] = None,
    grace_period: Annotated[
        float, number_option("--grace-period", limits.GRACE_PERIOD, metavar="S")
    ] = 30.0,
    retention_days: Annotated[
        float, number_option("--retention-days", limits.RETENTION_DAYS, metavar="D")
    ] = 45.0,
    lease_seconds: Annotated[
        float, number_option("--lease-seconds", limits.LEASE_SECONDS, metavar="S")
    ] = 60.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            metavar="P",
            help="Serve Prometheus metrics on 127.0.0.1:P/metrics (0: a free port).",
            callback=checked(limits.PORT, "--metrics-port"),
        ),
    ] = None,
) -> None:
    """Run an agent until SIGTERM or Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlfleet.agent import Agent, AgentSettings

    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    settings = AgentSettings(
        concurrency=concurrency,
        grace_period=grace_period,
        retention_days=retention_days,
        lease=timedelta(seconds=lease_seconds),
        heartbeat_interval=min(5.0, lease_seconds / 3),
    )
    with open_fleet(ctx) as fleet:
        agent = Agent(fleet, name=name, settings=settings)
        stop_metrics = None
        if metrics_port is not None:
            from sqlfleet.metrics import FleetMetrics, serve

            metrics = FleetMetrics(fleet.store)
            agent.dispatcher.observers.append(metrics.observe_attempt)
            metrics.count_in_flight(lambda: agent.dispatcher.running)
            bound, stop_metrics = serve(metrics, metrics_port)
            logging.getLogger("sqlfleet.agent").info(
                "metrics on http://127.0.0.1:%d/metrics", bound
            )
        try:
            asyncio.run(agent.run())
        finally:
            if stop_metrics is not None:
                stop_metrics()


@agent_app.command("list")
def agent_list(ctx: typer.Context, json: JsonOption = False) -> None:
    """List agents with their last heartbeat and current load."""
    with open_fleet(ctx) as fleet:
        agents = fleet.store.list_agents()
    if json:
        print_json(
            [
                {
                    "agent_name": a.name,
                    "hostname": a.hostname,
                    "pid": a.pid,
                    "concurrency": a.concurrency,
                    "running": a.running,
                    "started_at": iso(a.started_at),
                    "heartbeat_at": iso(a.heartbeat_at),
                    "stopping": a.stopping,
                }
                for a in agents
            ]
        )
        return
    print_table(
        ["NAME", "HOST", "PID", "RUNNING", "CONCURRENCY", "LAST HEARTBEAT", "STATE"],
        [
            (
                a.name,
                a.hostname,
                a.pid,
                a.running,
                a.concurrency,
                f"{a.heartbeat_at:%Y-%m-%d %H:%M:%S}",
                "stopping" if a.stopping else "running",
            )
            for a in agents
        ],
        title="agents",
    )
