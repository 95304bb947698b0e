"""A target's attempts on the command line: each with its message, and first errors."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from sqlfleet import documents
from sqlfleet.cli.app import print_table, say
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import Attempt, TargetExecution
from sqlfleet.variables import describe

# The states of an attempt that ended with an error of its own.
FAILURES = (Lifecycle.FAILED, Lifecycle.TIMED_OUT)


def first_error(target: TargetExecution, tried: list[Attempt] | None) -> str | None:
    """The message of the target's first failed attempt, if it differs from its last one."""
    first = next((a.message for a in tried or [] if a.message and a.lifecycle in FAILURES), None)
    return first if first is not None and first != target.last_message else None


def target_document(
    target: TargetExecution, tried: list[Attempt] | None, *, attempts: bool
) -> dict[str, Any]:
    """A target execution's document, with its first message and, if asked, its attempts."""
    document = documents.target_execution(target)
    if tried is not None:
        document["first_message"] = first_error(target, tried) or target.last_message
    if attempts:
        document["attempts"] = [documents.attempt(a) for a in tried or []]
    return document


def print_first_errors(
    target_list: Sequence[TargetExecution], tried: dict[int, list[Attempt]]
) -> None:
    """A table of the targets whose first error is not their last one."""
    rows = []
    for target in target_list:
        first = first_error(target, tried.get(target.id))
        if first is not None:
            rows.append((target.target_database_name, first.replace("\n", " ")[:200]))
    if rows:
        say("")
        print_table(["DATABASE", "FIRST MESSAGE"], rows, title="first errors, where they differ")


def print_attempts(target_list: Sequence[TargetExecution], tried: dict[int, list[Attempt]]) -> None:
    """Each target's attempts, with their whole messages."""
    for target in target_list:
        say("")
        say(f"{target.target_database_name} on {target.target_server_name}:")
        if target.target_variables:
            say(f"  variables: {describe(target.target_variables)}")
        for attempt in tried.get(target.id) or []:
            ended = f"{attempt.end_time:%H:%M:%S}" if attempt.end_time else "-"
            say(f"  attempt {attempt.attempt_number}: {attempt.lifecycle.value} at {ended}")
            for line in (attempt.message or "").splitlines():
                say(f"    {line}")
