"""The web server's access log, without the routine polling of the live pages.

An open execution page asks for its `live.json` every second, and Prometheus scrapes
`/metrics`: logging each of those lines at info level would bury everything else. Polls
that succeed are left out; failed ones stay.
"""

from __future__ import annotations

import logging

# uvicorn.access records carry (client, method, path, http version, status) as their args.
_ACCESS_ARGS = 5
QUIET_SUFFIXES = ("/live.json", "/metrics")


class QuietPolling(logging.Filter):
    """Drops access lines of successful GETs on polled paths."""

    def filter(self, record: logging.LogRecord) -> bool:
        """False for a successful poll of a live page; True for everything else."""
        args = record.args
        if not isinstance(args, tuple) or len(args) != _ACCESS_ARGS:
            return True
        _, method, path, _, status = args
        polled = str(path).partition("?")[0].endswith(QUIET_SUFFIXES)
        return not (method == "GET" and polled and isinstance(status, int) and status < 400)


def quiet_polling() -> None:
    """Leave successful polls out of uvicorn's access log (call after uvicorn set it up)."""
    access = logging.getLogger("uvicorn.access")
    if not any(isinstance(f, QuietPolling) for f in access.filters):
        access.addFilter(QuietPolling())
