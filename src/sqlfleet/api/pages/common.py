"""What every page shares: templates, formatting, flash messages, forms and redirects."""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any, ParamSpec, TypeVar
from urllib.parse import quote

from fastapi import Request
from fastapi.templating import Jinja2Templates
from pydantic import ValidationError
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import FormData
from starlette.responses import RedirectResponse, Response

from sqlfleet import limits
from sqlfleet.api.errors import validation_message
from sqlfleet.api.security import CSRF_FIELD, csrf_token, security_of, signed_in
from sqlfleet.api.sessions import existing_session_id, session_id, sessions_of
from sqlfleet.errors import InvalidValue, SqlfleetError
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.variables import shown

P = ParamSpec("P")
R = TypeVar("R")

TEMPLATES = Jinja2Templates(directory=Path(__file__).resolve().parent.parent / "templates")
STATE_ORDER = [s.value for s in Lifecycle]
FAILING = ("Failed", "TimedOut", "Canceled")


def q(value: object) -> str:
    """A name made safe for one URL path segment."""
    return quote(str(value), safe="")


def when(value: datetime | None) -> str:
    """A time for people, in UTC."""
    if value is None:
        return ""
    return value.strftime("%Y-%m-%d %H:%M:%S")


def duration(seconds: float | None) -> str:
    """`0.4 s`, `12 s`, `3 min 04 s`, `2 h 05 min`."""
    if seconds is None:
        return ""
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    if whole < 3600:
        return f"{whole // 60} min {whole % 60:02d} s"
    return f"{whole // 3600} h {whole % 3600 // 60:02d} min"


def elapsed(start: datetime | None, end: datetime | None, now: datetime) -> float | None:
    """Seconds from start to end (or to now while it runs)."""
    if start is None:
        return None
    return max(((end or now) - start) / timedelta(seconds=1), 0.0)


def state_class(state: str | Lifecycle) -> str:
    """The CSS class that colors a lifecycle state."""
    return "state-" + str(state).lower()


def ordered_counts(counts: Mapping[str, int]) -> list[tuple[str, int]]:
    """Counts per state in lifecycle order."""
    return sorted(counts.items(), key=lambda item: STATE_ORDER.index(item[0]))


def variable_value(value: str | None) -> str:
    """A target's variable as pages show it: quoted so that spaces and quotes show."""
    return json.dumps(shown(value), ensure_ascii=False)


TEMPLATES.env.filters.update(
    q=q,
    when=when,
    duration=duration,
    state_class=state_class,
    ordered_counts=ordered_counts,
    variable_value=variable_value,
)
TEMPLATES.env.globals.update(
    CSRF_FIELD=CSRF_FIELD, FAILING=FAILING, max_webhooks=limits.MAX_WEBHOOKS
)


def render(request: Request, template: str, *, status: int = 200, **context: Any) -> Response:
    """A page, with what the layout needs (CSRF token, flash messages, login state)."""
    flashes = sessions_of(request).pop_flashes(existing_session_id(request))
    base = {
        "csrf_token": csrf_token(request),
        "flashes": flashes,
        "login_required": security_of(request).login_required,
        "signed_in": signed_in(request),
        "nav": context.pop("nav", ""),
    }
    return TEMPLATES.TemplateResponse(request, template, {**base, **context}, status_code=status)


def render_error(request: Request, status: int, kind: str, message: str) -> Response:
    """An error as a page."""
    return render(
        request, "error.html", status=status, status_code=status, kind=kind, message=message
    )


def flash(request: Request, text: str, kind: str = "ok") -> None:
    """A message to show on the next page.

    Kept by the server, not in the cookie: the cookie is only signed, and messages quote
    what the user typed.
    """
    sessions_of(request).add_flash(session_id(request), kind, text)


def redirect(path: str) -> RedirectResponse:
    """See other: the page to go to after a form was handled."""
    return RedirectResponse(path, status_code=303)


def fleet_of(request: Request) -> Fleet:
    """The app's Fleet."""
    fleet: Fleet = request.app.state.fleet
    return fleet


async def call(function: Callable[P, R], *args: P.args, **kwargs: P.kwargs) -> R:
    """Run a (blocking) Fleet call in the threadpool."""
    return await run_in_threadpool(function, *args, **kwargs)


def problem(exc: Exception) -> str:
    """The one-line message of an expected error in a form."""
    if isinstance(exc, ValidationError):
        return validation_message(exc)
    if isinstance(exc, SqlfleetError):
        return exc.message
    raise exc


def text_field(form: FormData, name: str) -> str | None:
    """A text field, None when it is missing or blank."""
    value = form.get(name)
    if not isinstance(value, str) or not value.strip():
        return None
    return value.strip()


def raw_field(form: FormData, name: str) -> str:
    """A text field as typed (a script keeps its spaces), '' when missing."""
    value = form.get(name)
    return value if isinstance(value, str) else ""


def checkbox(form: FormData, name: str) -> bool:
    """Whether a checkbox was ticked."""
    return form.get(name) is not None


# Form fields that hold secrets: never written back into a page shown again.
SECRET_FIELDS = frozenset({"notify_urls", "notify_secret"})


def form_values(form: FormData) -> dict[str, Any]:
    """A form's text fields to show it again after an error: never its secrets."""
    return {k: v for k, v in form.items() if isinstance(v, str) and k not in SECRET_FIELDS}


def notify_field(form: FormData) -> list[dict[str, Any]] | None:
    """The webhooks a job form gives, as the REST API's `notify` takes them; None: keep.

    URLs replace the job's webhooks (make them, on a new job); an edit of a job that has
    webhooks says whether to keep, replace or remove them.
    """
    urls = [line.strip() for line in raw_field(form, "notify_urls").splitlines() if line.strip()]
    action = raw_field(form, "notify_action") or ("replace" if urls else "keep")
    if action == "remove":
        return []
    if action == "keep":
        if urls:
            raise InvalidValue("to use the webhook URLs given, choose to replace the webhooks")
        return None
    if action != "replace":
        raise InvalidValue("choose to keep, replace or remove the webhooks")
    if not urls:
        raise InvalidValue("give the webhook URLs that replace the current ones")
    secret = raw_field(form, "notify_secret") or None
    on = raw_field(form, "notify_on") or "failure"
    return [{"url": url, "on": on, "secret": secret} for url in urls]
