"""Target databases: one driver module per engine behind the protocol in `base`.

Driver modules are imported on first use, so a command that never touches MySQL never
imports aiomysql.
"""

from __future__ import annotations

from sqlfleet.errors import InvalidValue
from sqlfleet.servers import ServerUrl
from sqlfleet.targets.base import (
    BatchResult,
    Driver,
    Login,
    ReusableConnection,
    TargetConnection,
)

__all__ = [
    "BatchResult",
    "Driver",
    "Login",
    "ReusableConnection",
    "TargetConnection",
    "driver_for",
]


def driver_for(server: ServerUrl) -> Driver:
    """The driver for the server's engine; `InvalidValue` for engines not supported yet."""
    if server.engine == "postgresql":
        from sqlfleet.targets.postgres import PostgresDriver

        return PostgresDriver()
    if server.engine == "mysql":
        from sqlfleet.targets.mysql import MysqlDriver

        return MysqlDriver()
    if server.engine == "sqlite":
        from sqlfleet.targets.sqlite import SqliteDriver

        return SqliteDriver()
    if server.engine == "mssql":
        raise InvalidValue("SQL Server targets are not supported yet")
    raise InvalidValue(f"unknown database engine {server.engine!r}")
