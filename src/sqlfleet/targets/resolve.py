"""Resolving a target group into the databases (and schemas) a step runs on, right now.

Servers are enumerated when the step starts, so a database created a minute ago is in.
Excludes win over includes: excluding a database also excludes every schema target in it,
whatever variables it carries. Servers are asked in parallel, each question with the
connect timeout.

A target carries variables of its own (see `sqlfleet.variables`): a database member's fixed
ones, and a shard map's columns other than `database`, `server` and `schema`. A target named
by several members gets the variables of all of them; the same variable with two different
values is an error, since nobody could say which one the script should get.
"""

from __future__ import annotations

import asyncio
import dataclasses
import fnmatch
from collections.abc import Mapping, Sequence
from typing import Any

from sqlfleet import limits
from sqlfleet.errors import InvalidValue, TargetError
from sqlfleet.masking import mask_url
from sqlfleet.model import Member, MemberKind, Target, TargetGroup
from sqlfleet.servers import ServerUrl
from sqlfleet.targets import Login, driver_for
from sqlfleet.targets.base import fetch_result
from sqlfleet.variables import LOCATION_COLUMNS, as_text, check_name, check_value, shown

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
    # Targets compare by where they are, so these look at the place alone, not the variables.
    included: dict[Target, Target] = {}
    excluded: set[Target] = set()
    for member, task in zip(group.members, expanding, strict=True):
        if member.exclude:
            excluded.update(task.result())
            continue
        for target in task.result():
            seen = included.get(target)
            included[target] = target if seen is None else _merged(seen, target)
    excluded_databases = {(t.server_url, t.database) for t in excluded if t.schema is None}
    return sorted(
        (
            t
            for t in included.values()
            if t not in excluded and (t.server_url, t.database) not in excluded_databases
        ),
        key=_order,
    )


def _merged(seen: Target, again: Target) -> Target:
    """A target named twice: the variables of both, which must agree where both have one."""
    if again.variables == seen.variables or not again.variables:
        return seen
    variables = seen.variable_map
    for name, value in again.variables:
        if name in variables and variables[name] != value:
            raise TargetError(
                f"{seen} is named twice with different values of $({name}): "
                f"{limits.shown(shown(variables[name]))} and {limits.shown(shown(value))}; "
                "a target's variables must agree wherever it is named"
            )
        variables[name] = value
    return dataclasses.replace(seen, variables=tuple(variables.items()))


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
        return [Target(url, member.database, variables=member.variables)]
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
    result = await fetch_result(
        driver,
        server,
        member.database,
        login,
        member.shard_map_query,
        connect_timeout=connect_timeout,
        timeout=CATALOG_QUERY_TIMEOUT_SECONDS,
    )
    return shard_targets(url, result.columns, result.rows, member.database)


def shard_targets(
    default_server: str, columns: Sequence[str], rows: Sequence[Sequence[Any]], catalog: str
) -> list[Target]:
    """The targets a shard map's rows name.

    When a column is called `database` (any case), columns are read by name: `database`,
    optionally `server` (a server URL; NULL: the catalog's server) and `schema` (NULL: the
    database itself), and every other column is a variable of the row's target. Otherwise
    rows are read by position: (database) on the catalog's server, or (server, database).
    """
    where = {str(name).lower(): i for i, name in enumerate(columns)}
    located = [name for name in LOCATION_COLUMNS if name in where]
    if "database" not in where:
        if located:
            raise TargetError(
                f"shard map query on {catalog!r} returns a {located[0]!r} column but no "
                "'database' column: name the column that holds each database `database`"
            )
        return [_shard(default_server, tuple(row), catalog) for row in rows]
    names = _variable_columns(columns, catalog)
    return [_named_shard(default_server, row, where, names, catalog) for row in rows]


def _variable_columns(columns: Sequence[str], catalog: str) -> list[tuple[int, str]]:
    """(position, name) of the columns that are variables, each name checked."""
    seen: dict[str, str] = {}
    found = []
    for i, column in enumerate(columns):
        name = str(column)
        if name.lower() in seen:
            raise TargetError(
                f"shard map query on {catalog!r} returns two columns named "
                f"{seen[name.lower()]!r} and {name!r}: give each column a name of its own"
            )
        seen[name.lower()] = name
        if name.lower() in LOCATION_COLUMNS:
            continue
        try:
            check_name(name)
        except InvalidValue as exc:
            raise TargetError(
                f"shard map query on {catalog!r}: column {limits.shown(name)} cannot be a "
                f"variable: {exc.message} (name it with AS)"
            ) from None
        found.append((i, name))
    if len(found) > limits.MAX_VARIABLES:
        raise TargetError(
            f"shard map query on {catalog!r} returns {len(found)} variable columns: a target "
            f"has at most {limits.MAX_VARIABLES} variables"
        )
    return found


def _named_shard(
    default_server: str,
    row: Sequence[Any],
    where: dict[str, int],
    names: list[tuple[int, str]],
    catalog: str,
) -> Target:
    database = as_text(row[where["database"]])
    if not database:
        raise TargetError(
            f"shard map query on {catalog!r} returned a row whose database is "
            f"{'NULL' if database is None else 'empty'}"
        )
    server = default_server
    raw_server = as_text(row[where["server"]]) if "server" in where else None
    if raw_server:
        try:
            server = str(ServerUrl.parse(raw_server))
        except InvalidValue as exc:
            raise TargetError(
                f"shard map in {catalog!r} names a bad server: {exc.message}"
            ) from None
    schema = as_text(row[where["schema"]]) if "schema" in where else None
    variables: list[tuple[str, str | None]] = []
    for i, name in names:
        try:
            variables.append((name, check_value(name, as_text(row[i]), null=True)))
        except InvalidValue as exc:
            target = Target(server, database, schema or None)
            raise TargetError(
                f"shard map query on {catalog!r}, target {target}: {exc.message}"
            ) from None
    return Target(server, database, schema or None, tuple(variables))


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
