"""A step's SQL script: splitting it into batches on `GO` lines, and substituting variables.

Scripts written for SQL Server separate batches with a line holding only `GO` (or `GO n`,
which runs the batch n times); how a batch is then cut into statements is each engine's
client's business (`sqlfleet.statements`). The script is split first, then variables are substituted
in each batch, so a value can never add or remove a `GO`.

A variable is written in one of three forms, safe by default:

- `$(name)` inserts the value as it is, but only when it is a plain name (see
  `is_plain_name`); any other value fails the target before anything is sent to it. A plain
  name is harmless inside quotes the script writes itself (`'$(name)'`, `"$(name)"`) and as
  part of a name (`log_$(name)`); standing alone outside quotes, `--` or `$$` in it could
  still start a comment or a PostgreSQL dollar quote, which is what `:identifier` is for.
- `$(name:literal)` inserts the value as a string literal, quoted as the target's engine wants.
- `$(name:identifier)` inserts it as a quoted identifier, quoted as the engine wants.

This module knows no engine: the quoting comes from a `Quoting`, which each target driver is.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from sqlfleet.errors import InvalidCommand, InvalidValue, UnsafeVariable

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
MODIFIERS: tuple[str, ...] = ("literal", "identifier")
_KINDS = {"literal": "a string literal", "identifier": "an identifier"}

# The punctuation a plain name may hold besides letters and digits: what database, schema and
# job names commonly use, and inert inside any engine's quotes.
_NAME_PUNCTUATION = frozenset("_-.$")
# Longer values are cut in messages: a message names the value, it need not hold all of it.
_SHOWN_CHARACTERS = 60

# Only \r\n, \r and \n end a line: str.splitlines would also split on form feeds and other
# separators that may sit inside SQL text, and turn "x\fGO" into a separator line.
_LINE = re.compile(r"[^\r\n]*(?:\r\n|\r|\n)|[^\r\n]+\Z")
_SEPARATOR = re.compile(r"GO(?:[ \t]+(\d+))?\s*;?", re.IGNORECASE)
# `GO n` repeats its batch n times (sqlcmd's count); bounded so that a typo cannot keep a
# target busy for ever.
MAX_REPEAT = 100_000
_VARIABLE = re.compile(r"\$\(([^()]*)\)")


class Quoting(Protocol):
    """How one engine writes a value as a string literal and as a quoted identifier.

    Both are given NUL-free text only (substitution refuses a NUL first), return text that
    the engine reads back as exactly that value whatever the session's settings, and raise
    `InvalidValue` for a value they cannot write (an empty identifier, say).
    """

    def quote_literal(self, value: str) -> str:
        """`value` as a string literal."""
        ...

    def quote_identifier(self, value: str) -> str:
        """`value` as a quoted identifier."""
        ...


def is_plain_name(value: str) -> bool:
    """Whether `value` may be inserted unquoted: a non-empty run of letters, digits, `_-.$`.

    Letters and digits are Unicode ones, so `tenant_é_日本` is a plain name: letters are the
    categories Lu, Ll, Lt and Lo, digits the category Nd. Modifier letters (Lm) are left out
    because some look like quotes (U+02BC, the modifier letter apostrophe) and a conversion
    to a narrower character set may turn them into one; combining marks, spaces of every
    kind, other punctuation, symbols, control and format characters are not plain either.
    """
    return bool(value) and all(
        character in _NAME_PUNCTUATION
        or character.isdecimal()
        or (character.isalpha() and not _is_modifier_letter(character))
        for character in value
    )


def _is_modifier_letter(character: str) -> bool:
    return unicodedata.category(character) == "Lm"


@dataclass(frozen=True, slots=True)
class Batch:
    """One batch of a script: its text, its number, the script line it starts on, its repeats."""

    number: int
    line: int
    text: str
    repeat: int = 1


def _separator_count(line: str, number: int) -> int | None:
    """The repeat count if `line` is a `GO` line (1 for a bare `GO`), else None."""
    match = _SEPARATOR.fullmatch(line.strip())
    if match is None:
        return None
    if match.group(1) is None:
        return 1
    count = int(match.group(1))
    if not 1 <= count <= MAX_REPEAT:
        raise InvalidCommand(
            f"line {number}: GO {match.group(1)} repeats its batch {count:,} times: "
            f"the count must be 1 to {MAX_REPEAT:,}"
        )
    return count


def _trimmed(lines: list[str], first_line: int) -> tuple[str, int]:
    """The lines joined, without blank lines at either end, and the line they now start on."""
    start, end = 0, len(lines)
    while start < end and not lines[start].strip():
        start += 1
    while end > start and not lines[end - 1].strip():
        end -= 1
    return "".join(lines[start:end]).rstrip("\r\n"), first_line + start


def read_batches(script: str) -> list[Batch]:
    """The script's batches, numbered from 1, each with the line it starts on in the script.

    A separator line holds `GO` (any case), optionally followed by a repeat count (`GO 5`
    runs the batch before it five times, as sqlcmd does) and `;`, with any whitespace around
    it. `GO` anywhere else (inside a line, or as part of a word) is ordinary text. Each batch
    keeps its text as written except for blank lines at its start and end; batches holding
    only whitespace are dropped. A byte-order mark at the very start is dropped too.

    Known limitation: the SQL is not parsed, so a line holding only `GO` inside a multi-line
    string literal or block comment still splits the script there (sqlcmd and SSMS do the
    same).
    """
    batches: list[Batch] = []
    current: list[str] = []
    first_line = 1

    def close(repeat: int) -> None:
        text, line = _trimmed(current, first_line)
        if text.strip():
            batches.append(Batch(len(batches) + 1, line, text, repeat))

    lines = _LINE.findall(script.removeprefix("\ufeff"))
    for number, line in enumerate(lines, start=1):
        repeat = _separator_count(line, number)
        if repeat is None:
            current.append(line)
            continue
        close(repeat)
        current = []
        first_line = number + 1
    close(1)
    return batches


def split_batches(script: str) -> list[str]:
    """The texts of the script's batches (see `read_batches`), each once whatever its count."""
    return [batch.text for batch in read_batches(script)]


def refers(text: str) -> bool:
    """Whether `text` holds anything `substitute` could replace (a `$(...)`)."""
    return _VARIABLE.search(text) is not None


def substitute(text: str, variables: Mapping[str, object], quoting: Quoting) -> str:
    """`text` with each reference to a name in `variables` replaced by its value, str()-ed.

    A value of None (a target's variable whose shard-map column held NULL) cannot be used:
    any reference to it raises `UnsafeVariable`.

    `$(name)` inserts a plain name as it is, `$(name:literal)` and `$(name:identifier)` insert
    the value quoted by `quoting`. References to other names are left as they are.
    Substitution is done in one pass: a value that itself contains `$(name)` is inserted as
    it is, not substituted again.

    Raises `UnsafeVariable` for a value that is not a plain name in the bare form, or that
    cannot be quoted (NUL characters, or what the engine refuses), and `InvalidCommand` for
    an unknown modifier of a known name; the message names the variable and shows the value.
    """

    def replace(match: re.Match[str]) -> str:
        reference = match.group(1)
        if reference in variables:
            return _plain(reference, _value(reference, variables[reference]))
        name, colon, modifier = reference.partition(":")
        if not colon or name not in variables:
            return match.group(0)
        if modifier not in MODIFIERS:
            raise InvalidCommand(_unknown_modifier(name, modifier))
        value = _value(reference, variables[name])
        quote = quoting.quote_literal if modifier == "literal" else quoting.quote_identifier
        return _quoted(name, modifier, value, quote)

    return _VARIABLE.sub(replace, text)


def _value(reference: str, value: object) -> str:
    # A target's variable from a shard map's NULL: no text stands for it, so nothing is sent.
    if value is None:
        raise UnsafeVariable(
            f"$({reference}) has no value on this target (NULL in its shard map), so nothing "
            "was sent"
        )
    return str(value)


def _plain(name: str, value: str) -> str:
    if not is_plain_name(value):
        raise UnsafeVariable(
            f"$({name}) is {_shown(value)}, which is not a plain name (letters, digits, "
            f"_ - . $), so nothing was sent: use $({name}:literal) for a string or "
            f"$({name}:identifier) for a name"
        )
    return value


def _quoted(name: str, modifier: str, value: str, quote: Callable[[str], str]) -> str:
    reference = f"$({name}:{modifier})"
    # Checked here, not left to each engine: no engine can carry a NUL in SQL text, and
    # text that is not valid Unicode (a lone surrogate) cannot be sent at all.
    if "\x00" in value:
        raise UnsafeVariable(
            f"{reference} is {_shown(value)}, which holds a NUL character that no engine "
            "can quote, so nothing was sent"
        )
    if not _encodes(value):
        raise UnsafeVariable(
            f"{reference} is {_shown(value)}, which is not valid Unicode text (a lone "
            "surrogate), so nothing was sent"
        )
    try:
        return quote(value)
    except InvalidValue as exc:
        raise UnsafeVariable(
            f"{reference} is {_shown(value)}, which cannot be quoted as {_KINDS[modifier]}, "
            f"so nothing was sent: {exc.message}"
        ) from None


def _encodes(value: str) -> bool:
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        return False
    return True


def _shown(value: str) -> str:
    """`value` for a message: its repr (so control characters show), cut when long."""
    if len(value) <= _SHOWN_CHARACTERS:
        return repr(value)
    return f"{value[:_SHOWN_CHARACTERS]!r}… ({len(value)} characters)"


def _unknown_modifier(name: str, modifier: str) -> str:
    return (
        f"$({name}:{modifier}) has an unknown modifier {modifier!r}: write $({name}) for a "
        f"plain name, $({name}:literal) for a string or $({name}:identifier) for a name"
    )


def render(script: str, variables: Mapping[str, object], quoting: Quoting) -> list[str]:
    """The batches to send to a target: `script` split, then variables substituted in each."""
    return [substitute(batch, variables, quoting) for batch in split_batches(script)]


def check_references(text: str, names: tuple[str, ...] = VARIABLES) -> None:
    """Raise `InvalidCommand` if `text` uses a modifier other than `MODIFIERS` on a name."""
    for match in _VARIABLE.finditer(text):
        name, colon, modifier = match.group(1).partition(":")
        if colon and name in names and modifier not in MODIFIERS:
            raise InvalidCommand(_unknown_modifier(name, modifier))


def validate_command(text: str) -> str:
    """`text` if it holds a batch of SQL and only known modifiers; else InvalidCommand."""
    if not text.removeprefix("\ufeff").strip():
        raise InvalidCommand("the step's command is empty")
    if not read_batches(text):
        raise InvalidCommand("the step's command holds only GO separators and no SQL")
    check_references(text)
    return text
