"""The `sqlfleet` command line: a thin layer over `sqlfleet.Fleet`.

Only this package maps errors to exit codes: 0 success, 1 an execution that did not succeed,
2 bad input (usage, definitions, secrets), 3 the job database, 4 a target database.

Start-up stays light: `sqlfleet --help` must not import SQLAlchemy, a driver or the web
framework. So the command modules import, at module level, only Typer and the domain
(`limits`, `model`, `errors`, `schedule`, ...). What a command needs from the job database,
the engine, the drivers or the web application (`sqlfleet.fleet`, `.store`, `.engine.*`,
`.agent`, `.api`, `.service`, `.results`, `.jobs_as_code`) it imports inside its function,
and names in annotations under `TYPE_CHECKING`. `sqlfleet/__init__.py` and
`sqlfleet/engine/__init__.py` import nothing eagerly for the same reason.
`tests/acceptance/test_startup.py` holds this.
"""

from __future__ import annotations

import functools
import sys
from typing import Any

import typer

from sqlfleet.cli.app import app
from sqlfleet.errors import SqlfleetError, StoreError, TargetError

EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_STORE = 3
EXIT_TARGET = 4


def exit_code(error: SqlfleetError) -> int:
    """The exit code for an expected error."""
    if isinstance(error, StoreError):
        return EXIT_STORE
    if isinstance(error, TargetError):
        return EXIT_TARGET
    return EXIT_USAGE


@functools.cache
def command() -> Any:
    """The Click command tree, built once: Typer would rebuild it from signatures each call."""
    # Importing the command modules registers their commands on `app`.
    from sqlfleet.cli import (  # noqa: F401
        agents,
        definitions,
        demo,
        executions,
        jobs_as_code,
        rerun,
        results,
        web,
    )

    return typer.main.get_command(app)


def main(argv: list[str] | None = None) -> int:
    """Run the command line; print one line and return a non-zero code for expected errors."""
    args = sys.argv[1:] if argv is None else argv
    problem = _not_utf8(args)
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        return EXIT_USAGE
    try:
        result = command().main(args=args, prog_name="sqlfleet", standalone_mode=False)
    except SqlfleetError as error:
        typer.echo(f"error: {error.message}", err=True)
        return exit_code(error)
    except typer.TyperException as error:
        # Usage errors: a command group called without a command shows its help; any other
        # is one line. (Typer's usage errors are TyperExceptions; their classes are private.)
        context = getattr(error, "ctx", None)
        if type(error).__name__ == "NoArgsIsHelpError" and context is not None:
            typer.echo(context.get_help(), err=True)
            return EXIT_USAGE
        typer.echo(f"error: {error.format_message()}", err=True)
        return int(getattr(error, "exit_code", EXIT_USAGE))
    except typer.Abort:
        typer.echo("aborted", err=True)
        return 130
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        return 130
    return result if isinstance(result, int) else 0


def _not_utf8(args: list[str]) -> str | None:
    """Why the arguments cannot be used, if one of them is not valid UTF-8; else None.

    Python hands undecodable bytes over as lone surrogates, which no job database stores
    and no driver sends: refuse them here, once, for every command and option.
    """
    for number, arg in enumerate(args, start=1):
        try:
            arg.encode("utf-8")
        except UnicodeEncodeError:
            # Not quoted: a URL with a password, a webhook's token or a secret may be in it,
            # and bytes that are not text cannot be masked reliably. The option says which.
            if arg.startswith("-") and "=" in arg:
                option = arg.split("=", 1)[0]
            elif number >= 2 and args[number - 2].startswith("-"):
                option = args[number - 2]
            else:
                option = None
            what = f"the value of {_printable(option)}" if option else "not shown"
            return f"argument {number} ({what}) is not valid UTF-8 text"
    return None


def _printable(text: str) -> str:
    return text.encode("utf-8", "backslashreplace").decode("utf-8")


def run() -> None:
    """Console-script entry point."""
    sys.exit(main())
