"""`sqlfleet execution results`: the rows targets returned, merged across targets."""

from __future__ import annotations

import enum
import sys
from itertools import chain
from typing import TYPE_CHECKING, Annotated

import typer

from sqlfleet.cli.app import JsonOption, open_fleet, print_table
from sqlfleet.cli.executions import ExecutionId, execution_app
from sqlfleet.model import ResultPage

if TYPE_CHECKING:
    from sqlfleet.fleet import Fleet

# The notes name at most this many of the targets whose rows were cut.
CUT_NAMED = 5


class Format(enum.StrEnum):
    """How `execution results` prints."""

    TABLE = "table"
    CSV = "csv"
    JSON = "json"


@execution_app.command("results")
def execution_results(
    ctx: typer.Context,
    execution_id: ExecutionId,
    step: Annotated[
        str | None, typer.Option("--step", metavar="NAME", help="Only this step's rows.")
    ] = None,
    output_format: Annotated[
        Format, typer.Option("--format", help="table (default), csv or json.")
    ] = Format.TABLE,
    json: JsonOption = False,
) -> None:
    """Print the rows each target's first result set returned, merged across targets.

    The target's server and database (and schema) come first, then the result's columns
    (the union of every target's, in the order first seen). Each step keeps up to its
    --result-rows rows per target (1000 by default); a note says which targets had more.
    """
    from sqlfleet.results import csv_chunks, json_chunks, result_pages, text_value

    if json:
        output_format = Format.JSON
    with open_fleet(ctx) as fleet:
        pages = result_pages(fleet, execution_id, step=step)
        first = next(pages)  # bad input fails here, before anything is printed
        if output_format is Format.TABLE:
            rows = [row for page in (first, *pages) for row in page.aligned(first.columns)]
            print_table(
                first.columns, [[text_value(v) for v in row] for row in rows], title="result rows"
            )
        else:
            chunks = csv_chunks if output_format is Format.CSV else json_chunks
            for chunk in chunks(chain([first], pages)):
                sys.stdout.write(chunk)
            sys.stdout.flush()
        if output_format is not Format.JSON:
            _notes(fleet, first, step)


def _notes(fleet: Fleet, page: ResultPage, step: str | None) -> None:
    """What the rows do not say: that some were cut, or that more may come."""
    if page.cut_targets:
        named = "; ".join(
            f"{c.target} returned {c.returned_rows:,}, kept {c.kept_rows:,}"
            for c in page.cut[:CUT_NAMED]
        )
        more = page.cut_targets - min(len(page.cut), CUT_NAMED)
        named += f"; and {more:,} more" if more > 0 else ""
        typer.echo(
            f"note: {page.cut_targets:,} target(s) returned more rows than their step keeps "
            f"(its --result-rows): {named}",
            err=True,
        )
    if not page.targets:
        which = f"step {step!r} of execution" if step else "execution"
        typer.echo(
            f"note: {which} {page.job_execution_id} kept no result rows: no target has "
            "finished a query yet, or its step keeps none (--result-rows 0)",
            err=True,
        )
    execution = fleet.get_execution(page.job_execution_id)
    if execution.is_active:
        typer.echo(
            f"note: execution {execution.id} is still {execution.lifecycle.value}: "
            "these are the rows of the targets that finished so far",
            err=True,
        )
