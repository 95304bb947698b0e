"""Property-based run of the whole REST API from its OpenAPI document: no 5xx, ever.

Each operation of /openapi.json gets generated requests, valid ones and invalid ones, sent to
the app in-process. (Schemathesis' own pytest loader does not work with this pytest, so its
strategies are used with Hypothesis directly.)
"""

from __future__ import annotations

import contextlib
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any, cast

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

from sqlfleet.api import AgentLauncher, create_app
from sqlfleet.errors import DuplicateName, NotFound
from sqlfleet.fleet import Fleet
from sqlfleet.secrets import KEY_ENV, Secret

pytestmark = pytest.mark.timeout(120)

# The document does not depend on the job database: read the operations at collection.
_DOCUMENT = create_app(lambda: cast(Fleet, None)).openapi()
OPERATIONS = [
    (method.upper(), path) for path, methods in _DOCUMENT["paths"].items() for method in methods
]


@pytest.fixture(scope="module")
def fuzzed(
    sqlite_template: Path, secret_key: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Fleet, Any]]:
    """One app for the module and its loaded schema.

    Started executions wait for an agent: nothing runs them, so nothing connects anywhere.
    """
    path = tmp_path_factory.mktemp("schemathesis") / "jobs.db"
    shutil.copyfile(sqlite_template, path)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv(KEY_ENV, secret_key)
        fleet = Fleet.open(f"sqlite:///{path}")
        fleet.secrets  # noqa: B018 -- reads the key while it is set
    # Schemathesis' in-process client calls itself "testserver".
    app = create_app(fleet, launcher=AgentLauncher(), allowed_hosts=["testserver"])
    yield fleet, schemathesis.openapi.from_asgi("/openapi.json", app)
    fleet.close()


def seed(fleet: Fleet) -> dict[str, Any]:
    """Make sure a credential, a group, a job and an execution exist; their path parameters."""
    for make in (
        lambda: fleet.add_credential("pg", "postgres", Secret("unused")),
        lambda: fleet.add_target_group("g"),
        lambda: fleet.add_job("j"),
    ):
        with contextlib.suppress(DuplicateName):
            make()
    members = fleet.get_target_group("g").members
    member = members[0] if members else fleet.add_member("g", server="postgresql://127.0.0.1:1")
    if fleet.get_job("j").step("main") is None:
        with contextlib.suppress(DuplicateName, NotFound):
            fleet.add_step("j", "main", command="SELECT 1", target_group="g", credential="pg")
    executions = fleet.list_executions(job="j", count=1)
    execution = executions[0] if executions else fleet.create_execution("j")
    return {"member_id": member.id, "execution_id": execution.id, "target_execution_id": 1}


def known_names(path: str, ids: dict[str, Any]) -> dict[str, Any]:
    """Path parameters naming what `seed` made, for `path`."""
    names = {"credentials": "pg", "target-groups": "g", "jobs": "j"}
    resource = path.split("/")[3]
    wanted = {"name": names.get(resource, "j"), "step": "main", **ids}
    return {k: v for k, v in wanted.items() if "{" + k + "}" in path}


@pytest.mark.parametrize(("method", "path"), OPERATIONS, ids=[f"{m} {p}" for m, p in OPERATIONS])
@pytest.mark.parametrize("mode", ["positive", "negative", "known names"])
def test_no_request_gets_a_server_error(
    fuzzed: tuple[Fleet, Any], method: str, path: str, mode: str
) -> None:
    fleet, schema = fuzzed
    operation = schema[path][method]
    if mode == "known names":
        strategy = operation.as_strategy(path_parameters=known_names(path, seed(fleet)))
    else:
        strategy = operation.as_strategy(generation_mode=GenerationMode(mode))

    @given(case=strategy)
    @settings(
        max_examples=10,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def check(case: Any) -> None:
        response = case.call()
        status = response.status_code
        if status >= 400:
            error = response.json()["error"]
            assert error["type"] and error["message"]
        if status == 502 and path.endswith("/resolve"):
            # The one 5xx by design: the group names a server that cannot be reached.
            assert error["type"] == "TargetConnectError"
            return
        assert status < 500, (
            f"{case.method} {case.formatted_path} -> {status}: {response.text[:300]}"
        )

    check()
