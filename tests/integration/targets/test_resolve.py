"""Resolving target groups against real servers, on databases and schemas made by the test.

Other tests share the servers, so a server member on PostgreSQL or MariaDB is checked with a
database pattern naming this test's fleet (or, without one, for containing it).
"""

from __future__ import annotations

import asyncio
import itertools
import secrets
from pathlib import Path
from typing import Any

import pytest

from sqlfleet.errors import InvalidValue, TargetConnectError, TargetError
from sqlfleet.model import Member, MemberKind, Membership, Target, TargetGroup
from sqlfleet.servers import ServerUrl
from sqlfleet.targets.base import Login
from sqlfleet.targets.resolve import resolve_group

NO_SUCH_ROLE = Login("sqlfleet_no_such_role")

_ids = itertools.count(1)


def include(kind: MemberKind, server: ServerUrl | str, **fields: Any) -> Member:
    return Member(next(_ids), kind, Membership.INCLUDE, str(server), **fields)


def exclude(kind: MemberKind, server: ServerUrl | str, **fields: Any) -> Member:
    return Member(next(_ids), kind, Membership.EXCLUDE, str(server), **fields)


def group(*members: Member) -> TargetGroup:
    return TargetGroup(next(_ids), "fleet", members)


def targets(server: ServerUrl, *databases: str) -> list[Target]:
    return [Target(str(server), database) for database in databases]


def prefix() -> str:
    return f"sqlfleet_t_{secrets.token_hex(4)}"


# -- server members -----------------------------------------------------------------------


@pytest.mark.postgres
async def test_postgres_server_member_lists_every_user_database(
    pg_fleet: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    names = pg_fleet(3)

    resolved = await resolve_group(
        group(include(MemberKind.SERVER, pg_server)), default_login=pg_login
    )

    assert set(targets(pg_server, *names)) <= set(resolved)
    databases = {t.database for t in resolved}
    assert not databases & {"postgres", "template0", "template1"}
    assert {t.server_url for t in resolved} == {str(pg_server)}
    assert all(t.schema is None for t in resolved)
    assert resolved == sorted(resolved)


@pytest.mark.postgres
async def test_postgres_server_member_with_pattern(
    pg_fleet: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    common = prefix()
    tenants = pg_fleet(3, f"{common}_tenant")
    others = pg_fleet(2, f"{common}_other")

    every = await resolve_group(
        group(include(MemberKind.SERVER, pg_server, database_pattern=f"{common}_*")),
        default_login=pg_login,
    )
    only_tenants = await resolve_group(
        group(include(MemberKind.SERVER, pg_server, database_pattern=f"{common}_tenant_*")),
        default_login=pg_login,
    )
    two_tenants = await resolve_group(
        group(include(MemberKind.SERVER, pg_server, database_pattern=f"{common}_tenant_[02]")),
        default_login=pg_login,
    )

    assert every == sorted(targets(pg_server, *tenants, *others))
    assert only_tenants == targets(pg_server, *tenants)
    assert two_tenants == targets(pg_server, tenants[0], tenants[2])


@pytest.mark.postgres
async def test_pattern_is_case_sensitive(
    pg_fleet: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    names = pg_fleet(2)
    upper = names[0].rpartition("_")[0].upper() + "_*"

    resolved = await resolve_group(
        group(include(MemberKind.SERVER, pg_server, database_pattern=upper)),
        default_login=pg_login,
    )

    assert resolved == []


@pytest.mark.mysql
async def test_mariadb_server_member_with_pattern(
    mysql_fleet: Any, mysql_server: ServerUrl, mysql_login: Login
) -> None:
    names = mysql_fleet(3)
    common = names[0].rpartition("_")[0]

    every = await resolve_group(
        group(include(MemberKind.SERVER, mysql_server)), default_login=mysql_login
    )
    matching = await resolve_group(
        group(include(MemberKind.SERVER, mysql_server, database_pattern=f"{common}_*")),
        default_login=mysql_login,
    )

    assert set(targets(mysql_server, *names)) <= set(every)
    assert not {t.database.lower() for t in every} & {
        "mysql",
        "information_schema",
        "performance_schema",
        "sys",
    }
    assert matching == targets(mysql_server, *names)


async def test_sqlite_folder_server_member(sqlite_fleet: Any, sqlite_server: ServerUrl) -> None:
    tenants = sqlite_fleet(3, "tenant")
    archive = sqlite_fleet(1, "archive")
    (Path(sqlite_server.path) / "notes.txt").write_text("not a database")

    every = await resolve_group(
        group(include(MemberKind.SERVER, sqlite_server)), default_login=None
    )
    matching = await resolve_group(
        group(include(MemberKind.SERVER, sqlite_server, database_pattern="tenant_*")),
        default_login=None,
    )

    assert every == targets(sqlite_server, *archive, *tenants)
    assert matching == targets(sqlite_server, *tenants)


async def test_sqlite_server_url_spelled_as_text_is_normalized(
    sqlite_fleet: Any, sqlite_server: ServerUrl
) -> None:
    names = sqlite_fleet(2)

    resolved = await resolve_group(
        group(include(MemberKind.SERVER, f"sqlite://{sqlite_server.path}/")),
        default_login=None,
    )

    assert resolved == targets(sqlite_server, *names)


@pytest.mark.postgres
async def test_database_created_right_before_resolving_is_included(
    pg_fleet: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    common = prefix()
    first = pg_fleet(2, common)
    fleet = group(include(MemberKind.SERVER, pg_server, database_pattern=f"{common}*"))
    before = await resolve_group(fleet, default_login=pg_login)

    newcomer = pg_fleet(1, common + "_new")
    after = await resolve_group(fleet, default_login=pg_login)

    assert before == targets(pg_server, *first)
    assert after == sorted(targets(pg_server, *first, *newcomer))


# -- excludes -----------------------------------------------------------------------------


@pytest.mark.postgres
async def test_excluded_database_is_left_out(
    pg_fleet: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    names = pg_fleet(4)
    common = names[0].rpartition("_")[0]

    resolved = await resolve_group(
        group(
            include(MemberKind.SERVER, pg_server, database_pattern=f"{common}_*"),
            exclude(MemberKind.DATABASE, pg_server, database=names[2]),
        ),
        default_login=pg_login,
    )

    assert resolved == targets(pg_server, names[0], names[1], names[3])


@pytest.mark.postgres
async def test_exclude_wins_whatever_the_member_order(
    pg_fleet: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    names = pg_fleet(3)
    common = names[0].rpartition("_")[0]
    alias = f"postgres://{pg_server.host}:{pg_server.port}"

    resolved = await resolve_group(
        group(
            exclude(MemberKind.SERVER, alias, database_pattern=f"{common}_[12]"),
            include(MemberKind.DATABASE, pg_server, database=names[1]),
            include(MemberKind.SERVER, pg_server, database_pattern=f"{common}_*"),
        ),
        default_login=pg_login,
    )

    assert resolved == targets(pg_server, names[0])


async def test_sqlite_exclude_by_pattern(sqlite_fleet: Any, sqlite_server: ServerUrl) -> None:
    keep = sqlite_fleet(2, "live")
    sqlite_fleet(2, "archive")

    resolved = await resolve_group(
        group(
            include(MemberKind.SERVER, sqlite_server),
            exclude(MemberKind.SERVER, sqlite_server, database_pattern="archive_*"),
        ),
        default_login=None,
    )

    assert resolved == targets(sqlite_server, *keep)


# -- schema-per-tenant --------------------------------------------------------------------


@pytest.fixture
def tenant_database(pg_fleet: Any, pg_sql: Any) -> str:
    """A database with schemas tenant_a, tenant_b, tenant_c, shared and "Tenant_D"."""
    database = str(pg_fleet(1)[0])
    pg_sql(
        database,
        "CREATE SCHEMA tenant_a; CREATE SCHEMA tenant_b; CREATE SCHEMA tenant_c; "
        'CREATE SCHEMA shared; CREATE SCHEMA "Tenant_D"',
    )
    return database


@pytest.mark.postgres
async def test_schema_member_with_pattern_and_excluded_schema(
    tenant_database: str, pg_server: ServerUrl, pg_login: Login
) -> None:
    every = await resolve_group(
        group(include(MemberKind.SCHEMA, pg_server, database=tenant_database, schema_pattern="*")),
        default_login=pg_login,
    )
    tenants = await resolve_group(
        group(
            include(
                MemberKind.SCHEMA, pg_server, database=tenant_database, schema_pattern="tenant_*"
            ),
            exclude(
                MemberKind.SCHEMA, pg_server, database=tenant_database, schema_pattern="tenant_b"
            ),
        ),
        default_login=pg_login,
    )

    assert [t.schema for t in every] == [
        "Tenant_D",
        "public",
        "shared",
        "tenant_a",
        "tenant_b",
        "tenant_c",
    ]
    assert tenants == [
        Target(str(pg_server), tenant_database, "tenant_a"),
        Target(str(pg_server), tenant_database, "tenant_c"),
    ]
    assert {t.target_type for t in tenants} == {"schema"}


@pytest.mark.postgres
async def test_excluding_a_database_excludes_its_schemas(
    tenant_database: str, pg_fleet: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    other = pg_fleet(1)[0]

    resolved = await resolve_group(
        group(
            include(
                MemberKind.SCHEMA, pg_server, database=tenant_database, schema_pattern="tenant_*"
            ),
            include(MemberKind.SCHEMA, pg_server, database=other, schema_pattern="*"),
            exclude(MemberKind.DATABASE, pg_server, database=tenant_database),
        ),
        default_login=pg_login,
    )

    assert resolved == [Target(str(pg_server), other, "public")]


@pytest.mark.postgres
async def test_a_database_and_its_schemas_can_both_be_targets(
    tenant_database: str, pg_server: ServerUrl, pg_login: Login
) -> None:
    resolved = await resolve_group(
        group(
            include(
                MemberKind.SCHEMA, pg_server, database=tenant_database, schema_pattern="tenant_[ab]"
            ),
            include(MemberKind.DATABASE, pg_server, database=tenant_database),
        ),
        default_login=pg_login,
    )

    assert resolved == [
        Target(str(pg_server), tenant_database),
        Target(str(pg_server), tenant_database, "tenant_a"),
        Target(str(pg_server), tenant_database, "tenant_b"),
    ]


@pytest.mark.mysql
async def test_schema_member_on_mariadb_is_refused(
    mysql_fleet: Any, mysql_server: ServerUrl, mysql_login: Login
) -> None:
    database = mysql_fleet(1)[0]
    fleet = group(include(MemberKind.SCHEMA, mysql_server, database=database, schema_pattern="*"))

    with pytest.raises(InvalidValue):
        await resolve_group(fleet, default_login=mysql_login)


# -- shard maps ---------------------------------------------------------------------------


@pytest.fixture
def catalog(pg_fleet: Any, pg_sql: Any) -> str:
    """A catalog database with an empty `shards(server_url, database_name, active)` table."""
    database = str(pg_fleet(1)[0])
    pg_sql(
        database,
        "CREATE TABLE shards (server_url text, database_name text, active boolean NOT NULL)",
    )
    return database


def shard_map(server: ServerUrl, catalog: str, query: str) -> Member:
    return include(MemberKind.SHARD_MAP, server, database=catalog, shard_map_query=query)


@pytest.mark.postgres
async def test_shard_map_with_database_rows_on_the_catalog_server(
    catalog: str, pg_fleet: Any, pg_sql: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    names = pg_fleet(3)
    for name, active in zip(names, (True, False, True), strict=True):
        pg_sql(
            catalog, "INSERT INTO shards (database_name, active) VALUES (%s, %s)", (name, active)
        )

    resolved = await resolve_group(
        group(
            shard_map(pg_server, catalog, "SELECT database_name FROM shards WHERE active"),
        ),
        default_login=pg_login,
    )

    assert resolved == targets(pg_server, names[0], names[2])


@pytest.mark.postgres
@pytest.mark.mysql
async def test_shard_map_with_server_url_rows(
    catalog: str,
    pg_fleet: Any,
    mysql_fleet: Any,
    pg_sql: Any,
    pg_server: ServerUrl,
    mysql_server: ServerUrl,
    pg_login: Login,
) -> None:
    pg_names = pg_fleet(2)
    mysql_names = mysql_fleet(1)
    rows = [
        (str(pg_server), pg_names[0]),
        # Spelled differently, normalized to the same server.
        (f"postgres://{pg_server.host}", pg_names[1]),
        (f"mariadb://{mysql_server.host}:{mysql_server.port}", mysql_names[0]),
    ]
    for server_url, name in rows:
        pg_sql(
            catalog,
            "INSERT INTO shards (server_url, database_name, active) VALUES (%s, %s, true)",
            (server_url, name),
        )

    resolved = await resolve_group(
        group(shard_map(pg_server, catalog, "SELECT server_url, database_name FROM shards")),
        default_login=pg_login,
    )

    assert resolved == sorted(
        [*targets(pg_server, *pg_names), *targets(mysql_server, *mysql_names)]
    )


@pytest.mark.postgres
async def test_shard_map_rows_can_be_excluded(
    catalog: str, pg_fleet: Any, pg_sql: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    names = pg_fleet(3)
    for name in names:
        pg_sql(catalog, "INSERT INTO shards (database_name, active) VALUES (%s, true)", (name,))

    resolved = await resolve_group(
        group(
            shard_map(pg_server, catalog, "SELECT database_name FROM shards"),
            exclude(MemberKind.DATABASE, pg_server, database=names[1]),
        ),
        default_login=pg_login,
    )

    assert resolved == targets(pg_server, names[0], names[2])


@pytest.mark.postgres
@pytest.mark.parametrize(
    ("query", "words"),
    [
        ("SELECT 'a', 'b', 'c'", "must return rows of (database) or (server URL, database)"),
        ("SELECT NULL::text", "must return rows of (database)"),
        ("SELECT ''", "must return rows of (database)"),
        ("SELECT 'postgresql://h:5432', NULL::text", "must return rows of (database)"),
        ("SELECT 'nowhere', 'db'", "names a bad server: server URL 'nowhere' has no scheme"),
        ("SELECT 'postgresql://h/db', 'db'", "must not name a database"),
        ("SELECT 'postgresql://u:Zq9-PW@h:abc', 'db'", "'postgresql://u:***@h:abc'"),
        ("SELECT 'postgresql://u:Zq9-PW@h', 'db', 'x'", "not ('postgresql://u:***@h', 'db', 'x')"),
    ],
)
async def test_shard_map_row_of_the_wrong_shape_is_an_error(
    catalog: str, pg_server: ServerUrl, pg_login: Login, query: str, words: str
) -> None:
    with pytest.raises(TargetError) as caught:
        await resolve_group(group(shard_map(pg_server, catalog, query)), default_login=pg_login)

    assert words in caught.value.message
    assert repr(catalog) in caught.value.message
    assert "Zq9" not in caught.value.message


@pytest.mark.postgres
async def test_shard_map_query_error_names_the_server_error(
    catalog: str, pg_server: ServerUrl, pg_login: Login
) -> None:
    with pytest.raises(TargetError, match="no_such_table"):
        await resolve_group(
            group(shard_map(pg_server, catalog, "SELECT database_name FROM no_such_table")),
            default_login=pg_login,
        )


# -- de-duplication -----------------------------------------------------------------------


@pytest.mark.postgres
async def test_overlapping_members_give_each_target_once(
    catalog: str, pg_fleet: Any, pg_sql: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    names = pg_fleet(3)
    common = names[0].rpartition("_")[0]
    pg_sql(catalog, "INSERT INTO shards (database_name, active) VALUES (%s, true)", (names[0],))
    alias = f"postgres://{pg_server.host}:{pg_server.port}"

    resolved = await resolve_group(
        group(
            include(MemberKind.SERVER, pg_server, database_pattern=f"{common}_*"),
            include(MemberKind.SERVER, alias, database_pattern=f"{common}_[01]"),
            include(MemberKind.DATABASE, pg_server, database=names[1]),
            include(MemberKind.DATABASE, f"postgresql://{pg_server.host}/", database=names[2]),
            shard_map(pg_server, catalog, "SELECT database_name FROM shards"),
        ),
        default_login=pg_login,
    )

    assert resolved == targets(pg_server, *names)


# -- logins -------------------------------------------------------------------------------


@pytest.mark.postgres
async def test_refresh_credential_is_used_for_enumeration(
    pg_fleet: Any, pg_server: ServerUrl, pg_login: Login
) -> None:
    names = pg_fleet(2)
    common = names[0].rpartition("_")[0]

    def fleet(refresh: str | None) -> TargetGroup:
        return group(
            include(
                MemberKind.SERVER,
                pg_server,
                database_pattern=f"{common}_*",
                refresh_credential=refresh,
            )
        )

    logins = {"good": pg_login, "bad": NO_SUCH_ROLE}

    with pytest.raises(TargetConnectError, match="sqlfleet_no_such_role"):
        await resolve_group(fleet(None), default_login=NO_SUCH_ROLE, logins=logins)
    with pytest.raises(TargetConnectError, match="sqlfleet_no_such_role"):
        await resolve_group(fleet("bad"), default_login=pg_login, logins=logins)
    resolved = await resolve_group(fleet("good"), default_login=NO_SUCH_ROLE, logins=logins)

    assert resolved == targets(pg_server, *names)


@pytest.mark.postgres
async def test_refresh_credential_that_was_not_loaded_is_an_error(
    pg_server: ServerUrl, pg_login: Login
) -> None:
    fleet = group(include(MemberKind.SERVER, pg_server, refresh_credential="missing"))

    with pytest.raises(InvalidValue, match="'missing'"):
        await resolve_group(fleet, default_login=pg_login, logins={"other": pg_login})


async def test_unreachable_server_fails_the_whole_group(
    sqlite_fleet: Any, sqlite_server: ServerUrl, closed_port: int
) -> None:
    sqlite_fleet(1)
    fleet = group(
        include(MemberKind.SERVER, sqlite_server),
        include(MemberKind.SERVER, f"postgresql://127.0.0.1:{closed_port}"),
    )

    with pytest.raises(TargetConnectError, match="not reachable") as caught:
        await resolve_group(fleet, default_login=NO_SUCH_ROLE, connect_timeout=5)

    assert caught.value.__cause__ is not None


async def test_failing_member_cancels_the_others(closed_port: int, silent_port: int) -> None:
    fleet = group(
        include(MemberKind.SERVER, f"postgresql://127.0.0.1:{silent_port}"),
        include(MemberKind.SERVER, f"postgresql://127.0.0.1:{closed_port}"),
    )

    with pytest.raises(TargetConnectError, match="not reachable"):
        # The hung server would hold resolution for the whole connect timeout.
        await resolve_group(fleet, default_login=NO_SUCH_ROLE, connect_timeout=60)

    # Nothing is left connecting to the hung server in the background.
    assert asyncio.all_tasks() == {asyncio.current_task()}


async def test_database_members_need_no_connection() -> None:
    fleet = group(
        include(MemberKind.DATABASE, "postgresql://127.0.0.1:1", database="b"),
        include(MemberKind.DATABASE, "mysql://127.0.0.1:1", database="a"),
        include(MemberKind.DATABASE, "postgresql://127.0.0.1:1", database="a"),
    )

    resolved = await resolve_group(fleet, default_login=None)

    assert resolved == [
        Target("mysql://127.0.0.1:1", "a"),
        Target("postgresql://127.0.0.1:1", "a"),
        Target("postgresql://127.0.0.1:1", "b"),
    ]


async def test_empty_group_has_no_targets() -> None:
    assert await resolve_group(group(), default_login=None) == []
