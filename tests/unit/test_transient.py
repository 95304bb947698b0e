"""Each driver judges its engine's errors once: which may pass on their own if retried."""

from __future__ import annotations

import sqlite3

import pymysql
import pytest

from sqlfleet.targets import mysql, postgres, sqlite


@pytest.mark.parametrize(
    ("sqlstate", "transient"),
    [
        ("08006", True),  # connection failure
        ("53300", True),  # too many connections
        ("57P01", True),  # admin shutdown (pg_terminate_backend)
        ("57P03", True),  # cannot connect now (starting up, recovery)
        ("40001", True),  # serialization failure
        ("40P01", True),  # deadlock
        ("55P03", True),  # lock not available (lock_timeout)
        ("57014", True),  # query canceled
        ("42601", False),  # syntax error
        ("42P01", False),  # undefined table
        ("42501", False),  # insufficient privilege
        ("23505", False),  # unique violation
        ("22012", False),  # division by zero
        (None, False),
    ],
)
def test_postgresql_sqlstates(sqlstate: str | None, transient: bool) -> None:
    assert postgres.is_transient(sqlstate) is transient


@pytest.mark.parametrize(
    ("number", "transient"),
    [(1040, True), (1205, True), (1213, True), (2013, True), (1064, False), (1146, False)],
)
def test_mysql_error_numbers(number: int, transient: bool) -> None:
    assert mysql.is_transient(pymysql.err.OperationalError(number, "x")) is transient


def test_sqlite_result_codes() -> None:
    busy = sqlite3.OperationalError("database is locked")
    busy.sqlite_errorcode = 5  # type: ignore[attr-defined]
    syntax = sqlite3.OperationalError("near x: syntax error")
    syntax.sqlite_errorcode = 1  # type: ignore[attr-defined]
    assert sqlite.is_transient(busy) and not sqlite.is_transient(syntax)
