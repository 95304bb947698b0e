"""HTTP errors: the one place that maps sqlfleet's errors to status codes.

Every error is answered as JSON, `{"error": {"type": ..., "message": ...}}`, with one line of
message; pages get the same as an HTML page. Nothing unexpected leaks: a bug is logged with
its traceback and answered with a plain 500.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable, Mapping
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from pydantic import ValidationError
from starlette.exceptions import HTTPException
from starlette.responses import JSONResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from sqlfleet.errors import (
    ConcurrentChange,
    DefinitionError,
    DuplicateName,
    InUse,
    JobDatabaseUnavailable,
    NotFound,
    SecretKeyError,
    SqlfleetError,
    StoreError,
    TargetError,
)

log = logging.getLogger("sqlfleet.api")

# First match wins: subclasses before their parents.
STATUS_OF: tuple[tuple[type[SqlfleetError], int], ...] = (
    (NotFound, 404),
    (DuplicateName, 409),
    (InUse, 409),
    (ConcurrentChange, 409),
    (DefinitionError, 422),
    (TargetError, 502),
    (SecretKeyError, 503),
    (StoreError, 503),
)
_HTTP_TYPES = {
    400: "BadRequest",
    401: "Unauthorized",
    403: "Forbidden",
    404: "NotFound",
    405: "MethodNotAllowed",
    409: "Conflict",
    413: "ContentTooLarge",
    415: "UnsupportedMediaType",
    422: "InvalidValue",
}
MAX_MESSAGE = 1000
RETRY_AFTER_SECONDS = 5

HtmlRenderer = Callable[[Request, int, str, str], Response]


class ApiError(Exception):
    """An error the web layer itself raises, with its status and type."""

    def __init__(
        self,
        status: int,
        kind: str,
        message: str,
        *,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(message)
        self.status = status
        self.kind = kind
        self.message = message
        self.headers = dict(headers or {})


def status_of(error: SqlfleetError) -> int:
    """The HTTP status for an expected error."""
    for kind, status in STATUS_OF:
        if isinstance(error, kind):
            return status
    return 500


def one_line(text: str) -> str:
    """`text` on one line, not too long."""
    flat = " ".join(text.split())
    return flat if len(flat) <= MAX_MESSAGE else flat[: MAX_MESSAGE - 1] + "…"


def error_body(kind: str, message: str) -> dict[str, Any]:
    """The JSON body of an error."""
    return {"error": {"type": kind, "message": one_line(message)}}


def validation_message(error: RequestValidationError | ValidationError) -> str:
    """Pydantic's complaints as one line: `body.name: Field required; query.limit: ...`.

    Input values are left out: they may hold a secret.
    """
    items = list(error.errors())
    parts = []
    for item in items[:5]:
        where = ".".join(str(p) for p in item.get("loc", ()))
        message = str(item.get("msg", "is not valid")).removeprefix("Value error, ")
        parts.append(f"{where}: {message}" if where else message)
    if len(items) > 5:
        parts.append(f"and {len(items) - 5} more")
    return "; ".join(parts) or "the request is not valid"


def wants_html(request: Request) -> bool:
    """Whether to answer with a page: a browser navigating, not an API or script call."""
    path = request.url.path
    if path.startswith("/api/") or path.endswith(".json"):
        return False
    return "text/html" in request.headers.get("accept", "")


def install_error_handlers(app: FastAPI, render_html: HtmlRenderer) -> None:
    """Answer every error as JSON (or as a page for browsers)."""

    def respond(
        request: Request,
        status: int,
        kind: str,
        message: str,
        headers: Mapping[str, str] | None = None,
    ) -> Response:
        if wants_html(request):
            response = render_html(request, status, kind, one_line(message))
        else:
            response = JSONResponse(error_body(kind, message), status_code=status)
        response.headers.update(headers or {})
        return response

    async def on_sqlfleet_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, SqlfleetError)
        status = status_of(exc)
        if isinstance(exc, JobDatabaseUnavailable):
            # The store logs an outage once; a client may ask again shortly.
            headers = {"Retry-After": str(RETRY_AFTER_SECONDS)}
            return respond(request, status, type(exc).__name__, exc.message, headers)
        if status >= 500:
            log.warning("%s %s: %s", request.method, request.url.path, exc.message)
        return respond(request, status, type(exc).__name__, exc.message)

    async def on_api_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, ApiError)
        return respond(request, exc.status, exc.kind, exc.message, exc.headers)

    async def on_validation_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, RequestValidationError)
        return respond(request, 422, "ValidationError", validation_message(exc))

    async def on_http_error(request: Request, exc: Exception) -> Response:
        assert isinstance(exc, HTTPException)
        kind = _HTTP_TYPES.get(exc.status_code, "HTTPError")
        message = exc.detail if isinstance(exc.detail, str) else kind
        if exc.status_code == 404 and message == "Not Found":
            message = f"no such page or resource: {request.url.path}"
        return respond(request, exc.status_code, kind, message, exc.headers)

    app.add_exception_handler(SqlfleetError, on_sqlfleet_error)
    app.add_exception_handler(ApiError, on_api_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(HTTPException, on_http_error)


class CatchAll:
    """ASGI middleware: a bug becomes a logged traceback and a plain JSON 500, never a leak."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception:
            log.exception("internal error on %s %s", scope.get("method"), scope.get("path"))
            if started:
                return  # the answer is half sent; the client sees a cut connection
            body = json.dumps(
                error_body("InternalError", "internal error: the server log has the details")
            ).encode()
            await send(
                {
                    "type": "http.response.start",
                    "status": 500,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", str(len(body)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": body})
