"""Jobs as code: `apply` YAML definitions, `export` them, and the file's JSON `schema`."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from sqlfleet.cli.app import JsonOption, app, open_fleet, print_json, say


@app.command()
def apply(
    ctx: typer.Context,
    path: Annotated[Path, typer.Argument(help="A YAML file, or a folder of them.")],
    dry_run: Annotated[
        bool, typer.Option("--dry-run", help="Show the plan; change nothing.")
    ] = False,
    prune: Annotated[
        bool, typer.Option("--prune", help="Also remove what the files no longer hold.")
    ] = False,
    json: JsonOption = False,
) -> None:
    """Make the job database hold what the YAML files describe, in one transaction.

    Prints the plan (+ create, ~ change, = unchanged, - remove). Applying the same files
    again changes nothing and makes no new job version.
    """
    from sqlfleet import jobs_as_code

    definitions = jobs_as_code.read(path)
    with open_fleet(ctx) as fleet:
        plan = jobs_as_code.make_plan(fleet, definitions, prune=prune)
        if not dry_run and plan.has_changes:
            jobs_as_code.apply(fleet, plan)
    if json:
        print_json(
            {
                "applied": not dry_run and plan.has_changes,
                "changes": [
                    {"action": c.action, "kind": c.kind, "name": c.name, "details": c.details}
                    for c in plan.changes
                ],
            }
        )
        return
    for change in plan.changes:
        say(str(change))
    if not plan.has_changes:
        say("nothing to change")
    elif dry_run:
        say("dry run: nothing was changed")
    else:
        say("applied")


@app.command()
def export(
    ctx: typer.Context,
    job: Annotated[
        list[str] | None,
        typer.Option("--job", help="Only this job (and what it uses); repeat for more."),
    ] = None,
    output: Annotated[
        Path | None, typer.Option("--output", "-o", help="Write to this file, not stdout.")
    ] = None,
) -> None:
    """Write the definitions as YAML that `apply` reads back (secrets by reference only)."""
    from sqlfleet import jobs_as_code

    with open_fleet(ctx) as fleet:
        text = jobs_as_code.export(fleet, job or None)
    if output is None:
        typer.echo(text, nl=False)
        return
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        from sqlfleet.errors import InvalidValue

        raise InvalidValue(f"cannot write {output}: {exc.strerror}") from None
    say(f"wrote {output}")


@app.command()
def schema() -> None:
    """Print the JSON Schema of the YAML files `apply` reads (for editors)."""
    from sqlfleet import jobs_as_code

    typer.echo(json.dumps(jobs_as_code.json_schema(), indent=2))
