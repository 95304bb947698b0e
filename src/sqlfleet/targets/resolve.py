"""Resolving a target group into the databases (and schemas) a step runs on, right now.

Servers are enumerated when the step starts, so a database created a minute ago is in.
Excludes win over includes: excluding a database also excludes every schema target in it.
Servers are asked in parallel, each question with the connect timeout.
"""

from __future__ import annotations

import asyncio
import fnmatch
from collections.abc import Mapping

from sqlfleet.errors import InvalidValue, TargetError
from sqlfleet.masking import mask_url
from sqlfleet.model import Member, MemberKind, Target, TargetGroup
from sqlfleet.servers import ServerUrl
from sqlfleet.targets import Login, driver_for

CATALOG_QUERY_TIMEOUT_SECONDS = 60.0


async def resolve_group(
    group: TargetGroup,
    *,
    default_login: Login | None,
    logins: Mapping[str, Login] | None = None,
    connect_timeout: float = 30.0,
) -> list[Target]:
    """The sorted, de-duplicated targets of `group`.

    Each member is enumerated with its refresh credential (looked up in `logins`), or with
    `default_login` (the step's credential) when it has none.
    """
    logins = logins or {}
    members_logins = [(m, _login_for(m, default_login, logins)) for m in group.members]
    try:
        # A task group, not gather: when one member fails, the other enumerations are
        # cancelled instead of holding their connections open for nobody.
        async with asyncio.TaskGroup() as tasks:
            expanding = [
                tasks.create_task(_expand(member, login, connect_timeout))
                for member, login in members_logins
            ]
    except ExceptionGroup as failures:
        # Callers expect one sqlfleet error (TargetConnectError, ...), not a group.
        error = failures.exceptions[0]
        raise error from error.__cause__
    included: set[Target] = set()
    excluded: set[Target] = set()
    for member, task in zip(group.members, expanding, strict=True):
        (excluded if member.exclude else included).update(task.result())
    excluded_databases = {(t.server_url, t.database) for t in excluded if t.schema is None}
    return sorted(
        (
            t
            for t in included
            if t not in excluded and (t.server_url, t.database) not in excluded_databases
        ),
        key=_order,
    )


def _order(target: Target) -> tuple[str, str, bool, str]:
    # A database and one of its schemas may both be targets: None and str do not compare.
    return (target.server_url, target.database, target.schema is not None, target.schema or "")


def _login_for(member: Member, default: Login | None, logins: Mapping[str, Login]) -> Login | None:
    if member.refresh_credential is None:
        return default
    try:
        return logins[member.refresh_credential]
    except KeyError:
        raise InvalidValue(
            f"refresh credential {member.refresh_credential!r} was not loaded"
        ) from None


async def _expand(member: Member, login: Login | None, connect_timeout: float) -> list[Target]:
    server = ServerUrl.parse(member.server_url)
    url = str(server)
    driver = driver_for(server)
    if member.kind is MemberKind.DATABASE:
        assert member.database is not None
        return [Target(url, member.database)]
    if member.kind is MemberKind.SERVER:
        names = await driver.list_databases(server, login, connect_timeout=connect_timeout)
        pattern = member.database_pattern
        return [Target(url, n) for n in names if pattern is None or fnmatch.fnmatchcase(n, pattern)]
    if member.kind is MemberKind.SCHEMA:
        assert member.database is not None and member.schema_pattern is not None
        schemas = await driver.list_schemas(
            server, member.database, login, connect_timeout=connect_timeout
        )
        return [
            Target(url, member.database, s)
            for s in schemas
            if fnmatch.fnmatchcase(s, member.schema_pattern)
        ]
    assert member.kind is MemberKind.SHARD_MAP and member.database and member.shard_map_query
    rows = await driver.query(
        server,
        member.database,
        login,
        member.shard_map_query,
        connect_timeout=connect_timeout,
        timeout=CATALOG_QUERY_TIMEOUT_SECONDS,
    )
    return [_shard(url, row, member.database) for row in rows]


def _shard(default_server: str, row: tuple[object, ...], catalog: str) -> Target:
    """A shard-map row: (database) on the catalog's server, or (server URL, database)."""
    if len(row) == 1 and row[0]:
        return Target(default_server, str(row[0]))
    if len(row) == 2 and row[0] and row[1]:
        try:
            server = ServerUrl.parse(str(row[0]))
        except InvalidValue as exc:
            raise TargetError(
                f"shard map in {catalog!r} names a bad server: {exc.message}"
            ) from None
        return Target(str(server), str(row[1]))
    # A catalog's server column may hold a URL with a password: the message quotes it masked.
    shown = tuple(mask_url(v) if isinstance(v, str) else v for v in row)
    raise TargetError(
        f"shard map query on {catalog!r} must return rows of (database) or "
        f"(server URL, database), not {shown!r}"
    )
