"""Who may use the server: the API token, the web login, and cross-site request defenses.

On a loopback address (127.0.0.0/8, ::1, localhost) without a token anyone on the machine may
use it, as with any local tool; the `Host` header must then name a loopback address (or
`localhost`), so a web page whose domain resolves to 127.0.0.1 (DNS rebinding) is refused.
With `SQLFLEET_API_TOKEN` the API wants `Authorization: Bearer <token>` and the web pages want
a login with the token as password; the signed-in state is kept by the server
(`sqlfleet.api.sessions`), so signing out ends it for every copy of the cookie.
Every request that changes something is refused when a browser says it comes from another
site (`Origin`, `Sec-Fetch-Site`), and every form carries a per-session CSRF token.
"""

from __future__ import annotations

import hmac
import ipaddress
import json
import secrets
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Annotated
from urllib.parse import urlsplit

from fastapi import Depends, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.datastructures import FormData, Headers
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqlfleet.api.errors import ApiError
from sqlfleet.api.sessions import existing_session_id, sessions_of

TOKEN_ENV = "SQLFLEET_API_TOKEN"
LOOPBACK_NAMES = frozenset({"127.0.0.1", "localhost", "::1", "[::1]"})
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
CSRF_FIELD = "csrf_token"


def is_loopback(host: str) -> bool:
    """Whether binding to `host` serves this machine only."""
    name = host.strip().strip("[]").lower()
    if name == "localhost":
        return True
    try:
        return ipaddress.ip_address(name).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True, slots=True)
class Security:
    """How the server checks who is asking."""

    token: str | None
    session_secret: str
    allowed_hosts: frozenset[str] | None
    any_loopback_host: bool = False

    @classmethod
    def make(cls, token: str | None, allowed_hosts: Iterable[str] | None = None) -> Security:
        """Settings for `token` (None: no login); without a token, loopback host names only.

        Sessions live in this process's memory (`SessionStore`), so the cookies' signing
        secret may as well be new in each process.
        """
        token = token or None
        secret = secrets.token_urlsafe(32)
        if allowed_hosts is not None:
            hosts = frozenset(h.lower() for h in allowed_hosts)
            return cls(token=token, session_secret=secret, allowed_hosts=hosts)
        if token is None:
            # Any loopback address, so that `--host 127.0.0.2` is served by its own name.
            return cls(
                token=None,
                session_secret=secret,
                allowed_hosts=LOOPBACK_NAMES,
                any_loopback_host=True,
            )
        return cls(token=token, session_secret=secret, allowed_hosts=None)

    @property
    def login_required(self) -> bool:
        """True when the pages need a login and the API a bearer token."""
        return self.token is not None

    def token_matches(self, candidate: str) -> bool:
        """Compare in constant time."""
        if self.token is None:
            return False
        return hmac.compare_digest(candidate.encode(), self.token.encode())


def security_of(request: Request) -> Security:
    """The app's security settings."""
    security: Security = request.app.state.security
    return security


# -- requests from elsewhere ------------------------------------------------------------------


# Pages load only their own scripts and styles, and are never shown inside another site's frame.
SECURITY_HEADERS = [
    (
        b"content-security-policy",
        b"default-src 'self'; img-src 'self' data:; style-src 'self' 'unsafe-inline'; "
        b"frame-ancestors 'none'; form-action 'self'; base-uri 'none'",
    ),
    (b"x-content-type-options", b"nosniff"),
    (b"referrer-policy", b"same-origin"),
]


class RequestGuard:
    """ASGI middleware: refuses unknown `Host` names and cross-site requests that change things,
    and adds the security headers to every answer."""

    def __init__(self, app: ASGIApp, security: Security) -> None:
        self.app = app
        self.security = security

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        host = headers.get("host", "")
        problem = self._host_problem(host)
        if problem is None and scope["method"] not in SAFE_METHODS:
            problem = _cross_site_problem(headers, host)
        if problem is None:
            await self.app(scope, receive, _with_headers(send))
            return
        status, kind, message = problem
        body = json.dumps({"error": {"type": kind, "message": message}}).encode()
        await send(
            {
                "type": "http.response.start",
                "status": status,
                "headers": [
                    (b"content-type", b"application/json"),
                    (b"content-length", str(len(body)).encode()),
                    *SECURITY_HEADERS,
                ],
            }
        )
        await send({"type": "http.response.body", "body": body})

    def _host_problem(self, host: str) -> tuple[int, str, str] | None:
        allowed = self.security.allowed_hosts
        if allowed is None:
            return None
        name = _host_name(host)
        if name in allowed or "*" in allowed:
            return None
        # An address literal only: a DNS name that resolves to the loopback is still refused.
        if self.security.any_loopback_host and is_loopback(name):
            return None
        return (
            400,
            "InvalidHost",
            f"host {name!r} is not served here: use http://127.0.0.1, or set {TOKEN_ENV} "
            "and bind another address",
        )


def _with_headers(send: Send) -> Send:
    async def sending(message: Message) -> None:
        if message["type"] == "http.response.start":
            message = {**message, "headers": [*message.get("headers", []), *SECURITY_HEADERS]}
        await send(message)

    return sending


def _host_name(host: str) -> str:
    """`Host` header without the port."""
    host = host.strip().lower()
    if host.startswith("["):
        return host.split("]", 1)[0] + "]"
    return host.rsplit(":", 1)[0] if host.count(":") == 1 else host


def _cross_site_problem(headers: Headers, host: str) -> tuple[int, str, str] | None:
    refused = (403, "CrossSiteRequest", "a request from another web site was refused")
    if headers.get("sec-fetch-site", "").lower() in ("cross-site", "same-site"):
        return refused
    origin = headers.get("origin")
    if origin is None:
        return None  # not sent by a browser (curl, scripts) or a same-origin navigation
    if origin == "null" or urlsplit(origin).netloc.lower() != host.strip().lower():
        return refused
    return None


# -- the API's bearer token -------------------------------------------------------------------

_bearer = HTTPBearer(
    auto_error=False,
    description=f"The server's {TOKEN_ENV}; needed when it is set (always off 127.0.0.1).",
)


async def require_token(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
) -> None:
    """Dependency of every API route: the bearer token, when the server has one."""
    security = security_of(request)
    if not security.login_required:
        return
    if credentials is None or not security.token_matches(credentials.credentials):
        raise ApiError(
            401,
            "Unauthorized",
            f"send the server's {TOKEN_ENV} as `Authorization: Bearer <token>`",
            headers={"WWW-Authenticate": "Bearer"},
        )


# -- the pages' login and CSRF tokens --------------------------------------------------------


class LoginRequired(Exception):
    """The page needs a login first."""

    def __init__(self, next_path: str) -> None:
        super().__init__(next_path)
        self.next_path = next_path


class CsrfRefused(Exception):
    """A form came without this session's CSRF token."""


SESSION_CSRF = "csrf"


def signed_in(request: Request) -> bool:
    """Whether this browser may see the pages: the server knows its session as signed in."""
    if not security_of(request).login_required:
        return True
    return sessions_of(request).is_signed_in(existing_session_id(request))


async def require_login(request: Request) -> None:
    """Dependency of every page: a login, when the server has a token."""
    if not signed_in(request):
        raise LoginRequired(request.url.path)


def csrf_token(request: Request) -> str:
    """This session's CSRF token, made on first use."""
    token = request.session.get(SESSION_CSRF)
    if not isinstance(token, str) or not token:
        token = secrets.token_urlsafe(32)
        request.session[SESSION_CSRF] = token
    return token


async def checked_form(request: Request) -> FormData:
    """The posted form, if it carries this session's CSRF token; else CsrfRefused."""
    form = await request.form()
    sent = form.get(CSRF_FIELD)
    expected = request.session.get(SESSION_CSRF)
    if (
        not isinstance(sent, str)
        or not isinstance(expected, str)
        or not hmac.compare_digest(sent.encode(), expected.encode())
    ):
        raise CsrfRefused()
    return form


def safe_next(path: str | None) -> str:
    """A redirect target after login: a path of this site only."""
    if not path or not path.startswith("/") or path.startswith("//") or "\\" in path:
        return "/"
    return path
