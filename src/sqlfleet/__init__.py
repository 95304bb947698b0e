"""sqlfleet: run SQL scripts across fleets of databases, in parallel, with retries, timeouts,
schedules, and a record of every attempt on every database."""

from __future__ import annotations

from sqlfleet.errors import SqlfleetError
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.schedule import Schedule
from sqlfleet.secrets import Secret

__all__ = ["Fleet", "Lifecycle", "Schedule", "Secret", "SqlfleetError"]
__version__ = "0.1.0"
