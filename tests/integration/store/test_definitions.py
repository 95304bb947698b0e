"""The JobStore's contract for definitions, run on a SQLite and a PostgreSQL job database."""

from __future__ import annotations

import pytest

from sqlfleet.errors import DuplicateName, InUse, InvalidServerUrl, InvalidValue, NotFound
from sqlfleet.fleet import Fleet
from sqlfleet.model import MemberKind, Membership, OutputDestination
from sqlfleet.schedule import Schedule
from sqlfleet.secrets import Secret


def _group_with_credential(fleet: Fleet) -> None:
    fleet.add_credential("admin", "postgres", Secret("pw"))
    fleet.add_target_group("tenants")
    fleet.add_member("tenants", server="postgresql://127.0.0.1:5432")


def test_credentials_round_trip(fleet: Fleet) -> None:
    fleet.add_credential("admin", "root", Secret("first"))
    fleet.add_credential("reader", "ro", Secret("second"))
    assert [c.name for c in fleet.list_credentials()] == ["admin", "reader"]
    assert fleet.credential_login("admin") == ("root", Secret("first"))

    fleet.update_credential("admin", username="root2", secret=Secret("third"))
    assert fleet.credential_login("admin") == ("root2", Secret("third"))

    fleet.remove_credential("reader")
    assert [c.name for c in fleet.list_credentials()] == ["admin"]


def test_duplicate_and_unknown_credentials(fleet: Fleet) -> None:
    fleet.add_credential("admin", "root", Secret("pw"))
    with pytest.raises(DuplicateName, match="'admin' already exists"):
        fleet.add_credential("admin", "other", Secret("pw2"))
    assert fleet.credential_login("admin") == ("root", Secret("pw"))
    with pytest.raises(NotFound, match="no credential named 'ghost'"):
        fleet.update_credential("ghost", username="x")
    with pytest.raises(NotFound):
        fleet.remove_credential("ghost")


def test_credential_in_use_cannot_be_removed(fleet: Fleet) -> None:
    _group_with_credential(fleet)
    fleet.add_job("nightly")
    fleet.add_step("nightly", "s1", command="SELECT 1", target_group="tenants", credential="admin")
    with pytest.raises(InUse, match="used by job 'nightly'"):
        fleet.remove_credential("admin")
    with pytest.raises(InUse, match="used by job 'nightly'"):
        fleet.remove_target_group("tenants")
    assert [c.name for c in fleet.list_credentials()] == ["admin"]


def test_target_group_members(fleet: Fleet) -> None:
    fleet.add_credential("lister", "postgres", Secret("pw"))
    fleet.add_target_group("tenants")
    server = fleet.add_member(
        "tenants",
        server="postgresql://127.0.0.1",
        database_pattern="tenant_*",
        refresh_credential="lister",
    )
    excluded = fleet.add_member(
        "tenants", server="postgresql://127.0.0.1:5432", database="tenant_9", exclude=True
    )
    schemas = fleet.add_member(
        "tenants", server="postgresql://127.0.0.1", database="app", schema_pattern="t_*"
    )
    shards = fleet.add_member(
        "tenants",
        server="mysql://127.0.0.1",
        database="catalog",
        shard_map_query="SELECT db FROM shards",
    )
    group = fleet.get_target_group("tenants")
    assert [m.kind for m in group.members] == [
        MemberKind.SERVER,
        MemberKind.DATABASE,
        MemberKind.SCHEMA,
        MemberKind.SHARD_MAP,
    ]
    assert server.server_url == "postgresql://127.0.0.1:5432"
    assert server.refresh_credential == "lister"
    assert excluded.membership is Membership.EXCLUDE
    assert schemas.schema_pattern == "t_*"
    assert shards.server_url == "mysql://127.0.0.1:3306"

    fleet.remove_member("tenants", excluded.id)
    assert excluded.id not in [m.id for m in fleet.get_target_group("tenants").members]
    with pytest.raises(NotFound, match="no member"):
        fleet.remove_member("tenants", excluded.id)


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("postgresql://user:secret@host:5432", "must not contain a password"),
        ("http://host", "unknown engine"),
        ("host:5432", "has no scheme"),
        ("postgresql://host:99999", "malformed"),
        ("postgresql://host:0", "port must be a number from 1 to 65535"),
        ("postgresql://host:abc", "port must be a number from 1 to 65535"),
        ("postgresql://[::1", "malformed"),
        ("postgresql://[::1]x", "malformed"),
        ("postgresql://host\n:5432", "control character"),
        ("postgresql://ho\tst:5432", "control character"),
        ("postgresql://host:5432\n", "control character"),
        ("postgresql://:5432", "names no host"),
        ("postgresql://host/db", "must not name a database"),
        ("sqlite://relative/folder", "three slashes"),
    ],
)
def test_bad_server_urls_are_refused(fleet: Fleet, url: str, message: str) -> None:
    fleet.add_target_group("tenants")
    with pytest.raises(InvalidServerUrl, match=message) as caught:
        fleet.add_member("tenants", server=url)
    assert "secret" not in str(caught.value)
    assert fleet.get_target_group("tenants").members == ()


def test_member_option_combinations(fleet: Fleet) -> None:
    fleet.add_target_group("g")
    with pytest.raises(InvalidValue, match="needs --database"):
        fleet.add_member("g", server="postgresql://h", schema_pattern="t_*")
    with pytest.raises(InvalidValue, match="not both"):
        fleet.add_member("g", server="postgresql://h", database="a", database_pattern="b*")
    with pytest.raises(NotFound, match="no credential"):
        fleet.add_member("g", server="postgresql://h", refresh_credential="ghost")
    with pytest.raises(NotFound, match="no target group"):
        fleet.add_member("ghost", server="postgresql://h")
    assert fleet.get_target_group("g").members == ()


def test_job_versions_keep_old_steps(fleet: Fleet) -> None:
    _group_with_credential(fleet)
    job = fleet.add_job("nightly", description="d", schedule=Schedule.parse("every 5 minutes"))
    assert job.version == 1 and job.steps == () and job.enabled is False
    job = fleet.add_step(
        "nightly", "one", command="SELECT 1", target_group="tenants", credential="admin"
    )
    assert job.version == 2
    job = fleet.add_step(
        "nightly",
        "two",
        command="SELECT 2",
        target_group="tenants",
        credential="admin",
        retry_attempts=3,
        max_parallelism=4,
        output=OutputDestination("postgresql://127.0.0.1", "results", "out", "admin", "public"),
    )
    assert job.version == 3
    job = fleet.update_step("nightly", "one", command="SELECT 11", step_timeout_seconds=60)
    assert job.version == 4
    one = job.step("one")
    assert one is not None
    assert one.settings.command == "SELECT 11"
    assert one.settings.step_timeout_seconds == 60
    assert one.settings.retry.retry_attempts == 10  # untouched default

    old = fleet.get_job("nightly", version=3)
    old_one = old.step("one")
    assert old_one is not None and old_one.settings.command == "SELECT 1"
    assert [v.version for v in fleet.job_versions("nightly")] == [1, 2, 3, 4]

    job = fleet.remove_step("nightly", "one")
    assert job.version == 5
    assert [(s.step_id, s.name) for s in job.steps] == [(1, "two")]
    two = job.step("two")
    assert two is not None and two.settings.output is not None
    assert two.settings.output.table == "out" and two.settings.max_parallelism == 4

    job = fleet.update_job("nightly", enabled=True, description="new")
    assert (job.version, job.enabled, job.description) == (6, True, "new")
    assert len(job.steps) == 1


def test_step_errors_leave_job_unchanged(fleet: Fleet) -> None:
    _group_with_credential(fleet)
    fleet.add_job("nightly")
    fleet.add_step("nightly", "one", command="SELECT 1", target_group="tenants", credential="admin")
    cases = [
        (DuplicateName, dict(name="one", command="x", target_group="tenants", credential="admin")),
        (NotFound, dict(name="b", command="x", target_group="ghost", credential="admin")),
        (NotFound, dict(name="b", command="x", target_group="tenants", credential="ghost")),
        (
            InvalidValue,
            dict(name="b", command="  \nGO\n", target_group="tenants", credential="admin"),
        ),
        (
            InvalidValue,
            dict(
                name="b", command="x", target_group="tenants", credential="admin", retry_attempts=-1
            ),
        ),
        (
            InvalidValue,
            dict(
                name="b",
                command="x",
                target_group="tenants",
                credential="admin",
                step_timeout_seconds=0,
            ),
        ),
        (
            InvalidValue,
            dict(
                name="b",
                command="x",
                target_group="tenants",
                credential="admin",
                max_parallelism=-2,
            ),
        ),
    ]
    for error, kwargs in cases:
        name = kwargs.pop("name")
        with pytest.raises(error):
            fleet.add_step("nightly", name, **kwargs)
    job = fleet.get_job("nightly")
    assert job.version == 2 and [s.name for s in job.steps] == ["one"]


def test_jobs_duplicate_rename_remove(fleet: Fleet) -> None:
    fleet.add_job("a")
    fleet.add_job("b")
    with pytest.raises(DuplicateName):
        fleet.add_job("a")
    with pytest.raises(DuplicateName):
        fleet.update_job("b", new_name="a")
    fleet.update_job("b", new_name="c")
    assert [j.name for j in fleet.list_jobs()] == ["a", "c"]
    fleet.remove_job("a")
    with pytest.raises(NotFound):
        fleet.get_job("a")
    with pytest.raises(NotFound, match="no version 9"):
        fleet.get_job("c", version=9)


def test_job_with_steps_is_created_whole_or_not_at_all(fleet: Fleet) -> None:
    _group_with_credential(fleet)
    step = {"command": "SELECT 1", "target_group": "tenants", "credential": "admin"}
    job = fleet.add_job("both", steps=[("one", step), ("two", {**step, "retry_attempts": 1})])
    assert job.version == 1 and [s.name for s in job.steps] == ["one", "two"]
    with pytest.raises(NotFound, match="no target group named 'ghost'"):
        fleet.add_job("half", steps=[("one", step), ("two", {**step, "target_group": "ghost"})])
    with pytest.raises(DuplicateName, match="two steps named 'one'"):
        fleet.add_job("twice", steps=[("one", step), ("one", step)])
    assert [j.name for j in fleet.list_jobs()] == ["both"]


def test_moving_a_step_makes_a_version_and_keeps_the_others_in_order(fleet: Fleet) -> None:
    _group_with_credential(fleet)
    step = {"command": "SELECT 1", "target_group": "tenants", "credential": "admin"}
    fleet.add_job("j", steps=[(name, step) for name in ("a", "b", "c")])
    moved = fleet.move_step("j", "c", 1)
    assert [s.name for s in moved.steps] == ["c", "a", "b"]
    assert [s.step_id for s in moved.steps] == [1, 2, 3] and moved.version == 2
    assert [s.name for s in fleet.get_job("j", 1).steps] == ["a", "b", "c"]
    assert fleet.move_step("j", "c", 1).version == 2  # already there: no new version
    with pytest.raises(InvalidValue, match="position must be 1 to 3"):
        fleet.move_step("j", "a", 4)
    with pytest.raises(NotFound):
        fleet.move_step("j", "nope", 1)
    assert fleet.get_job("j").version == 2
