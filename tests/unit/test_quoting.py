"""Each engine's quoting of string literals and identifiers, read back by that engine's rules.

The readers below follow each engine's documented lexical rules for the one token they
read; a quoted value must come back whole, with the token ending exactly where the quoted
text ends (nothing left over to be read as SQL). The real servers do the same round trip in
tests/integration/targets/test_quoting.py.
"""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from sqlfleet.errors import InvalidValue
from sqlfleet.script import Quoting
from sqlfleet.targets import mysql, postgres, sqlite
from sqlfleet.targets.mysql import MysqlDriver
from sqlfleet.targets.postgres import PostgresDriver
from sqlfleet.targets.sqlite import SqliteDriver

INJECTION = "x'); DROP TABLE victim; --"
TRICKY = [
    "",
    "'",
    "''",
    '"',
    "`",
    "\\",
    "\\'",
    "'\\",
    "\\\\'",
    ";",
    " ",
    "$$",
    "$1",
    "--",
    "/*",
    "\n",
    "\r\n",
    "\u2028",
    INJECTION,
    'x"); DROP TABLE victim; --',
    "x`; DROP TABLE victim; --",
    "tenant_é_日本",
    "a\\'; DROP TABLE victim; --",
]
no_nul = st.text(alphabet=st.characters(exclude_characters="\x00", exclude_categories=["Cs"]))
no_nul_names = no_nul.filter(bool)


def _tricky(test: object) -> object:
    for value in TRICKY:
        test = example(value)(test)
    return test


# -- readers, one per token kind ----------------------------------------------------------


def read_quoted(text: str, quote: str) -> tuple[str, int]:
    """A token quoted with `quote`, the quote doubled inside: its value and where it ends."""
    assert text.startswith(quote), text
    value: list[str] = []
    position = 1
    while True:
        if position >= len(text):
            raise AssertionError(f"unterminated: {text!r}")
        character = text[position]
        if character == quote:
            if text[position + 1 : position + 2] == quote:
                value.append(quote)
                position += 2
                continue
            return "".join(value), position + 1
        value.append(character)
        position += 1


def read_pg_string(text: str, *, standard_conforming_strings: bool) -> tuple[str, int]:
    """A PostgreSQL `'...'` or `E'...'` string constant: its value and where it ends."""
    escapes = text.startswith(("E'", "e'")) or not standard_conforming_strings
    start = 1 if text[0] in "Ee" else 0
    assert text[start] == "'", text
    value: list[str] = []
    position = start + 1
    while True:
        if position >= len(text):
            raise AssertionError(f"unterminated: {text!r}")
        character = text[position]
        if character == "'":
            if text[position + 1 : position + 2] == "'":
                value.append("'")
                position += 2
                continue
            return "".join(value), position + 1
        if character == "\\" and escapes:
            following = text[position + 1]
            # \b \f \n \r \t, octal, \x and \u escapes would change the value: the quoting
            # must never produce them, so meeting one is a failure here.
            assert following not in "bfnrtxuU01234567", text
            value.append(following)
            position += 2
            continue
        value.append(character)
        position += 1


# -- PostgreSQL ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("", "''"),
        ("tenant_042", "'tenant_042'"),
        ("it's", "'it''s'"),
        (INJECTION, "'x''); DROP TABLE victim; --'"),
        ("a\\b", "E'a\\\\b'"),
        ("\\'", "E'\\\\'''"),
        ("tenant_é_日本", "'tenant_é_日本'"),
    ],
)
def test_postgres_literals(value: str, quoted: str) -> None:
    assert postgres.quote_literal(value) == quoted


@given(no_nul)
@_tricky
def test_a_postgres_literal_reads_back_whole_with_either_string_setting(value: str) -> None:
    quoted = postgres.quote_literal(value)
    for standard in (True, False):
        assert read_pg_string(quoted, standard_conforming_strings=standard) == (
            value,
            len(quoted),
        )


@pytest.mark.parametrize(
    ("value", "quoted"),
    [("t", '"t"'), ('a"b', '"a""b"'), ("Mixed Case", '"Mixed Case"'), ("a\\b", '"a\\b"')],
)
def test_postgres_identifiers(value: str, quoted: str) -> None:
    assert postgres.quote_identifier(value) == quoted


@given(no_nul_names)
@_tricky
def test_a_postgres_identifier_reads_back_whole(value: str) -> None:
    if value:
        quoted = postgres.quote_identifier(value)
        assert read_quoted(quoted, '"') == (value, len(quoted))


# -- MySQL and MariaDB --------------------------------------------------------------------

_HEX_LITERAL = re.compile(r"_utf8mb4 X'((?:[0-9A-F]{2})*)'")


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("", "_utf8mb4 X''"),
        ("a", "_utf8mb4 X'61'"),
        ("'\\", "_utf8mb4 X'275C'"),
        ("é", "_utf8mb4 X'C3A9'"),
        ("😀", "_utf8mb4 X'F09F9880'"),
    ],
)
def test_mysql_literals(value: str, quoted: str) -> None:
    assert mysql.quote_literal(value) == quoted


@given(no_nul)
@_tricky
def test_a_mysql_literal_is_hex_digits_that_decode_to_the_value(value: str) -> None:
    match = _HEX_LITERAL.fullmatch(mysql.quote_literal(value))
    assert match is not None
    assert bytes.fromhex(match.group(1)).decode("utf-8") == value


@pytest.mark.parametrize(
    ("value", "quoted"), [("t", "`t`"), ("a`b", "`a``b`"), ('a"b', '`a"b`'), ("a'b", "`a'b`")]
)
def test_mysql_identifiers(value: str, quoted: str) -> None:
    assert mysql.quote_identifier(value) == quoted


@given(no_nul_names)
@_tricky
def test_a_mysql_identifier_reads_back_whole(value: str) -> None:
    if value:
        quoted = mysql.quote_identifier(value)
        assert read_quoted(quoted, "`") == (value, len(quoted))


# -- SQLite -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "quoted"),
    [
        ("", "''"),
        ("it's", "'it''s'"),
        ("a\\b", "'a\\b'"),
        (INJECTION, "'x''); DROP TABLE victim; --'"),
    ],
)
def test_sqlite_literals(value: str, quoted: str) -> None:
    assert sqlite.quote_literal(value) == quoted


@given(no_nul)
@_tricky
def test_a_sqlite_literal_reads_back_whole(value: str) -> None:
    quoted = sqlite.quote_literal(value)
    assert read_quoted(quoted, "'") == (value, len(quoted))


@given(no_nul_names)
@_tricky
def test_a_sqlite_identifier_reads_back_whole(value: str) -> None:
    if value:
        quoted = sqlite.quote_identifier(value)
        assert read_quoted(quoted, '"') == (value, len(quoted))


# -- every engine -------------------------------------------------------------------------

DRIVERS: list[Quoting] = [PostgresDriver(), MysqlDriver(), SqliteDriver()]
MODULES = {"postgresql": postgres, "mysql": mysql, "sqlite": sqlite}


@pytest.mark.parametrize("driver", DRIVERS, ids=lambda d: type(d).__name__)
@pytest.mark.parametrize("value", ["a'b", 'a"b', "a`b", "a\\b", ""])
def test_a_driver_quotes_as_its_module_does(driver: Any, value: str) -> None:
    module = MODULES[driver.engine]
    assert driver.quote_literal(value) == module.quote_literal(value)
    if value:
        assert driver.quote_identifier(value) == module.quote_identifier(value)


@pytest.mark.parametrize("driver", DRIVERS, ids=lambda d: type(d).__name__)
@pytest.mark.parametrize("value", ["\x00", "a\x00", "\x00'; DROP TABLE victim; --"])
def test_a_nul_is_refused_by_every_engine(driver: Quoting, value: str) -> None:
    with pytest.raises(InvalidValue):
        driver.quote_literal(value)
    with pytest.raises(InvalidValue):
        driver.quote_identifier(value)


def test_a_lone_surrogate_is_refused_by_the_hex_literal() -> None:
    with pytest.raises(InvalidValue):
        mysql.quote_literal("a\udc80")


@pytest.mark.parametrize("driver", DRIVERS, ids=lambda d: type(d).__name__)
def test_an_empty_identifier_is_refused_by_every_engine(driver: Quoting) -> None:
    with pytest.raises(InvalidValue):
        driver.quote_identifier("")
