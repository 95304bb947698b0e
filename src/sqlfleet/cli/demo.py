"""`sqlfleet demo`: a demo fleet, its job run once, and the web UI to look at it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sqlfleet import limits
from sqlfleet.cli.app import app, job_db_option, number_option, say
from sqlfleet.cli.web import DEFAULT_PORT, serve_up
from sqlfleet.fleet import Fleet


@app.command()
def demo(
    ctx: typer.Context,
    folder: Annotated[
        str | None,
        typer.Option("--folder", help="Where to make the demo fleet of SQLite databases."),
    ] = None,
    databases: Annotated[int, number_option("--databases", limits.DEMO_DATABASES)] = 12,
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, number_option("--port", limits.PORT)] = DEFAULT_PORT,
    serve: Annotated[
        bool, typer.Option("--serve/--no-serve", help="Start agent and web UI.")
    ] = True,
) -> None:
    """Create a demo fleet (SQLite databases) with a job, run it, and serve the web UI."""
    from sqlfleet.agent import AgentSettings
    from sqlfleet.demo import create_demo

    if folder is not None:
        limits.check_storable("--folder", folder)  # before anything is made
    Fleet.init(job_db_option(ctx))

    def prepare(fleet: Fleet) -> None:
        made = create_demo(fleet, Path(folder) if folder else None, databases)
        say(f"demo fleet: {made.databases} SQLite databases in {made.folder}")
        execution = fleet.create_execution(made.job, trigger="manual")
        say(f"job {made.job!r}: execution {execution.id} started; its results go to {made.results}")

    if serve:
        serve_up(ctx, host=host, port=port, settings=AgentSettings(concurrency=10), before=prepare)
        return
    from sqlfleet.cli.app import open_fleet

    with open_fleet(ctx) as fleet:
        prepare(fleet)
