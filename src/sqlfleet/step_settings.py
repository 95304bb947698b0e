"""Step settings built and checked from the limits table, and a step's script read from a file.

`build_step_settings` is what every door's step changes go through: the CLI's options, the
REST API's bodies and the web form reach it by way of `Fleet.add_step` / `Fleet.update_step`.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from sqlfleet import limits
from sqlfleet.errors import InvalidServerUrl, InvalidValue
from sqlfleet.model import OutputDestination, StepSettings
from sqlfleet.retry import RetryPolicy
from sqlfleet.script import read_batches, validate_command
from sqlfleet.servers import ServerUrl
from sqlfleet.statements import read_script

_RETRY_FIELDS = {f.name for f in dataclasses.fields(RetryPolicy)}
_SETTING_FIELDS = {f.name for f in dataclasses.fields(StepSettings)} - {"retry", "output"}
# An output destination's fields, with the words errors use for them (the CLI's flags).
OUTPUT_FIELDS = {
    "server_url": "--output-server",
    "database": "--output-database",
    "schema": "--output-schema",
    "table": "--output-table",
    "credential": "--output-credential",
}
_CHANGE_KEYS = {"output", "output_changes", "remove_output"}


def setting_value(settings: StepSettings, field: str) -> Any:
    """The value of one setting of `limits.STEP_SETTINGS` (a retry setting lives in `retry`)."""
    return getattr(settings.retry if field in _RETRY_FIELDS else settings, field)


def build_step_settings(base: StepSettings | None, changes: dict[str, Any]) -> StepSettings:
    """Step settings from `base` (or the defaults) with `changes`; None values are ignored.

    `changes` may hold StepSettings fields, RetryPolicy fields, and `output` (an
    `OutputDestination`, or None to keep it; `remove_output=True` drops it), or
    `output_changes` (some of an output destination's fields, keyed as in `OUTPUT_FIELDS`:
    the others keep the values of `base`'s destination). Each value is
    checked against its limits in `sqlfleet.limits.STEP_SETTINGS`, the table every door uses.
    `max_parallelism=0` means no limit, `canary=0` no canary.
    """
    changes = {k: v for k, v in changes.items() if v is not None}
    unknown = set(changes) - _RETRY_FIELDS - _SETTING_FIELDS - _CHANGE_KEYS
    if unknown:
        raise InvalidValue(f"unknown step setting(s): {', '.join(sorted(unknown))}")
    for field, value in changes.items():
        setting = limits.STEP_SETTING.get(field)
        if setting is not None:
            changes[field] = setting.check(value)
    retry_changes = {k: changes.pop(k) for k in list(changes) if k in _RETRY_FIELDS}
    remove_output = changes.pop("remove_output", False)
    if base is None:
        missing = [f for f in ("command", "target_group", "credential") if f not in changes]
        if missing:
            raise InvalidValue(f"a step needs {', '.join(missing)}")
        base = StepSettings(command=changes["command"], target_group="", credential="")
    if "command" in changes:
        changes["command"] = validate_command(changes["command"])
    for zero_is_none in ("max_parallelism", "canary"):
        if zero_is_none in changes:
            changes[zero_is_none] = changes[zero_is_none] or None
    output = changes.pop("output", None)
    output_changes = changes.pop("output_changes", None)
    if output_changes:
        if output is not None or remove_output:
            raise InvalidValue("give a whole output destination or some of its fields, not both")
        output = _merged_output(base.output, output_changes)
    if output is not None:
        changes["output"] = _checked_output(output)
    elif remove_output:
        changes["output"] = None
    retry = dataclasses.replace(base.retry, **retry_changes)
    return dataclasses.replace(base, retry=retry, **changes)


def check_script_for_engines(settings: StepSettings, engines: set[str]) -> None:
    """Refuse a script that the clients of `engines` cannot read, or that switches database.

    Each engine's reading is what its targets will get (`sqlfleet.statements`); a MySQL
    or MariaDB script that switches database needs `allow_database_switch`, since a `USE`
    sends every target's work to the same database.
    """
    batches = read_batches(settings.command)
    for engine in sorted(engines):
        read_script(engine, batches, allow_database_switch=settings.allow_database_switch)


def _merged_output(current: OutputDestination | None, changes: dict[str, Any]) -> OutputDestination:
    """`current` with some of its fields changed; without `current`, every field is needed."""
    unknown = set(changes) - set(OUTPUT_FIELDS)
    if unknown:
        raise InvalidValue(f"unknown output field(s): {', '.join(sorted(unknown))}")
    if current is not None:
        return dataclasses.replace(current, **changes)
    missing = [flag for f, flag in OUTPUT_FIELDS.items() if f != "schema" and f not in changes]
    if missing:
        raise InvalidValue(f"an output destination also needs {', '.join(missing)}")
    return OutputDestination(**changes)


def _checked_output(output: OutputDestination) -> OutputDestination:
    url = server_url("output server URL", output.server_url)
    limits.IDENTIFIER.check(output.database, label="output database")
    if output.schema is not None:
        limits.IDENTIFIER.check(output.schema, label="output schema")
    limits.IDENTIFIER.check(output.table, label="output table")
    limits.check_name("output credential", output.credential)
    return dataclasses.replace(output, server_url=str(url))


def server_url(label: str, text: str) -> ServerUrl:
    """A server URL that is storable as given and whose stored form fits its column.

    The parser speaks first: its messages say what is wrong with the URL, password masked.
    """
    if not isinstance(text, str):
        raise InvalidServerUrl(f"the {label} must be text, not {type(text).__name__}")
    url = ServerUrl.parse(text)
    if url.engine == "mssql":
        # Refused here rather than when a step first runs on it, minutes or days later.
        raise InvalidServerUrl(f"the {label} names SQL Server: its targets are not supported yet")
    try:
        limits.SERVER_URL.check(text, label=label)
        limits.SERVER_URL.check(str(url), label=label)
    except InvalidValue as exc:
        raise InvalidServerUrl(exc.message) from None
    return url


def read_command_file(path: str | Path) -> str:
    """A step's command read from a file, with a clear error when it cannot be read."""
    # A UTF-8 character takes at most 4 bytes: reading more could only make it too long.
    most = 4 * limits.MAX_SCRIPT
    where = limits.shown(str(path))
    try:
        with Path(path).open("rb") as file:
            data = file.read(most + 1)
        if len(data) > most:
            raise InvalidValue(
                f"command file {where} is longer than {limits.MAX_SCRIPT:,} characters"
            )
        return data.decode("utf-8")
    except FileNotFoundError:
        raise InvalidValue(f"command file {where} does not exist") from None
    except IsADirectoryError:
        raise InvalidValue(f"command file {where} is a directory") from None
    except PermissionError:
        raise InvalidValue(f"command file {where} cannot be read: permission denied") from None
    except UnicodeDecodeError:
        raise InvalidValue(f"command file {where} is not UTF-8 text") from None
    except OSError as exc:
        raise InvalidValue(f"command file {where} cannot be read: {exc.strerror}") from None
    except ValueError:  # a NUL character in the path: no file has such a name
        raise InvalidValue(f"command file {where} is not a file name") from None
