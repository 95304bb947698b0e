"""How the long-running commands (`agent`, `web`, `up`) log: lines for people, or JSON.

`--log-format json` writes one JSON object per line, for log shippers: the time, level,
logger and message, and the ids a record carries (job, execution, step, target, agent).
The web server's access lines go the same way.
"""

from __future__ import annotations

import enum
import json
import logging
import sys
from datetime import UTC, datetime

# Attributes a record may carry (`log.info(..., extra={"job": ...})`), written as fields.
ID_FIELDS = ("job", "job_execution_id", "step", "target_execution_id", "agent")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


class LogFormat(enum.StrEnum):
    """The two ways of writing log lines."""

    TEXT = "text"
    JSON = "json"


class JsonFormatter(logging.Formatter):
    """One JSON object per record."""

    def format(self, record: logging.LogRecord) -> str:
        """The record as a line of JSON."""
        entry: dict[str, object] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(),
            "level": record.levelname,
            "logger": record.name,
            "message": record.getMessage(),
        }
        for field in ID_FIELDS:
            if hasattr(record, field):
                entry[field] = getattr(record, field)
        if record.exc_info:
            entry["exception"] = self.formatException(record.exc_info)
        return json.dumps(entry, default=str, ensure_ascii=False)


class StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record comes, not what it was when made
    (a command run in-process, by tests or a host program, may swap it meanwhile)."""

    @property
    def stream(self) -> object:
        return sys.stderr

    @stream.setter
    def stream(self, _value: object) -> None:
        pass


def configure(log_format: LogFormat = LogFormat.TEXT) -> None:
    """Send every log record (the web server's included) to stderr in `log_format`."""
    handler = StderrHandler()
    formatter = JsonFormatter() if log_format is LogFormat.JSON else logging.Formatter(TEXT_FORMAT)
    handler.setFormatter(formatter)
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)
    for name in ("httpx", "httpcore"):
        # httpx logs each request's full URL at INFO: a webhook's URL holds its token.
        logging.getLogger(name).setLevel(logging.WARNING)
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        # uvicorn is told to leave logging alone (log_config=None): its records go to the root.
        logger = logging.getLogger(name)
        logger.handlers.clear()
        logger.propagate = True
