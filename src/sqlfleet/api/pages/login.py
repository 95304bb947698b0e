"""Signing in to the pages with the server's token, and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from sqlfleet.api.pages.common import flash, raw_field, redirect, render
from sqlfleet.api.security import (
    checked_form,
    csrf_token,
    safe_next,
    security_of,
    signed_in,
)
from sqlfleet.api.sessions import existing_session_id, session_id, sessions_of

router = APIRouter(include_in_schema=False)


@router.get("/login")
async def login_page(
    request: Request, next: Annotated[str | None, Query(max_length=2000)] = None
) -> Response:
    """The sign-in form (the password is the server's SQLFLEET_API_TOKEN)."""
    if signed_in(request):
        return redirect(safe_next(next))
    return render(request, "login.html", next_path=safe_next(next), error=None)


@router.post("/login")
async def login(request: Request) -> Response:
    """Check the token; on success the server marks a new session id as signed in."""
    form = await checked_form(request)
    next_path = safe_next(raw_field(form, "next"))
    if not security_of(request).token_matches(raw_field(form, "token")):
        return render(
            request,
            "login.html",
            status=401,
            next_path=next_path,
            error="That is not the server's token.",
        )
    sessions = sessions_of(request)
    sessions.end(existing_session_id(request))
    request.session.clear()  # a fresh session id after signing in: no fixation
    sessions.sign_in(session_id(request))
    csrf_token(request)
    return redirect(next_path)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """End this browser's session on the server: a copy of its cookie no longer signs in."""
    await checked_form(request)
    sessions_of(request).end(existing_session_id(request))
    request.session.clear()
    flash(request, "Signed out.")
    return redirect("/login" if security_of(request).login_required else "/")
