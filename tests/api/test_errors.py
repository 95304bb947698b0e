"""Errors: every failure is a one-line JSON error with the right status; none is a traceback."""

from __future__ import annotations

import logging

import pytest
from cryptography.fernet import Fernet

from sqlfleet.errors import JobDatabaseUnreachable
from sqlfleet.fleet import Fleet
from sqlfleet.secrets import KEY_ENV
from tests.api.conftest import Api, make_client


def test_unknown_routes_and_methods_are_json_errors(sqlite_api: Api) -> None:
    api = sqlite_api
    assert "/api/v1/nope" in api.error("GET", "/api/v1/nope", 404, "NotFound")
    api.error("PUT", "/api/v1/jobs", 405, "MethodNotAllowed")
    api.error("DELETE", "/api/v1/executions/1", 405, "MethodNotAllowed")


def test_a_bug_is_a_plain_500_and_a_logged_traceback(
    fleet_on_sqlite: Fleet, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken() -> None:
        raise RuntimeError("internal detail 42")

    monkeypatch.setattr(fleet_on_sqlite, "list_jobs", broken)
    with make_client(fleet_on_sqlite) as client, caplog.at_level(logging.ERROR, "sqlfleet.api"):
        response = client.get("/api/v1/jobs")
        page = client.get("/jobs", headers={"accept": "text/html"})
    assert response.status_code == 500
    assert response.json() == {
        "error": {
            "type": "InternalError",
            "message": "internal error: the server log has the details",
        }
    }
    assert page.status_code == 500
    for text in (response.text, page.text):
        assert "internal detail" not in text and "Traceback" not in text
    assert "internal detail 42" in caplog.text and "Traceback" in caplog.text


def test_job_database_problems_are_503s(
    fleet_on_sqlite: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    def unreachable() -> None:
        raise JobDatabaseUnreachable("cannot reach the job database sqlite:///x: disk I/O error")

    monkeypatch.setattr(fleet_on_sqlite, "list_credentials", unreachable)
    with make_client(fleet_on_sqlite) as client:
        api = Api(client, fleet_on_sqlite)
        assert "disk I/O" in api.error("GET", "/api/v1/credentials", 503, "JobDatabaseUnreachable")


def test_a_wrong_secret_key_is_a_503_that_stores_nothing(
    fleet_on_sqlite: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(KEY_ENV, Fernet.generate_key().decode())
    with make_client(fleet_on_sqlite) as client:
        api = Api(client, fleet_on_sqlite)
        body = {"name": "a", "username": "u", "secret": "s"}
        message = api.error("POST", "/api/v1/credentials", 503, "SecretKeyError", json=body)
        assert "cannot decrypt" in message
        assert api.get("/api/v1/credentials") == []


def test_malformed_json_is_a_422(sqlite_api: Api) -> None:
    message = sqlite_api.error(
        "POST",
        "/api/v1/target-groups",
        422,
        "ValidationError",
        content=b'{"name": ',
        headers={"content-type": "application/json"},
    )
    assert "JSON" in message
    sqlite_api.error(
        "POST",
        "/api/v1/target-groups",
        422,
        "ValidationError",
        content=b"name=g",
        headers={"content-type": "application/x-www-form-urlencoded"},
    )


@pytest.mark.parametrize(
    "path",
    ["/api/v1/jobs/a%00b", "/api/v1/credentials/%0a", "/api/v1/target-groups/" + "x" * 200],
)
def test_names_that_cannot_exist_are_refused(sqlite_api: Api, path: str) -> None:
    sqlite_api.error("GET", path, 422, "ValidationError")


def test_the_openapi_document_lists_every_route(sqlite_api: Api) -> None:
    document = sqlite_api.get("/openapi.json")
    paths = document["paths"]
    assert set(paths) == {
        "/api/v1/credentials",
        "/api/v1/credentials/{name}",
        "/api/v1/target-groups",
        "/api/v1/target-groups/{name}",
        "/api/v1/target-groups/{name}/members",
        "/api/v1/target-groups/{name}/members/{member_id}",
        "/api/v1/target-groups/{name}/resolve",
        "/api/v1/jobs",
        "/api/v1/jobs/{name}",
        "/api/v1/jobs/{name}/enable",
        "/api/v1/jobs/{name}/disable",
        "/api/v1/jobs/{name}/versions",
        "/api/v1/jobs/{name}/executions",
        "/api/v1/jobs/{name}/steps",
        "/api/v1/jobs/{name}/steps/{step}",
        "/api/v1/executions",
        "/api/v1/executions/{execution_id}",
        "/api/v1/executions/{execution_id}/stop",
        "/api/v1/executions/{execution_id}/targets",
        "/api/v1/executions/{execution_id}/targets/{target_execution_id}",
        "/api/v1/executions/{execution_id}/targets/{target_execution_id}/attempts",
        "/api/v1/executions/{execution_id}/targets/{target_execution_id}/result",
        "/api/v1/executions/{execution_id}/targets/{target_execution_id}/retry-now",
        "/api/v1/executions/{execution_id}/results",
        "/api/v1/executions/{execution_id}/results.csv",
        "/api/v1/executions/{execution_id}/rerun",
        "/api/v1/jobs/{name}/preview",
    }
    assert "HTTPBearer" in document["components"]["securitySchemes"]
    # Swagger UI and ReDoc would fetch their assets from the internet.
    sqlite_api.error("GET", "/docs", 404, "NotFound")
