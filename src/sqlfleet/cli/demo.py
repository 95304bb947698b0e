"""`sqlfleet demo`: a demo fleet, its job run once, and the web UI to look at it."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from sqlfleet import config, limits
from sqlfleet.cli.app import app, job_db_option, number_option, say
from sqlfleet.cli.web import DEFAULT_PORT, serve_up
from sqlfleet.errors import InvalidValue
from sqlfleet.secrets import KEY_ENV

if TYPE_CHECKING:
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
    reset: Annotated[
        bool, typer.Option("--reset", help="Delete the demo's folder first and start afresh.")
    ] = False,
) -> None:
    """Create a demo fleet (SQLite databases) with a job, run it, and serve the web UI.

    The demo keeps its job database, secret key and fleet in a folder of its own
    (`demo` in sqlfleet's data folder, see SQLFLEET_HOME), never in your job database,
    unless --job-db names one.
    """
    from sqlfleet.agent import AgentSettings
    from sqlfleet.demo import create_demo
    from sqlfleet.fleet import Fleet

    if folder is not None:
        limits.check_storable("--folder", folder)  # before anything is made
    if job_db_option(ctx) is None:
        home = config.demo_dir()
        if reset and home.exists():
            shutil.rmtree(home)
            say(f"demo folder {home} deleted")
        _use_demo_home(ctx, home)
    elif reset:
        raise InvalidValue("--reset starts the demo's own folder afresh: leave out --job-db")
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


def _use_demo_home(ctx: typer.Context, home: Path) -> None:
    """Point this process (and what it starts) at the demo's folder and its own key."""
    home.mkdir(parents=True, exist_ok=True)
    for name in (config.JOB_DB_ENV, config.KEY_FILE_ENV, KEY_ENV):
        os.environ.pop(name, None)
    os.environ[config.HOME_ENV] = str(home)
    root = ctx.find_root()
    root.obj = {**(root.obj or {}), "job_db": config.default_job_db()}
