"""A batch read the way each engine's own client reads it: the statements to send, in order.

- MySQL and MariaDB, as the `mysql` client: statements end at the delimiter, `;` until a
  `DELIMITER` line changes it (so that `BEGIN ... END` bodies of triggers and routines can
  hold `;`); quotes, backticks, `#`, `-- ` and `/* */` comments hide the delimiter;
  versioned comments (`/*! ... */`) are kept, as the client sends them; other comments
  before a statement are dropped, as the client drops them.
- PostgreSQL, as `psql`: statements end at `;` outside quotes, dollar quotes and comments;
  `COPY ... FROM stdin` takes the lines after it, up to a line holding only `\\.`, as its
  data. Other psql meta-commands are refused, except pg_dump's `\\restrict` and
  `\\unrestrict`, which only forbid meta-commands in between (sqlfleet runs none).
- SQLite, as the `sqlite3` shell: statements end at `;`, except inside a `CREATE TRIGGER`
  body, which ends at `END;`.

Every statement knows the script line and column it starts on, so that an error can say
where it happened. A script that cannot be read (an unterminated quote, comment or COPY
block, a `DELIMITER` never set back to `;`, a psql meta-command) raises `InvalidCommand`
whose message starts with its line number; nothing is sent then.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from dataclasses import dataclass

from sqlfleet.errors import InvalidCommand
from sqlfleet.limits import shown
from sqlfleet.script import Batch

__all__ = [
    "Location",
    "Statement",
    "first_switch",
    "locate",
    "location_of",
    "read_mysql",
    "read_postgres",
    "read_script",
    "read_sqlite",
    "read_statements",
    "switches_database",
]

# Lines of a statement shown with an error.
SHOWN_LINES = 3
_SHOWN_WIDTH = 200


@dataclass(frozen=True, slots=True)
class Statement:
    """One statement to send: its text, where it starts in the script, and any COPY data.

    `alone` statements (MySQL: read under a custom delimiter) are sent on their own, never
    grouped with others.
    """

    text: str
    line: int
    column: int = 1
    copy_data: str | None = None
    alone: bool = False

    def excerpt(self) -> str:
        """The statement's first lines, for an error message."""
        lines = self.text.splitlines()
        shown = [line[:_SHOWN_WIDTH] for line in lines[:SHOWN_LINES]]
        if len(lines) > SHOWN_LINES:
            shown.append("…")
        return "\n".join(shown)


def locate(statement: Statement, position: int | None) -> tuple[int, int | None]:
    """The script line and column of a 1-based character `position` in the statement.

    Without a position, the statement's own line and no column.
    """
    if position is None or position < 1:
        return statement.line, None
    before = statement.text[: position - 1]
    newlines = before.count("\n")
    if newlines == 0:
        return statement.line, statement.column + len(before)
    return statement.line + newlines, len(before) - before.rfind("\n")


class _Reader:
    """Walks a batch's text keeping track of lines and columns."""

    def __init__(self, text: str, first_line: int) -> None:
        self.text = text
        self.first_line = first_line
        # Offsets where each line starts: line and column of any offset by bisection.
        self.starts = [0] + [m.end() for m in re.finditer(r"\r\n|\r|\n", text)]

    def where(self, offset: int) -> tuple[int, int]:
        low, high = 0, len(self.starts) - 1
        while low < high:
            middle = (low + high + 1) // 2
            if self.starts[middle] <= offset:
                low = middle
            else:
                high = middle - 1
        return self.first_line + low, offset - self.starts[low] + 1

    def line_of(self, offset: int) -> int:
        return self.where(offset)[0]

    def fail(self, offset: int, reason: str) -> InvalidCommand:
        return InvalidCommand(f"line {self.line_of(offset)}: {reason}")

    def end_of_line(self, offset: int) -> int:
        """The offset of the line break ending the line at `offset` (or the text's end)."""
        match = re.compile(r"\r\n|\r|\n").search(self.text, offset)
        return len(self.text) if match is None else match.start()

    def next_line(self, offset: int) -> int:
        """The offset where the line after the one at `offset` starts (or the text's end)."""
        match = re.compile(r"\r\n|\r|\n").search(self.text, offset)
        return len(self.text) if match is None else match.end()

    def statement(self, start: int, end: int, *, alone: bool = False) -> Statement:
        line, column = self.where(start)
        return Statement(self.text[start:end].rstrip(), line, column, alone=alone)

    def quoted(self, offset: int, quote: str, *, backslash: bool, what: str) -> int:
        """The offset after the quote opened at `offset` closes (doubled quotes stay inside)."""
        text, i = self.text, offset + 1
        while True:
            j = text.find(quote, i)
            if backslash:
                k = text.find("\\", i)
                if k != -1 and (j == -1 or k < j):
                    i = k + 2
                    continue
            if j == -1:
                raise self.fail(offset, f"the {what} opened here is never closed")
            if text.startswith(quote, j + 1):
                i = j + 2
                continue
            return j + 1

    def block_comment(self, offset: int, *, nested: bool) -> int:
        """The offset after the `/* ... */` comment opened at `offset`."""
        text, i, depth = self.text, offset + 2, 1
        while depth:
            end = text.find("*/", i)
            if end == -1:
                raise self.fail(offset, "the /* comment opened here is never closed")
            opened = text.find("/*", i) if nested else -1
            if opened != -1 and opened < end:
                depth, i = depth + 1, opened + 2
            else:
                depth, i = depth - 1, end + 2
        return i


# -- MySQL and MariaDB --------------------------------------------------------------------

_DELIMITER_LINE = re.compile(r"[ \t]*delimiter\b(?:[ \t]+(\S*))?[^\r\n]*", re.IGNORECASE)
_DATABASE_SWITCH = re.compile(
    r"(?:/\*!M?\d*\s*)?(?:USE\b|(?:CREATE|DROP)\s+(?:DATABASE|SCHEMA)\b)", re.IGNORECASE
)


def read_mysql(text: str, first_line: int = 1) -> list[Statement]:
    """The statements of a MySQL/MariaDB batch, as the `mysql` client cuts them."""
    reader = _Reader(text, first_line)
    statements: list[Statement] = []
    delimiter, delimiter_at = ";", 0
    start: int | None = None  # the current statement's first significant character
    i, n = 0, len(text)
    while i < n:
        if start is None and (i == 0 or text[i - 1] in "\r\n"):
            match = _DELIMITER_LINE.match(text, i)
            if match is not None and (match.end() == n or text[match.end()] in "\r\n"):
                new = match.group(1)
                if not new:
                    raise reader.fail(i, "DELIMITER must be followed by the new delimiter")
                if "\\" in new:
                    raise reader.fail(i, "a DELIMITER may not contain a backslash")
                delimiter, delimiter_at = new, i
                i = match.end()
                continue
        char = text[i]
        if text.startswith(delimiter, i):
            if start is not None:
                statements.append(reader.statement(start, i, alone=delimiter != ";"))
            start = None
            i += len(delimiter)
            continue
        if char in "'\"`":
            what = {"'": "quote '", '"': 'quote "', "`": "backtick `"}[char]
            if start is None:
                start = i
            i = reader.quoted(i, char, backslash=char != "`", what=what)
        elif char == "#" or (
            text.startswith("--", i) and text[i + 2 : i + 3] in ("", " ", "\t", "\r", "\n")
        ):
            i = reader.end_of_line(i)
        elif text.startswith("/*", i):
            versioned = text.startswith("/*!", i) or text.startswith("/*M!", i)
            end = reader.block_comment(i, nested=False)
            # `/*M!999999\- enable the sandbox mode */`, atop MariaDB's dumps, is a command
            # to the client (refuse client commands from here on): nothing to send.
            if versioned and start is None and "\\-" not in text[i:end]:
                start = i
            i = end
        elif start is None:
            if not char.isspace():
                start = i
            i += 1
        else:
            # Inside a statement, only these characters can change anything.
            i = _next(_special(delimiter), text, i + 1)
    if start is not None:
        # The client sends what is left at the end of its input without a delimiter.
        statements.append(reader.statement(start, n, alone=delimiter != ";"))
    if delimiter != ";":
        raise reader.fail(
            delimiter_at,
            f"DELIMITER {delimiter} is never set back to ';' before the end of the batch",
        )
    return statements


@functools.lru_cache(maxsize=64)
def _special(delimiter: str) -> re.Pattern[str]:
    return re.compile("['\"`#/-]|" + re.escape(delimiter[0]))


def _next(special: re.Pattern[str], text: str, offset: int) -> int:
    """The offset of the next character that `special` matches, or the text's end."""
    match = special.search(text, offset)
    return len(text) if match is None else match.start()


def switches_database(statement: Statement) -> bool:
    """Whether a MySQL statement changes or creates/drops a database (`USE`, `CREATE ...`)."""
    return _DATABASE_SWITCH.match(statement.text) is not None


# -- PostgreSQL ---------------------------------------------------------------------------

_COPY_FROM_STDIN = re.compile(r"COPY\b.*\bFROM\s+STDIN\b", re.IGNORECASE | re.DOTALL)
_META_COMMAND = re.compile(r"\\([A-Za-z]+|.?)")
# PostgreSQL's scanner takes every non-ASCII character as a letter of an identifier. The
# classes below say so by what they leave out: a class that lists the range U+0080 and up
# takes Python 5-10 ms each to compile, on every start of `sqlfleet`.
_IDENTIFIER_START = r"[^\x00-\x40\x5b-\x5e\x60\x7b-\x7f]"  # A-Z a-z _ and non-ASCII
_TAG_CHAR = r"[^\x00-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"  # and 0-9
_IDENTIFIER_CHAR_CLASS = r"[^\x00-\x23\x25-\x2f\x3a-\x40\x5b-\x5e\x60\x7b-\x7f]"  # and $
_DOLLAR_TAG = re.compile(rf"\$(?:{_IDENTIFIER_START}{_TAG_CHAR}*)?\$")
_WORD = re.compile(rf"{_IDENTIFIER_START}{_IDENTIFIER_CHAR_CLASS}*")
_IDENTIFIER_CHAR = re.compile(_IDENTIFIER_CHAR_CLASS)
# What can matter inside a PostgreSQL statement, the rest skipped in one step:
# ; " $ ' ( ) - / \\ and what starts a word.
_POSTGRES_SPECIAL = re.compile(
    r"[^\x00-\x21\x23\x25\x26\x2a-\x2c\x2e\x30-\x3a\x3c-\x40\x5b\x5d\x5e\x60\x7b-\x7f]"
)
_POSTGRES_SPECIAL_NO_WORDS = re.compile(r"[;'\"$/\\()-]")
_NOOP_META = frozenset({"restrict", "unrestrict"})
_META_REASONS = {
    "c": "each target is already connected to its own database",
    "connect": "each target is already connected to its own database",
    "i": "sqlfleet reads one script: put the file's text in its place",
    "ir": "sqlfleet reads one script: put the file's text in its place",
    "include": "sqlfleet reads one script: put the file's text in its place",
    "include_relative": "sqlfleet reads one script: put the file's text in its place",
    "set": "use sqlfleet's $(name) variables instead",
    "unset": "use sqlfleet's $(name) variables instead",
    "copy": "write COPY ... FROM stdin with its data inline instead",
}


def read_postgres(text: str, first_line: int = 1) -> list[Statement]:
    """The statements of a PostgreSQL batch, as `psql` cuts them, with inline COPY data."""
    reader = _Reader(text, first_line)
    statements: list[Statement] = []
    start: int | None = None
    # As psql: `;` inside parentheses (CREATE RULE ... DO (a; b)) or inside the BEGIN ATOMIC
    # ... END body of a CREATE [OR REPLACE] FUNCTION|PROCEDURE ends nothing.
    parentheses = depth = 0
    words: list[str] = []  # the statement's first words, to spot CREATE FUNCTION
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == ";" and (parentheses > 0 or depth > 0):
            i += 1
            continue
        if char == ";":
            parentheses = depth = 0
            words = []
            if start is not None:
                statement = reader.statement(start, i + 1)
                if _COPY_FROM_STDIN.match(statement.text):
                    statement, i = _copy_data(reader, statement, start, i + 1)
                    statements.append(statement)
                    start = None
                    continue
                statements.append(statement)
            start = None
            i += 1
            continue
        if char == "'":
            escapes = i > 0 and text[i - 1] in "eE" and not _identifier_before(text, i - 1)
            start = i if start is None else start
            i = reader.quoted(i, "'", backslash=escapes, what="quote '")
        elif char == '"':
            start = i if start is None else start
            i = reader.quoted(i, '"', backslash=False, what='quote "')
        elif char == "$" and not _identifier_before(text, i):
            match = _DOLLAR_TAG.match(text, i)
            if match is None:
                start = i if start is None else start
                i += 1
                continue
            tag = match.group(0)
            end = text.find(tag, match.end())
            if end == -1:
                raise reader.fail(i, f"the dollar quote {tag} opened here is never closed")
            start = i if start is None else start
            i = end + len(tag)
        elif text.startswith("--", i):
            i = reader.end_of_line(i)
        elif text.startswith("/*", i):
            i = reader.block_comment(i, nested=True)
        elif char == "\\":
            i = _meta_command(reader, i)
        elif (
            (len(words) < 4 or depth or _routine_body(words))
            and (word := _WORD.match(text, i)) is not None
            and not _identifier_before(text, i)
        ):
            start = i if start is None else start
            keyword = word.group(0).lower()
            if len(words) < 4:
                words.append(keyword)
            if parentheses == 0 and _routine_body(words):
                if keyword == "begin" or (keyword == "case" and depth > 0):
                    depth += 1
                elif keyword == "end" and depth > 0:
                    depth -= 1
            i = word.end()
        else:
            if start is None and not char.isspace():
                start = i
            if char == "(":
                parentheses += 1
            elif char == ")" and parentheses > 0:
                parentheses -= 1
            if start is None:
                i += 1
            else:
                words_matter = len(words) < 4 or depth or _routine_body(words)
                special = _POSTGRES_SPECIAL if words_matter else _POSTGRES_SPECIAL_NO_WORDS
                i = _next(special, text, i + 1)
    if start is not None:
        statement = reader.statement(start, n)
        if _COPY_FROM_STDIN.match(statement.text):
            statement, _ = _copy_data(reader, statement, start, n)
        statements.append(statement)
    return statements


def _routine_body(words: list[str]) -> bool:
    """Whether a statement starting with `words` is CREATE [OR REPLACE] FUNCTION|PROCEDURE."""
    kinds = ("function", "procedure")
    if words[:1] != ["create"]:
        return False
    if len(words) >= 2 and words[1] in kinds:
        return True
    return words[1:3] == ["or", "replace"] and len(words) >= 4 and words[3] in kinds


def _identifier_before(text: str, offset: int) -> bool:
    return offset > 0 and _IDENTIFIER_CHAR.match(text, offset - 1) is not None


def _meta_command(reader: _Reader, offset: int) -> int:
    match = _META_COMMAND.match(reader.text, offset)
    name = match.group(1) if match else ""
    if name in _NOOP_META:
        return reader.end_of_line(offset)
    reason = _META_REASONS.get(name, "sqlfleet sends SQL only, and psql commands are not SQL")
    raise reader.fail(offset, f"psql meta-command \\{name} cannot run here: {reason}")


def _copy_data(
    reader: _Reader, statement: Statement, start: int, after: int
) -> tuple[Statement, int]:
    """The COPY statement with its data: the lines after it up to a line holding `\\.`."""
    text = reader.text
    data_start = reader.next_line(after)
    i = data_start
    while i < len(text):
        end = reader.end_of_line(i)
        if text[i:end] == "\\.":
            data = text[data_start:i]
            copy = Statement(statement.text, statement.line, statement.column, copy_data=data)
            return copy, reader.next_line(i)
        i = reader.next_line(i)
    raise reader.fail(
        start, "the COPY ... FROM stdin starting here has no line holding only \\. to end its data"
    )


# -- SQLite -------------------------------------------------------------------------------

_SQLITE_COMMENT = re.compile(r"--[^\n]*|/\*.*?(?:\*/|\Z)", re.DOTALL)
_SQLITE_SPECIAL = re.compile(r"[;'\"`\[/-]")
_TRIGGER_START = re.compile(r"CREATE\s+(?:TEMP\s+|TEMPORARY\s+)?TRIGGER\b", re.IGNORECASE)
_ENDS_WITH_END = re.compile(r"\bEND\s*\Z", re.IGNORECASE)


def read_sqlite(text: str, first_line: int = 1) -> list[Statement]:
    """The statements of a SQLite batch, as the `sqlite3` shell cuts them."""
    reader = _Reader(text, first_line)
    statements: list[Statement] = []
    start: int | None = None
    last_end = 0  # where the last string or name ended: an END just before it is no END
    i, n = 0, len(text)
    while i < n:
        char = text[i]
        if char == ";" and start is not None:
            in_trigger = _TRIGGER_START.match(text, start) is not None
            before = _SQLITE_COMMENT.sub(" ", text[max(start, last_end) : i])
            if not in_trigger or _ENDS_WITH_END.search(before):
                statements.append(reader.statement(start, i + 1))
                start = None
            i += 1
        elif char == ";":
            i += 1
        elif char in "'\"`[":
            close = "]" if char == "[" else char
            start = i if start is None else start
            if close == "]":
                end = text.find("]", i)
                if end == -1:
                    raise reader.fail(i, "the bracket [ opened here is never closed")
                end += 1
            else:
                end = reader.quoted(i, close, backslash=False, what=f"quote {close}")
            i = last_end = end
        elif text.startswith("--", i):
            i = reader.end_of_line(i)
        elif text.startswith("/*", i):
            end = text.find("*/", i + 2)
            # SQLite lets a block comment run to the end of the text.
            i = n if end == -1 else end + 2
        elif start is None:
            if not char.isspace():
                start = i
            i += 1
        else:
            i = _next(_SQLITE_SPECIAL, text, i + 1)
    if start is not None:
        statements.append(reader.statement(start, n))
    return statements


_READERS = {"mysql": read_mysql, "postgresql": read_postgres, "sqlite": read_sqlite}


def read_statements(engine: str, text: str, first_line: int = 1) -> list[Statement]:
    """The statements of a batch for `engine`; one statement holding it all for others."""
    read = _READERS.get(engine)
    if read is None:
        return [Statement(text, first_line)]
    return read(text, first_line)


def first_switch(statements: Sequence[Statement]) -> Statement | None:
    """The first MySQL statement that switches database, if any."""
    return next((s for s in statements if switches_database(s)), None)


def read_script(
    engine: str, batches: Sequence[Batch], *, allow_database_switch: bool
) -> list[list[Statement]]:
    """Each batch's statements for `engine`; `InvalidCommand` (starting with the line) for a
    script its client cannot read, or a MySQL one that switches database unless allowed:
    a `USE` would send every target's work to one and the same database."""
    read = [read_statements(engine, batch.text, batch.line) for batch in batches]
    if engine == "mysql" and not allow_database_switch:
        for statements in read:
            switch = first_switch(statements)
            if switch is not None:
                first = shown(switch.text.splitlines()[0])
                raise InvalidCommand(
                    f"line {switch.line}: {first} switches database on MySQL/MariaDB, so every "
                    "target of the step would work on that same database instead of its own: "
                    "remove it, or allow it with --allow-database-switch "
                    "(allow_database_switch)"
                )
    return read


@dataclass(frozen=True, slots=True)
class Location:
    """Where in a script an attempt failed: its batch, line, column and statement."""

    batch: int
    line: int
    column: int | None = None
    statement: str | None = None  # the failing statement's first lines
    last_line: int | None = None  # one of the statements from `line` to here failed

    def describe(self) -> str:
        """`batch 2, line 115, column 8`, or a range of lines when not known better."""
        if self.last_line is not None and self.last_line != self.line:
            lines = f"lines {self.line} to {self.last_line}"
            return f"batch {self.batch}, one of the statements at {lines}"
        text = f"batch {self.batch}, line {self.line}"
        return text if self.column is None else f"{text}, column {self.column}"


def location_of(
    batch: int,
    statements: Sequence[Statement],
    index: int | None,
    last_index: int | None,
    position: int | None,
    batch_line: int,
    line_in_statement: int | None = None,
) -> Location:
    """The location of an error in statement `index` (or one of `index`..`last_index`), at
    a character `position` of it, or else on its `line_in_statement` (1-based; for a COPY,
    its data lines count after its own), when the server says."""
    if index is None or not 0 <= index < len(statements):
        return Location(batch, batch_line)
    statement = statements[index]
    if last_index is not None and last_index != index and 0 <= last_index < len(statements):
        return Location(batch, statement.line, last_line=statements[last_index].line)
    line, column = locate(statement, position)
    if position is None and line_in_statement is not None and line_in_statement >= 1:
        line = statement.line + line_in_statement - 1
    return Location(batch, line, column, statement.excerpt())
