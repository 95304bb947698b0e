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

import copy
import functools
import gc
import importlib
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


# Every command module (importing one registers its commands on `app`), in the order that
# `sqlfleet --help` lists their commands: not derivable from COMMANDS below.
COMMAND_MODULES = (
    "agents",
    "definitions",
    "demo",
    "executions",
    "jobs_as_code",
    "rerun",
    "results",
    "web",
)
# Each top-level command and the modules that register it or one of its subcommands.
COMMANDS: dict[str, tuple[str, ...]] = {
    "init": ("definitions",),
    "credential": ("definitions",),
    "target-group": ("definitions", "executions"),
    "job": ("definitions",),
    "run": ("executions",),
    "start": ("executions",),
    "stop": ("executions",),
    "purge": ("executions",),
    "execution": ("executions", "rerun", "results"),
    "apply": ("jobs_as_code",),
    "export": ("jobs_as_code",),
    "schema": ("jobs_as_code",),
    "agent": ("agents",),
    "web": ("web",),
    "up": ("web",),
    "demo": ("demo",),
}


@functools.cache
def command(name: str | None = None) -> Any:
    """The Click command tree, built once: the whole of it, or, for a known top-level command,
    a tree that holds only that one. A command then imports and builds only what it runs
    (Typer builds every parameter of every command it is given, from signatures)."""
    modules = COMMANDS.get(name or "", COMMAND_MODULES)
    for module in modules:
        importlib.import_module(f"sqlfleet.cli.{module}")
    if name not in COMMANDS:
        return typer.main.get_command(app)
    lean = copy.copy(app)
    lean.registered_commands = [
        info for info in app.registered_commands if _command_name(info) == name
    ]
    lean.registered_groups = [info for info in app.registered_groups if info.name == name]
    return typer.main.get_command(lean)


def _command_name(info: Any) -> str:
    return info.name or typer.main.get_command_name(info.callback.__name__)


def invoked(args: list[str]) -> str | None:
    """The top-level command the arguments name, past the global options; None when they
    name none (`--help`, `--version`, nothing) or when they are not understood here."""
    position = 0
    while position < len(args):
        arg = args[position]
        if arg == "--job-db":
            position += 2
        elif arg.startswith("--job-db="):
            position += 1
        elif arg.startswith("-"):
            return None
        else:
            return arg
    return None


def main(argv: list[str] | None = None) -> int:
    """Run the command line; print one line and return a non-zero code for expected errors."""
    args = sys.argv[1:] if argv is None else argv
    problem = _not_utf8(args)
    if problem is not None:
        typer.echo(f"error: {problem}", err=True)
        return EXIT_USAGE
    try:
        result = command(invoked(args)).main(args=args, prog_name="sqlfleet", standalone_mode=False)
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
    code = main()
    # The process ends now: spare the interpreter's last collections a walk over every
    # object the imports made (about 0.1 s of a short command's time). Exit handlers,
    # threads' joins and the modules' teardown still run.
    gc.freeze()
    sys.exit(code)
