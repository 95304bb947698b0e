"""Signing in to the pages with the server's token, and signing out."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Request
from starlette.responses import Response

from sqlfleet.api.pages.common import flash, raw_field, redirect, render
from sqlfleet.api.security import (
    SESSION_SIGNED_IN,
    checked_form,
    csrf_token,
    safe_next,
    security_of,
    signed_in,
)

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
    """Check the token; on success, a signed session cookie keeps the browser signed in."""
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
    request.session.clear()  # a fresh session after signing in: no fixation
    request.session[SESSION_SIGNED_IN] = True
    csrf_token(request)
    return redirect(next_path)


@router.post("/logout")
async def logout(request: Request) -> Response:
    """Forget this browser's session."""
    await checked_form(request)
    request.session.clear()
    flash(request, "Signed out.")
    return redirect("/login" if security_of(request).login_required else "/")
