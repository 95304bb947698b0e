"""REST API: target groups, their members, and resolving them against real PostgreSQL."""

from __future__ import annotations

from typing import Any

import pytest

from tests.api.conftest import PG, Api, one_step_job

URL = "/api/v1/target-groups"


def test_target_group_with_members(api: Api) -> None:
    created = api.post(URL, 201, json={"name": "tenants"})
    assert created == {
        "target_group_name": "tenants",
        "target_group_id": created["target_group_id"],
        "members": [],
    }
    server = api.post(f"{URL}/tenants/members", 201, json={"server": PG, "database_pattern": "t_*"})
    assert server["target_type"] == "server"
    assert server["membership_type"] == "include"
    assert server["database_pattern"] == "t_*"
    excluded = api.post(
        f"{URL}/tenants/members", 201, json={"server": PG, "database": "t_9", "exclude": True}
    )
    assert (excluded["target_type"], excluded["membership_type"]) == ("database", "exclude")
    schemas = api.post(
        f"{URL}/tenants/members",
        201,
        json={
            "server": PG,
            "database": "one",
            "schema_pattern": "tenant_*",
            "refresh_credential": "pg",
        },
    )
    assert schemas["target_type"] == "schema"
    assert schemas["refresh_credential_name"] == "pg"
    shard = api.post(
        f"{URL}/tenants/members",
        201,
        json={"server": PG, "database": "catalog", "shard_map_query": "SELECT name FROM shards"},
    )
    assert shard["target_type"] == "shard-map"

    group = api.get(f"{URL}/tenants")
    assert [m["target_id"] for m in group["members"]] == [
        server["target_id"],
        excluded["target_id"],
        schemas["target_id"],
        shard["target_id"],
    ]
    assert [g["target_group_name"] for g in api.get(URL)] == ["tenants"]

    api.delete(f"{URL}/tenants/members/{excluded['target_id']}")
    assert len(api.get(f"{URL}/tenants")["members"]) == 3
    api.error("DELETE", f"{URL}/tenants/members/{excluded['target_id']}", 404, "NotFound")
    api.delete(f"{URL}/tenants")
    api.error("GET", f"{URL}/tenants", 404, "NotFound")


def test_duplicate_unknown_and_in_use_groups(sqlite_api: Api) -> None:
    api = sqlite_api
    api.post(URL, 201, json={"name": "g"})
    api.error("POST", URL, 409, "DuplicateName", json={"name": "g"})
    api.error("GET", f"{URL}/nope", 404, "NotFound")
    api.error("DELETE", f"{URL}/nope", 404, "NotFound")
    api.error("POST", f"{URL}/nope/members", 404, "NotFound", json={"server": PG})
    api.error("DELETE", f"{URL}/nope/members/1", 404, "NotFound")
    api.error("POST", f"{URL}/nope/resolve", 404, "NotFound")
    one_step_job(api, "j", "g", "SELECT 1")
    assert "j" in api.error("DELETE", f"{URL}/g", 409, "InUse")


@pytest.mark.parametrize(
    ("member", "kind", "words"),
    [
        ({"server": "db1:5432"}, "InvalidServerUrl", "no scheme"),
        ({"server": "oracle://db1"}, "InvalidServerUrl", "unknown engine"),
        ({"server": "postgresql://u:pw@db1"}, "InvalidServerUrl", "password"),
        ({"server": PG, "database": "a", "database_pattern": "b"}, "InvalidValue", "not both"),
        ({"server": PG, "schema_pattern": "s_*"}, "InvalidValue", "needs --database"),
        ({"server": PG, "shard_map_query": "SELECT 1"}, "InvalidValue", "needs --database"),
        ({"server": PG, "refresh_credential": "nope"}, "NotFound", "nope"),
        ({"server": PG, "database": ""}, "ValidationError", "database"),
        ({"server": PG, "database": "a\x00"}, "ValidationError", "NUL"),
        ({"server": PG, "exclude": "perhaps"}, "ValidationError", "exclude"),
        ({"server": PG, "port": 5432}, "ValidationError", "port"),
        ({}, "ValidationError", "server"),
    ],
)
def test_bad_members_are_refused(
    sqlite_api: Api, member: dict[str, Any], kind: str, words: str
) -> None:
    api = sqlite_api
    api.post(URL, 201, json={"name": "g"})
    status = {"NotFound": 404}.get(kind, 422)
    message = api.error("POST", f"{URL}/g/members", status, kind, json=member)
    assert words in message
    assert api.get(f"{URL}/g")["members"] == []


@pytest.mark.parametrize(
    "path",
    [f"{URL}/g/members/0", f"{URL}/g/members/x", f"{URL}/g/members/99999999999999999999"],
)
def test_bad_member_ids_are_refused(sqlite_api: Api, path: str) -> None:
    sqlite_api.post(URL, 201, json={"name": "g"})
    sqlite_api.error("DELETE", path, 422, "ValidationError")


def test_resolve_lists_the_databases_now(
    sqlite_api: Api, pg_targets: list[str], pg_fleet: Any
) -> None:
    api = sqlite_api
    names = pg_targets
    prefix = names[0].rsplit("_", 1)[0]
    api.post(URL, 201, json={"name": "g"})
    api.post(f"{URL}/g/members", 201, json={"server": PG, "database_pattern": f"{prefix}_*"})
    api.post(f"{URL}/g/members", 201, json={"server": PG, "database": names[1], "exclude": True})

    targets = api.post(f"{URL}/g/resolve", 200, json={"credential": "pg"})

    assert [t["target_database_name"] for t in targets] == [names[0], names[2]]
    assert targets[0] == {
        "target_type": "database",
        "target_server_name": PG,
        "target_database_name": names[0],
        "target_schema_name": None,
        "target_variables": {},
    }
    late = pg_fleet(1, prefix=f"{prefix}_late")[0]
    assert late in [
        t["target_database_name"]
        for t in api.post(f"{URL}/g/resolve", 200, json={"credential": "pg"})
    ]


def test_resolve_needs_a_known_credential(sqlite_api: Api) -> None:
    api = sqlite_api
    api.post(URL, 201, json={"name": "g"})
    api.post(f"{URL}/g/members", 201, json={"server": PG, "database": "x"})
    assert api.post(f"{URL}/g/resolve", 200) == [
        {
            "target_type": "database",
            "target_server_name": PG,
            "target_database_name": "x",
            "target_schema_name": None,
            "target_variables": {},
        }
    ]
    api.error("POST", f"{URL}/g/resolve", 404, "NotFound", json={"credential": "nope"})
    api.error("POST", f"{URL}/g/resolve", 422, "ValidationError", json={"credential": 3})


def test_resolve_reports_an_unreachable_server_as_a_gateway_error(
    sqlite_api: Api, closed_port: int
) -> None:
    api = sqlite_api
    api.post(URL, 201, json={"name": "g"})
    api.post(f"{URL}/g/members", 201, json={"server": f"postgresql://127.0.0.1:{closed_port}"})
    message = api.error(
        "POST", f"{URL}/g/resolve", 502, "TargetConnectError", json={"credential": "pg"}
    )
    assert str(closed_port) in message
