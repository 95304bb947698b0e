"""sqlfleet: run SQL scripts across fleets of databases, in parallel, with retries, timeouts,
schedules, and a record of every attempt on every database."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlfleet.errors import SqlfleetError
    from sqlfleet.fleet import Fleet
    from sqlfleet.lifecycle import Lifecycle
    from sqlfleet.schedule import Schedule
    from sqlfleet.secrets import Secret

__all__ = ["Fleet", "Lifecycle", "Schedule", "Secret", "SqlfleetError"]
__version__ = "0.1.0"

# The public names, imported on first use (PEP 562): `import sqlfleet.cli` for `--help`
# must not pay for SQLAlchemy, which `Fleet` brings.
_HOMES = {
    "Fleet": "sqlfleet.fleet",
    "Lifecycle": "sqlfleet.lifecycle",
    "Schedule": "sqlfleet.schedule",
    "Secret": "sqlfleet.secrets",
    "SqlfleetError": "sqlfleet.errors",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module 'sqlfleet' has no attribute {name!r}")
    value = getattr(importlib.import_module(home), name)
    globals()[name] = value
    return value
