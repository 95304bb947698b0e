"""A step's SQL script: splitting it into batches on `GO` lines, and substituting variables.

Scripts written for SQL Server separate batches with a line holding only `GO`; each batch is
sent to the target as one command. Variables such as `$(target_database_name)` are replaced
with their values before the script is split and sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from sqlfleet.errors import InvalidCommand

VARIABLES: tuple[str, ...] = (
    "job_name",
    "job_id",
    "job_version",
    "job_execution_id",
    "step_id",
    "step_name",
    "target_group_name",
    "target_server_name",
    "target_database_name",
)

# Only \r\n, \r and \n end a line: str.splitlines would also split on form feeds and other
# separators that may sit inside SQL text, and turn "x\fGO" into a separator line.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_SEPARATOR = re.compile(r"GO\s*;?", re.IGNORECASE)
_VARIABLE = re.compile(r"\$\(([^()]*)\)")


def _is_separator(line: str) -> bool:
    return _SEPARATOR.fullmatch(line.strip()) is not None


def _trim_blank_lines(lines: list[str]) -> str:
    """The lines joined, without blank lines at either end or the last line's line break."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[start:end]).rstrip("\r\n")


def split_batches(script: str) -> list[str]:
    """The script's batches: the text between lines that hold only `GO`.

    A separator line holds `GO` (any case), optionally followed by `;`, with any whitespace
    around it. `GO` anywhere else (inside a line, or as part of a word) is ordinary text, and
    `GO 5` (SQL Server's repeat count) is not a separator. Each batch keeps its text as written
    except for blank lines at its start and end; batches holding only whitespace are dropped.
    A byte-order mark at the very start is dropped too.

    Known limitation: the SQL is not parsed, so a line holding only `GO` inside a multi-line
    string literal or block comment still splits the script there (sqlcmd and SSMS do the
    same).
    """
    batches: list[str] = []
    current: list[str] = []
    for line in _LINE.findall(script.removeprefix("\ufeff")):
        if _is_separator(line):
            batches.append(_trim_blank_lines(current))
            current = []
        else:
            current.append(line)
    batches.append(_trim_blank_lines(current))
    return [batch for batch in batches if batch.strip()]


def substitute(text: str, variables: Mapping[str, object]) -> str:
    """`text` with each `$(name)` whose name is in `variables` replaced by str(value).

    References to other names are left as they are. Substitution is done in one pass: a value
    that itself contains `$(name)` is inserted as it is, not substituted again.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        return str(variables[name]) if name in variables else match.group(0)

    return _VARIABLE.sub(replace, text)


def render(script: str, variables: Mapping[str, object]) -> list[str]:
    """The batches to send to a target: `script` with variables substituted, then split."""
    return split_batches(substitute(script, variables))


def validate_command(text: str) -> str:
    """`text` if it holds at least one batch of SQL; InvalidCommand if it holds none."""
    if not text.removeprefix("\ufeff").strip():
        raise InvalidCommand("the step's command is empty")
    if not split_batches(text):
        raise InvalidCommand("the step's command holds only GO separators and no SQL")
    return text
