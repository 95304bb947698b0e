"""REST API: credentials. A secret goes in and never comes back out."""

from __future__ import annotations

import pytest

from tests.api.conftest import PG, SECRET, Api

URL = "/api/v1/credentials"


def test_credentials_lifecycle_never_shows_the_secret(api: Api) -> None:
    created = api.post(URL, 201, json={"name": "ops", "username": "admin", "secret": SECRET})
    assert created["credential_name"] == "ops"
    assert created["username"] == "admin"
    assert "secret" not in created and "secret_token" not in created

    names = [c["credential_name"] for c in api.get(URL)]
    assert names == ["ops", "pg"]
    assert api.get(f"{URL}/ops")["username"] == "admin"

    assert api.patch(f"{URL}/ops", json={"username": "root"})["username"] == "root"
    api.patch(f"{URL}/ops", json={"secret": SECRET + "-rotated"})
    assert api.fleet.credential_login("ops")[1].reveal() == SECRET + "-rotated"

    api.delete(f"{URL}/ops")
    api.error("GET", f"{URL}/ops", 404, "NotFound")
    # The fixture checks that no response (headers or body) held the secret.


def test_duplicate_and_unknown_credentials(api: Api) -> None:
    message = api.error(
        "POST", URL, 409, "DuplicateName", json={"name": "pg", "username": "x", "secret": "y"}
    )
    assert "pg" in message
    api.error("GET", f"{URL}/nope", 404, "NotFound")
    api.error("PATCH", f"{URL}/nope", 404, "NotFound", json={"username": "x"})
    api.error("DELETE", f"{URL}/nope", 404, "NotFound")


def test_a_credential_in_use_is_not_deleted(sqlite_api: Api) -> None:
    api = sqlite_api
    api.post("/api/v1/target-groups", 201, json={"name": "g"})
    api.post(
        "/api/v1/target-groups/g/members",
        201,
        json={"server": PG, "database": "x", "refresh_credential": "pg"},
    )
    assert "refresh credential" in api.error("DELETE", f"{URL}/pg", 409, "InUse")
    assert [c["credential_name"] for c in api.get(URL)] == ["pg"]


@pytest.mark.parametrize(
    "body",
    [
        {"name": "a", "username": "u"},  # no secret
        {"name": "a", "secret": "s"},  # no user name
        {"name": "a", "username": "u", "secret": "s", "password": "s"},  # unknown field
        {"name": "a/b", "username": "u", "secret": "s"},  # a slash cannot be in a URL path
        {"name": "", "username": "u", "secret": "s"},
        {"name": "a", "username": "u", "secret": "s" * 10_001},  # longer than a secret may be
        {"name": "a", "username": "u\x00", "secret": "s"},
        {"name": "a", "username": "u", "secret": "s\x00"},
        {"name": 5, "username": "u", "secret": "s"},
        {"name": "a" * 129, "username": "u", "secret": "s"},
        [],
    ],
)
def test_malformed_credentials_are_refused(sqlite_api: Api, body: object) -> None:
    message = sqlite_api.error("POST", URL, 422, "ValidationError", json=body)
    assert "body" in message
    assert [c["credential_name"] for c in sqlite_api.get(URL)] == ["pg"]


def test_a_name_with_leading_spaces_is_refused_by_the_python_api(sqlite_api: Api) -> None:
    message = sqlite_api.error(
        "POST", URL, 422, "InvalidValue", json={"name": " a", "username": "u", "secret": "s"}
    )
    assert "spaces" in message


def test_validation_messages_never_echo_a_secret(sqlite_api: Api) -> None:
    message = sqlite_api.error(
        "POST", URL, 422, "ValidationError", json={"name": "a", "username": 1, "secret": SECRET}
    )
    assert SECRET not in message
    sqlite_api.error(
        "POST", URL, 422, "ValidationError", json={"name": "a", "username": "u", "secret": [SECRET]}
    )


def test_an_update_needs_something_to_change(sqlite_api: Api) -> None:
    assert "nothing to change" in sqlite_api.error(
        "PATCH", f"{URL}/pg", 422, "InvalidValue", json={}
    )
    sqlite_api.error("PATCH", f"{URL}/pg", 422, "ValidationError", json={"name": "x"})
    sqlite_api.error("PATCH", f"{URL}/pg", 422, "ValidationError", content=b"not json")
