"""The Typer application, its global options, and output helpers shared by the commands."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Annotated, Any

import typer

from sqlfleet.limits import Number
from sqlfleet.masking import CONTROL_CHARACTER

if TYPE_CHECKING:
    from sqlfleet.fleet import Fleet

app = typer.Typer(
    name="sqlfleet",
    help="Run SQL scripts across fleets of databases, in parallel, with retries and a record "
    "of every attempt.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)


def _show_version(value: bool) -> None:
    if value:
        from sqlfleet import __version__

        typer.echo(f"sqlfleet {__version__}")
        raise typer.Exit()


@app.callback()
def _global(
    ctx: typer.Context,
    version: Annotated[
        bool,
        typer.Option("--version", is_eager=True, callback=_show_version, help="Show the version."),
    ] = False,
    job_db: Annotated[
        str | None,
        typer.Option(
            "--job-db",
            envvar="SQLFLEET_JOB_DB",
            help="Job database URL (sqlite:///path or postgresql://user@host/db). "
            "Default: a SQLite file in the user's data directory.",
            show_envvar=True,
        ),
    ] = None,
) -> None:
    ctx.obj = {"job_db": job_db}


def job_db_option(ctx: typer.Context) -> str | None:
    """The `--job-db` given to the top-level command."""
    root = ctx.find_root()
    return (root.obj or {}).get("job_db")


@contextmanager
def open_fleet(ctx: typer.Context) -> Iterator[Fleet]:
    """The Fleet for this command, closed when it is done."""
    from sqlfleet.fleet import Fleet

    fleet = Fleet.open(job_db_option(ctx))
    try:
        yield fleet
    finally:
        fleet.close()


JsonOption = Annotated[bool, typer.Option("--json", help="Print JSON only.")]


def checked(limit: Number, label: str) -> Callable[[Any], Any]:
    """A Typer callback that checks a number against its limits as soon as it is parsed.

    Python ints have no size, so Click takes `99999999999999999999`, and `nan` as a float;
    the limits refuse them (InvalidValue, exit 2) before any command opens anything.
    """

    def check(value: Any) -> Any:
        return None if value is None else limit.check(value, label=label)

    return check


def number_option(flag: str, limit: Number, *, metavar: str = "N") -> Any:
    """A Typer option for a number whose help and checks come from `sqlfleet.limits`."""
    return typer.Option(flag, metavar=metavar, help=limit.help_text, callback=checked(limit, flag))


def print_json(document: Any) -> None:
    """Print a JSON document on stdout."""
    typer.echo(json.dumps(document, indent=2, default=str))


def cell(value: Any) -> str:
    """A value for a table cell: on one line, its control characters escaped (a database
    named `x\nGO` must not pass for two rows)."""
    if value is None:
        return ""
    return CONTROL_CHARACTER.sub(lambda m: repr(m.group())[1:-1], str(value))


def print_table(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None
) -> None:
    """Print a tidy table (or a short note when there is nothing)."""
    import sys

    from rich.console import Console
    from rich.table import Table

    # Off a terminal (pipes, logs) nothing is cut to fit an imaginary 80 columns.
    console = Console(soft_wrap=False, width=None if sys.stdout.isatty() else 400)
    if not rows:
        console.print(f"(no {title or 'rows'})", highlight=False)
        return
    table = Table(*columns, title=None, box=None, header_style="bold", pad_edge=False)
    for row in rows:
        table.add_row(*(cell(v) for v in row))
    with console.capture() as captured:
        console.print(table, highlight=False)
    typer.echo("\n".join(line.rstrip() for line in captured.get().splitlines()))


def print_columns(
    columns: Sequence[str], rows: Sequence[Sequence[Any]], *, title: str | None = None
) -> None:
    """Print rows aligned in plain columns: fast for tens of thousands of rows."""
    if not rows:
        typer.echo(f"(no {title or 'rows'})")
        return
    cells = [list(columns), *([cell(v) for v in row] for row in rows)]
    widths = [max(len(row[i]) for row in cells) for i in range(len(columns))]
    lines = (
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in cells
    )
    typer.echo("\n".join(lines))


def print_fields(fields: Sequence[tuple[str, Any]]) -> None:
    """Print `name: value` lines, aligned."""
    width = max(len(name) for name, _ in fields)
    for name, value in fields:
        typer.echo(f"{name + ':':<{width + 1}} {'' if value is None else value}")


def say(text: str) -> None:
    """Print a line for people (on stdout)."""
    typer.echo(text)
