"""Security: the API token, the web login, CSRF and cross-site defenses, `sqlfleet web`."""

from __future__ import annotations

import base64
import json
import re
import socket

import pytest
from fastapi.testclient import TestClient
from httpx import Response

from sqlfleet.api.app import SESSION_COOKIE
from sqlfleet.api.sessions import MAX_FLASH_SESSIONS, MAX_FLASHES, SessionStore
from sqlfleet.fleet import Fleet
from tests.api.conftest import SECRET, Api, make_client
from tests.cli_runner import Cli

TOKEN = "t0ken-for-the-tests-only"
HTML = {"accept": "text/html"}


def csrf_of(page: str) -> str:
    """The CSRF token of the first form on a page."""
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match, "the page has no form with a CSRF token"
    return match.group(1)


@pytest.fixture
def guarded(fleet_on_sqlite: Fleet) -> TestClient:
    """A client on an app with a token, as `sqlfleet web --host 0.0.0.0` serves it."""
    with make_client(fleet_on_sqlite, token=TOKEN) as client:
        yield client


def test_the_api_needs_the_bearer_token(guarded: TestClient) -> None:
    for headers in (
        {},
        {"Authorization": "Bearer wrong"},
        {"Authorization": TOKEN},
        {"Authorization": f"Basic {TOKEN}"},
    ):
        response = guarded.get("/api/v1/jobs", headers=headers)
        assert response.status_code == 401, headers
        assert response.json()["error"]["type"] == "Unauthorized"
        assert response.headers["www-authenticate"] == "Bearer"
        assert TOKEN not in response.text
    assert guarded.post("/api/v1/target-groups", json={"name": "g"}).status_code == 401
    ok = guarded.get("/api/v1/jobs", headers={"Authorization": f"Bearer {TOKEN}"})
    assert ok.status_code == 200 and ok.json() == []
    # Any host name is served once a token guards the server.
    other = guarded.get(
        "/api/v1/jobs", headers={"Authorization": f"Bearer {TOKEN}", "host": "fleet.example.com"}
    )
    assert other.status_code == 200


def test_the_pages_need_a_login_with_the_token(guarded: TestClient) -> None:
    first = guarded.get("/jobs", headers=HTML, follow_redirects=False)
    assert first.status_code == 303 and first.headers["location"] == "/login?next=/jobs"
    assert guarded.get("/executions/1/live.json").status_code == 401

    login = guarded.get("/login?next=/credentials", headers=HTML)
    assert login.status_code == 200 and "Sign in" in login.text
    token = csrf_of(login.text)
    wrong = guarded.post(
        "/login", data={"csrf_token": token, "token": "nope", "next": "/credentials"}
    )
    assert wrong.status_code == 401 and "not the server" in wrong.text
    no_csrf = guarded.post("/login", data={"token": TOKEN, "next": "/credentials"}, headers=HTML)
    assert no_csrf.status_code == 403

    signed = guarded.post(
        "/login",
        data={"csrf_token": token, "token": TOKEN, "next": "/credentials"},
        follow_redirects=False,
    )
    assert signed.status_code == 303 and signed.headers["location"] == "/credentials"
    assert guarded.get("/credentials", headers=HTML).status_code == 200
    # The session is for pages; the API still wants the bearer token.
    assert guarded.get("/api/v1/jobs").status_code == 401

    page = guarded.get("/jobs", headers=HTML)
    out = guarded.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert guarded.get("/jobs", headers=HTML, follow_redirects=False).status_code == 303


def sign_in(client: TestClient) -> None:
    login = client.get("/login", headers=HTML)
    signed = client.post(
        "/login",
        data={"csrf_token": csrf_of(login.text), "token": TOKEN, "next": "/jobs"},
        follow_redirects=False,
    )
    assert signed.status_code == 303


def decode_session_cookie(set_cookie: str) -> dict[str, object]:
    """A `Set-Cookie` of the session: its signed (not encrypted) JSON, read as anyone could."""
    value = set_cookie.split(";", 1)[0].split("=", 1)[1]
    contents: dict[str, object] = json.loads(base64.b64decode(value.split(".", 1)[0]))
    return contents


def cookie_contents(response: Response) -> dict[str, object]:
    """What the session cookie set by `response` says."""
    [set_cookie] = [
        v
        for k, v in response.headers.multi_items()
        if k == "set-cookie" and v.startswith(f"{SESSION_COOKIE}=")
    ]
    return decode_session_cookie(set_cookie)


def test_signing_out_revokes_every_copy_of_the_session_cookie(guarded: TestClient) -> None:
    sign_in(guarded)
    stolen = TestClient(guarded.app, base_url="http://127.0.0.1")
    stolen.cookies.set(SESSION_COOKIE, guarded.cookies[SESSION_COOKIE])
    assert stolen.get("/jobs", headers=HTML).status_code == 200
    csrf = csrf_of(stolen.get("/target-groups", headers=HTML).text)

    page = guarded.get("/jobs", headers=HTML)
    out = guarded.post("/logout", data={"csrf_token": csrf_of(page.text)}, follow_redirects=False)
    assert out.status_code == 303 and out.headers["location"] == "/login"
    assert "Signed out." in guarded.get("/login", headers=HTML).text

    # The copy still carries a valid signature, but its session has ended on the server.
    refused = stolen.get("/jobs", headers=HTML, follow_redirects=False)
    assert refused.status_code == 303 and refused.headers["location"] == "/login?next=/jobs"
    assert stolen.get("/executions/1/live.json").status_code == 401
    made = stolen.post(
        "/target-groups", data={"name": "g", "csrf_token": csrf}, follow_redirects=False
    )
    assert made.status_code == 303 and made.headers["location"].startswith("/login")
    assert stolen.get("/login", headers=HTML).status_code == 200  # the sign-in form again

    # Signing in again makes a new session; the old copy stays refused.
    sign_in(guarded)
    assert guarded.get("/jobs", headers=HTML).status_code == 200
    assert stolen.get("/jobs", headers=HTML, follow_redirects=False).status_code == 303


def test_signing_in_again_makes_a_new_session_id(guarded: TestClient) -> None:
    sign_in(guarded)
    first = TestClient(guarded.app, base_url="http://127.0.0.1")
    first.cookies.set(SESSION_COOKIE, guarded.cookies[SESSION_COOKIE])
    page = guarded.get("/jobs", headers=HTML)
    again = guarded.post(
        "/login",
        data={"csrf_token": csrf_of(page.text), "token": TOKEN, "next": "/jobs"},
        follow_redirects=False,
    )
    assert again.status_code == 303
    assert set(cookie_contents(again)) == {"sid", "csrf"}
    assert guarded.get("/jobs", headers=HTML).status_code == 200
    # The session signed in before is over: no fixation, no second life.
    assert first.get("/jobs", headers=HTML, follow_redirects=False).status_code == 303


def test_the_session_cookie_holds_random_ids_only(sqlite_api: Api) -> None:
    client = sqlite_api.client
    typed = "typed-by-the-user-7f3a"
    page = client.get("/target-groups", headers=HTML)
    made = client.post(
        "/target-groups",
        data={"name": typed, "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    assert made.status_code == 303
    failed = client.post(
        f"/target-groups/{typed}/members",
        data={"server": f"nowhere-{typed}", "csrf_token": csrf_of(page.text)},
        follow_redirects=False,
    )
    for response in (page, made, failed):
        if "set-cookie" in response.headers:
            contents = cookie_contents(response)
            assert set(contents) <= {"sid", "csrf"}, contents
            assert typed not in json.dumps(contents)
    shown = client.get(f"/target-groups/{typed}", headers=HTML).text
    assert f"Target group {typed} created" in shown and "has no scheme" in shown
    # A flash is shown once.
    assert "has no scheme" not in client.get(f"/target-groups/{typed}", headers=HTML).text


def test_sessions_expire_and_flashes_are_bounded() -> None:
    now = [0.0]
    store = SessionStore(max_age=100, clock=lambda: now[0])
    store.sign_in("a")
    now[0] = 99.0
    assert store.is_signed_in("a") and not store.is_signed_in("b")
    assert not store.is_signed_in(None)
    now[0] = 100.0
    assert not store.is_signed_in("a")
    store.sign_in("a")
    store.end("a")
    assert not store.is_signed_in("a")

    for i in range(MAX_FLASHES + 5):
        store.add_flash("a", "ok", f"message {i}")
    flashes = store.pop_flashes("a")
    assert len(flashes) == MAX_FLASHES and flashes[-1] == ("ok", f"message {MAX_FLASHES + 4}")
    assert store.pop_flashes("a") == []
    for i in range(MAX_FLASH_SESSIONS + 1):
        store.add_flash(str(i), "ok", "m")
    assert store.pop_flashes("0") == [] and store.pop_flashes("1") == [("ok", "m")]


def test_login_redirects_stay_on_this_site(guarded: TestClient) -> None:
    for evil in ("https://evil.example/", "//evil.example/", "/\\evil.example"):
        browser = TestClient(guarded.app, base_url="http://127.0.0.1")
        login = browser.get("/login", headers=HTML)
        response = browser.post(
            "/login",
            data={"csrf_token": csrf_of(login.text), "token": TOKEN, "next": evil},
            follow_redirects=False,
        )
        assert response.headers["location"] == "/", evil


def test_forms_need_the_session_csrf_token(sqlite_api: Api) -> None:
    client = sqlite_api.client
    page = client.get("/target-groups", headers=HTML)
    token = csrf_of(page.text)
    for data in (
        {"name": "g"},
        {"name": "g", "csrf_token": "forged"},
        {"name": "g", "csrf_token": ""},
    ):
        refused = client.post("/target-groups", data=data, headers=HTML)
        assert refused.status_code == 403, data
        assert "reload the page" in refused.text
    stranger = TestClient(client.app, base_url="http://127.0.0.1")
    assert (
        stranger.post("/target-groups", data={"name": "g", "csrf_token": token}).status_code == 403
    )
    assert sqlite_api.get("/api/v1/target-groups") == []

    made = client.post(
        "/target-groups", data={"name": "g", "csrf_token": token}, follow_redirects=False
    )
    assert made.status_code == 303 and made.headers["location"] == "/target-groups/g"
    assert [g["target_group_name"] for g in sqlite_api.get("/api/v1/target-groups")] == ["g"]


@pytest.mark.parametrize(
    "headers",
    [
        {"origin": "https://evil.example"},
        {"origin": "null"},
        {"origin": "http://127.0.0.1:9999"},
        {"sec-fetch-site": "cross-site"},
        {"sec-fetch-site": "same-site"},
    ],
)
def test_cross_site_requests_that_change_things_are_refused(
    sqlite_api: Api, headers: dict[str, str]
) -> None:
    api = sqlite_api
    api.error(
        "POST",
        "/api/v1/target-groups",
        403,
        "CrossSiteRequest",
        json={"name": "g"},
        headers=headers,
    )
    api.error("DELETE", "/api/v1/credentials/pg", 403, "CrossSiteRequest", headers=headers)
    assert api.get("/api/v1/target-groups", headers=headers) == []
    same = {"origin": "http://127.0.0.1", "sec-fetch-site": "same-origin"}
    api.post("/api/v1/target-groups", 201, json={"name": "g"}, headers=same)


@pytest.mark.parametrize(
    "host", ["evil.example", "evil.example:8080", "127.0.0.1.evil.example", "0.0.0.0"]
)
def test_without_a_token_only_loopback_host_names_are_served(sqlite_api: Api, host: str) -> None:
    message = sqlite_api.error("GET", "/api/v1/jobs", 400, "InvalidHost", headers={"host": host})
    assert "SQLFLEET_API_TOKEN" in message
    for fine in ("127.0.0.1:8080", "localhost", "[::1]:8080", "127.0.0.2:8080", "127.9.9.9"):
        sqlite_api.get("/api/v1/jobs", headers={"host": fine})


@pytest.mark.parametrize(
    "host", ["localhost.evil.example", "127.0.0.2.nip.io", "128.0.0.1", "[::2]:8080"]
)
def test_a_name_that_only_resolves_to_the_loopback_is_refused(sqlite_api: Api, host: str) -> None:
    sqlite_api.error("GET", "/api/v1/jobs", 400, "InvalidHost", headers={"host": host})


def test_no_page_shows_a_secret(sqlite_api: Api) -> None:
    client = sqlite_api.client
    for path in ("/jobs", "/credentials", "/target-groups", "/new-job", "/executions"):
        page = client.get(path, headers=HTML)
        assert page.status_code == 200, path
        assert SECRET not in page.text


@pytest.fixture
def cli(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, fleet_on_sqlite: Fleet
) -> Cli:
    return Cli(capsys, monkeypatch, str(fleet_on_sqlite.store.engine.url))


def test_web_refuses_a_public_address_without_a_token(
    cli: Cli, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("SQLFLEET_API_TOKEN", raising=False)
    result = cli("web", "--host", "0.0.0.0", "--port", "0")
    assert result.code == 2
    assert result.err.count("\n") == 1 and "SQLFLEET_API_TOKEN" in result.err


def test_web_reports_a_port_in_use(cli: Cli) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = cli("web", "--port", str(port))
    assert result.code == 2
    assert result.err == f"error: port {port} on 127.0.0.1 is in use: choose another with --port\n"


def test_web_reports_a_missing_job_database(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, tmp_path: object
) -> None:
    result = Cli(capsys, monkeypatch, f"sqlite:///{tmp_path}/none.db")("web", "--port", "0")
    assert result.code == 3
    assert "sqlfleet init" in result.err and result.err.count("\n") == 1


def test_pages_cannot_be_framed_or_load_foreign_code(sqlite_api: Api) -> None:
    for response in (
        sqlite_api.client.get("/jobs", headers=HTML),
        sqlite_api.client.get("/api/v1/jobs"),
        sqlite_api.client.get("/api/v1/jobs", headers={"host": "evil.example"}),
    ):
        policy = response.headers["content-security-policy"]
        assert "frame-ancestors 'none'" in policy and "default-src 'self'" in policy
        assert response.headers["x-content-type-options"] == "nosniff"
