"""The web application: the REST API under /api/v1, the pages, and their static files."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Iterable
from contextlib import asynccontextmanager
from pathlib import Path
from typing import TYPE_CHECKING
from urllib.parse import quote

from fastapi import FastAPI, Request
from fastapi.staticfiles import StaticFiles
from starlette.middleware.sessions import SessionMiddleware
from starlette.responses import JSONResponse, Response

import sqlfleet
from sqlfleet.api import metrics as metrics_routes
from sqlfleet.api.errors import CatchAll, error_body, install_error_handlers, wants_html
from sqlfleet.api.launcher import InProcessLauncher, Launcher
from sqlfleet.api.pages import include_pages
from sqlfleet.api.pages.common import redirect, render_error
from sqlfleet.api.routes import include_api
from sqlfleet.api.security import TOKEN_ENV, CsrfRefused, LoginRequired, RequestGuard, Security
from sqlfleet.api.sessions import MAX_AGE_SECONDS, SessionStore
from sqlfleet.fleet import Fleet

if TYPE_CHECKING:
    from sqlfleet.metrics import FleetMetrics

STATIC = Path(__file__).resolve().parent / "static"
SESSION_COOKIE = "sqlfleet_session"

FleetSource = Fleet | Callable[[], Fleet] | str | None


def create_app(
    fleet: FleetSource = None,
    *,
    token: str | None = None,
    launcher: Launcher | None = None,
    allowed_hosts: Iterable[str] | None = None,
    metrics: FleetMetrics | None = None,
) -> FastAPI:
    """The ASGI app on a Fleet.

    `fleet` is a Fleet (the caller closes it), a factory, or a job database URL (None: the
    default); the app closes what it opened. `token` turns on the API's bearer token and the
    pages' login. `launcher` runs started executions (default: in this process). `metrics`
    are served at /metrics (default: what the job database holds).
    `allowed_hosts` are the `Host` names served (default without a token: `localhost` and
    any loopback address; with one: any name). Signed-in sessions live in this app's memory.
    """
    owned = not isinstance(fleet, Fleet)
    opened = _open(fleet)
    security = Security.make(token, allowed_hosts)
    runner = launcher or InProcessLauncher()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await runner.aclose()
            if metrics is None and app.state.metrics is not None:
                app.state.metrics.close()  # made on the first scrape
            if owned:
                opened.close()

    app = FastAPI(
        title="sqlfleet",
        version=sqlfleet.__version__,
        summary="Run SQL scripts across fleets of databases.",
        description="The REST API of sqlfleet. Errors are "
        '`{"error": {"type": ..., "message": ...}}` with a 4xx status. '
        f"When the server has {TOKEN_ENV}, send it as `Authorization: Bearer <token>`.",
        docs_url=None,  # Swagger UI would load its assets from the internet
        redoc_url=None,
        openapi_url="/openapi.json",
        lifespan=lifespan,
    )
    app.state.fleet = opened
    app.state.launcher = runner
    app.state.metrics = metrics
    app.state.security = security
    app.state.sessions = SessionStore(max_age=MAX_AGE_SECONDS)

    install_error_handlers(app, render_error)
    app.add_exception_handler(LoginRequired, _login_required)
    app.add_exception_handler(CsrfRefused, _csrf_refused)
    include_api(app)
    app.include_router(metrics_routes.router)
    include_pages(app)
    app.mount("/static", StaticFiles(directory=STATIC), name="static")

    # The last added runs first: CatchAll, then RequestGuard, then the session.
    app.add_middleware(
        SessionMiddleware,
        secret_key=security.session_secret,
        session_cookie=SESSION_COOKIE,
        same_site="lax",
        max_age=MAX_AGE_SECONDS,
    )
    app.add_middleware(RequestGuard, security=security)
    app.add_middleware(CatchAll)
    return app


def _open(source: FleetSource) -> Fleet:
    if isinstance(source, Fleet):
        return source
    if callable(source):
        return source()
    return Fleet.open(source)


async def _login_required(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, LoginRequired)
    if request.url.path.endswith(".json"):
        return JSONResponse(error_body("Unauthorized", "sign in first at /login"), status_code=401)
    return redirect(f"/login?next={quote(exc.next_path)}")


async def _csrf_refused(request: Request, exc: Exception) -> Response:
    message = (
        "The form was refused: it did not come from this page, or the page is too old. "
        "Go back, reload the page and try again."
    )
    if wants_html(request):
        return render_error(request, 403, "CsrfRefused", message)
    return JSONResponse(error_body("CsrfRefused", message), status_code=403)
