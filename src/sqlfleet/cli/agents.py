"""The agent commands: `sqlfleet agent` runs one; `sqlfleet agent list` shows them."""

from __future__ import annotations

import asyncio
import logging
from datetime import timedelta
from typing import TYPE_CHECKING, Annotated

import typer

from sqlfleet import config, limits, logs
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
from sqlfleet.logs import LogFormat

if TYPE_CHECKING:
    from sqlfleet.agent import AgentSettings

agent_app = typer.Typer(
    help="Run an agent: it fires schedules and runs what anyone started. "
    "`sqlfleet agent list` shows the agents.",
    invoke_without_command=True,
)
app.add_typer(agent_app, name="agent")


# One option set for `agent` and `up` (which runs an agent too).
ConcurrencyOption = Annotated[int, number_option("--concurrency", limits.CONCURRENCY)]
NameOption = Annotated[str | None, typer.Option("--name", help="Agent name (default: host-pid).")]
GracePeriodOption = Annotated[
    float, number_option("--grace-period", limits.GRACE_PERIOD, metavar="S")
]
RetentionOption = Annotated[
    float, number_option("--retention-days", limits.RETENTION_DAYS, metavar="D")
]
LeaseOption = Annotated[float, number_option("--lease-seconds", limits.LEASE_SECONDS, metavar="S")]
WebUrlOption = Annotated[
    str | None,
    typer.Option(
        "--web-url",
        metavar="URL",
        help="The web UI's address, for links in notifications (default: $SQLFLEET_WEB_URL).",
    ),
]
LogFormatOption = Annotated[
    LogFormat,
    typer.Option("--log-format", help="text, or json: one JSON object per line, for log shippers."),
]


def agent_settings(
    concurrency: int,
    grace_period: float,
    retention_days: float,
    lease_seconds: float,
    web_url: str | None = None,
) -> AgentSettings:
    """The agent's settings from its options."""
    from sqlfleet.agent import AgentSettings

    return AgentSettings(
        concurrency=concurrency,
        grace_period=grace_period,
        retention_days=retention_days,
        lease=timedelta(seconds=lease_seconds),
        heartbeat_interval=min(5.0, lease_seconds / 3),
        web_url=config.web_url(web_url),
    )


@agent_app.callback()
def agent(
    ctx: typer.Context,
    concurrency: ConcurrencyOption = 100,
    name: NameOption = None,
    grace_period: GracePeriodOption = 30.0,
    retention_days: RetentionOption = 45.0,
    lease_seconds: LeaseOption = 60.0,
    metrics_port: Annotated[
        int | None,
        typer.Option(
            "--metrics-port",
            metavar="P",
            help="Serve Prometheus metrics on 127.0.0.1:P/metrics (0: a free port).",
            callback=checked(limits.PORT, "--metrics-port"),
        ),
    ] = None,
    log_format: LogFormatOption = LogFormat.TEXT,
    web_url: WebUrlOption = None,
) -> None:
    """Run an agent until SIGTERM or Ctrl-C."""
    if ctx.invoked_subcommand is not None:
        return
    from sqlfleet.agent import Agent

    settings = agent_settings(concurrency, grace_period, retention_days, lease_seconds, web_url)
    with open_fleet(ctx) as fleet:
        agent = Agent(fleet, name=name, settings=settings)
        logs.configure(log_format)  # only now: a refused command leaves logging as it was
        stop_metrics = None
        if metrics_port is not None:
            from sqlfleet.metrics import FleetMetrics, serve

            metrics = FleetMetrics(fleet.store)
            metrics.watch(agent.dispatcher)
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
