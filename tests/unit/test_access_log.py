"""The web server's access log leaves out the live pages' routine polls."""

from __future__ import annotations

import logging

import pytest

from sqlfleet.api.access_log import QuietPolling, quiet_polling


def _access(method: str, path: str, status: int) -> logging.LogRecord:
    """A record as uvicorn's access logger makes it."""
    return logging.LogRecord(
        "uvicorn.access",
        logging.INFO,
        __file__,
        1,
        '%s - "%s %s HTTP/%s" %d',
        ("127.0.0.1:5000", method, path, "1.1", status),
        None,
    )


@pytest.mark.parametrize(
    ("method", "path", "status", "logged"),
    [
        ("GET", "/executions/7/live.json", 200, False),
        ("GET", "/executions/7/live.json?since=3", 200, False),
        ("GET", "/executions/7/live.json", 500, True),  # a failing poll is worth a line
        ("GET", "/executions/7", 200, True),
        ("POST", "/executions/7/stop", 303, True),
        ("GET", "/api/v1/executions/7", 200, True),
    ],
)
def test_only_successful_polls_are_left_out(
    method: str, path: str, status: int, logged: bool
) -> None:
    assert QuietPolling().filter(_access(method, path, status)) is logged


def test_quiet_polling_installs_one_filter() -> None:
    access = logging.getLogger("uvicorn.access")
    before = list(access.filters)
    try:
        quiet_polling()
        quiet_polling()
        assert sum(isinstance(f, QuietPolling) for f in access.filters) == 1
    finally:
        access.filters[:] = before
