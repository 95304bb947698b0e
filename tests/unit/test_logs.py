"""Log lines for log shippers: one JSON object per record, with the ids it carries."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from sqlfleet.logs import JsonFormatter


def record(message: str, *args: object, **extra: object) -> logging.LogRecord:
    made = logging.LogRecord("sqlfleet.agent", logging.INFO, __file__, 1, message, args, None)
    made.__dict__.update(extra)
    return made


def test_a_record_is_one_line_of_json_with_its_ids() -> None:
    line = JsonFormatter().format(
        record("schedule of job %s fired: execution %d", "nightly\n\"x\"", 42,
               job="nightly", job_execution_id=42)
    )  # fmt: skip
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == 'schedule of job nightly\n"x" fired: execution 42'
    assert (entry["level"], entry["logger"]) == ("INFO", "sqlfleet.agent")
    assert (entry["job"], entry["job_execution_id"]) == ("nightly", 42)
    assert "target_execution_id" not in entry
    assert entry["time"].endswith("+00:00")


def test_an_exception_is_a_field_not_extra_lines() -> None:
    try:
        raise ValueError("boom")
    except ValueError:
        made = record("failed")
        made.exc_info = sys.exc_info()
    entry = json.loads(JsonFormatter().format(made))
    assert "ValueError: boom" in entry["exception"]


def test_configured_json_logging_turns_uvicorn_lines_into_json_too() -> None:
    """What `--log-format json` sets up: nothing but JSON lines on stderr, uvicorn's too."""
    done = subprocess.run(
        [sys.executable, "-c",
         "import logging, sqlfleet.logs as l; l.configure(l.LogFormat.JSON); "
         "logging.getLogger('uvicorn.error').info('Started server process [%d]', 7); "
         "logging.getLogger('sqlfleet.agent').warning('x', extra={'agent': 'a1'})"],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    lines = [json.loads(line) for line in done.stderr.splitlines()]
    assert [e["logger"] for e in lines] == ["uvicorn.error", "sqlfleet.agent"]
    assert lines[0]["message"] == "Started server process [7]"
    assert lines[1]["agent"] == "a1"
