"""`run`/`start` with --dry-run or --preflight: what a job would do, before it does it."""

from __future__ import annotations

import asyncio
from typing import Annotated

import typer

from sqlfleet import documents
from sqlfleet.cli.app import print_json, say
from sqlfleet.engine.preview import failures_by_error
from sqlfleet.fleet import Fleet
from sqlfleet.model import StepPreview
from sqlfleet.variables import describe

EXIT_FAILED = 1

DryRunOption = Annotated[
    bool,
    typer.Option(
        "--dry-run",
        help="Show each step's targets as resolved now and the batches each would get, "
        "variables substituted; run nothing and record no execution.",
    ),
]
PreflightOption = Annotated[
    bool,
    typer.Option(
        "--preflight",
        help="Log in to every target with its step's credential and run nothing; "
        "exit 0 only if every target can be reached and logged in to.",
    ),
]

TrialOption = Annotated[
    bool,
    typer.Option(
        "--trial",
        help="Run each target's batches in a transaction that is rolled back (PostgreSQL, "
        "SQLite; refused on MySQL/MariaDB); the execution is recorded as a trial.",
    ),
]


def show_preview(fleet: Fleet, job: str, *, dry_run: bool, preflight: bool, json: bool) -> None:
    """Print the dry run and/or preflight of `job`; exit 1 if a target would fail."""
    steps = asyncio.run(fleet.preview(job, preflight=preflight))
    if json:
        print_json([documents.step_preview(s) for s in steps])
    else:
        for step in steps:
            _print_step(step, batches=dry_run)
        if preflight:
            _print_failures(steps)
        targets = sum(len(s.targets) for s in steps)
        done = "logged in to, nothing run" if preflight else "nothing run"
        say(f"{targets} target(s) in {len(steps)} step(s); {done}, no execution recorded")
    if not all(s.ok for s in steps):
        raise typer.Exit(EXIT_FAILED)


def _print_step(step: StepPreview, *, batches: bool) -> None:
    settings = step.step.settings
    say(f"step {step.step.step_id}: {step.step.name} on {settings.target_group!r}")
    if step.error is not None:
        say(f"  {step.error}")
        return
    for preview in step.targets:
        target = preview.target
        schema = f" schema {target.schema}" if target.schema is not None else ""
        say(f"  {target.server_url} database {target.database}{schema}")
        if target.variables:
            say(f"    variables: {describe(target.variables)}")
        if preview.error is not None:
            say(f"    would fail: {preview.error}")
            continue
        if not batches:
            continue
        for number, batch in enumerate(preview.batches, start=1):
            say(f"    -- batch {number}")
            for line in batch.splitlines():
                say(f"    {line}")


def _print_failures(steps: list[StepPreview]) -> None:
    grouped = failures_by_error(steps)
    if not grouped:
        say("preflight: every target can be logged in to")
        return
    say("preflight: these targets cannot be reached or logged in to")
    for error, targets in grouped.items():
        say(f"  {len(targets)} target(s): {error}")
        for target in targets:
            say(f"    {target}")
