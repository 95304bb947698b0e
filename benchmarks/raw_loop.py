"""The raw loops `speed.py` times sqlfleet against: what a user would write instead of
sqlfleet, one new connection per target, `concurrency` targets at a time, nothing recorded.

`speed.py` runs them two ways: inside its own warm process (the loop alone), and as this
script, which is how a user runs such a loop and how `sqlfleet run` is timed too (Python's
start, the driver's import and the loop):

    python benchmarks/raw_loop.py mariadb PREFIX SIZE CONCURRENCY SCRIPT
    python benchmarks/raw_loop.py pg-schemas DATABASE SIZE CONCURRENCY SCRIPT
    python benchmarks/raw_loop.py pg-databases PREFIX SIZE CONCURRENCY SCRIPT

MariaDB databases are named PREFIX_0 ... PREFIX_<SIZE-1>, PostgreSQL schemas s_0 ... and
PostgreSQL databases PREFIX_0 ...; the servers are the local ones (127.0.0.1:3306 as root,
127.0.0.1:5432 as postgres).
"""

from __future__ import annotations

import asyncio
import sys
from collections.abc import Awaitable, Callable

HOST = "127.0.0.1"
PG_PORT, PG_USER = 5432, "postgres"
MYSQL_PORT, MYSQL_USER = 3306, "root"


async def bounded(count: int, concurrency: int, one: Callable[[int], Awaitable[None]]) -> None:
    """`one(i)` for every i < count, `concurrency` at a time."""
    gate = asyncio.Semaphore(concurrency)

    async def run(i: int) -> None:
        async with gate:
            await one(i)

    await asyncio.gather(*(run(i) for i in range(count)))


async def mariadb(prefix: str, size: int, concurrency: int, script: str) -> None:
    """An aiomysql connect, execute (statement by statement), commit and close per database."""
    import aiomysql

    statements = [s.strip() for s in script.split(";") if s.strip()]

    async def one(i: int) -> None:
        connection = await aiomysql.connect(
            host=HOST, port=MYSQL_PORT, user=MYSQL_USER, db=f"{prefix}_{i}", connect_timeout=30
        )
        try:
            async with connection.cursor() as cursor:
                for statement in statements:
                    await cursor.execute(statement)
            await connection.commit()
        finally:
            connection.close()

    await bounded(size, concurrency, one)


async def pg_schemas(database: str, size: int, concurrency: int, script: str) -> None:
    """An asyncpg connect per schema, with `search_path` set to it at the handshake."""
    import asyncpg

    async def one(i: int) -> None:
        connection = await asyncpg.connect(
            host=HOST,
            port=PG_PORT,
            user=PG_USER,
            database=database,
            timeout=30,
            server_settings={"search_path": f"s_{i}"},
        )
        try:
            await connection.execute(script, timeout=60)
        finally:
            await connection.close(timeout=5)

    await bounded(size, concurrency, one)


async def pg_databases(prefix: str, size: int, concurrency: int, script: str) -> None:
    """An asyncpg connect per database."""
    import asyncpg

    async def one(i: int) -> None:
        connection = await asyncpg.connect(
            host=HOST, port=PG_PORT, user=PG_USER, database=f"{prefix}_{i}", timeout=30
        )
        try:
            await connection.execute(script, timeout=60)
        finally:
            await connection.close(timeout=5)

    await bounded(size, concurrency, one)


LOOPS = {"mariadb": mariadb, "pg-schemas": pg_schemas, "pg-databases": pg_databases}


def main(argv: list[str]) -> int:
    """Run one loop to its end."""
    if len(argv) != 5 or argv[0] not in LOOPS:
        print(__doc__, file=sys.stderr)
        return 2
    kind, name, size, concurrency, script = argv
    asyncio.run(LOOPS[kind](name, int(size), int(concurrency), script))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
