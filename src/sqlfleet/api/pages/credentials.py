"""The credentials page: add, change, delete. A secret goes in and never comes out."""

from __future__ import annotations

from fastapi import APIRouter, Depends, Request
from pydantic import ValidationError
from starlette.responses import Response

from sqlfleet.api.pages.common import (
    call,
    flash,
    fleet_of,
    problem,
    raw_field,
    redirect,
    render,
    text_field,
)
from sqlfleet.api.schemas import CredentialCreate, CredentialUpdate, PathName
from sqlfleet.api.security import checked_form, require_login
from sqlfleet.errors import SqlfleetError
from sqlfleet.secrets import Secret

router = APIRouter(dependencies=[Depends(require_login)], include_in_schema=False)


@router.get("/credentials")
async def credentials_page(request: Request) -> Response:
    """Every credential (names and user names only) and a form to add one."""
    credentials = await call(fleet_of(request).list_credentials)
    return render(request, "credentials.html", nav="credentials", credentials=credentials)


@router.post("/credentials")
async def add_credential(request: Request) -> Response:
    """Store a credential."""
    form = await checked_form(request)
    try:
        body = CredentialCreate.model_validate(
            {
                "name": text_field(form, "name") or "",
                "username": text_field(form, "username") or "",
                "secret": raw_field(form, "secret"),
            }
        )
        secret = Secret(body.secret.get_secret_value())
        await call(fleet_of(request).add_credential, body.name, body.username, secret)
    except (ValidationError, SqlfleetError) as exc:
        flash(request, problem(exc), "error")
    else:
        flash(request, f"Credential {body.name} added. Its secret is stored encrypted.")
    return redirect("/credentials")


@router.post("/credentials/{name}")
async def update_credential(request: Request, name: PathName) -> Response:
    """Change a credential's user name and/or secret."""
    form = await checked_form(request)
    try:
        body = CredentialUpdate.model_validate(
            {
                "username": text_field(form, "username"),
                "secret": raw_field(form, "secret") or None,
            }
        )
        secret = Secret(body.secret.get_secret_value()) if body.secret is not None else None
        if body.username is None and secret is None:
            flash(request, "Nothing to change: give a user name or a new secret.", "error")
            return redirect("/credentials")
        await call(fleet_of(request).update_credential, name, username=body.username, secret=secret)
    except (ValidationError, SqlfleetError) as exc:
        flash(request, problem(exc), "error")
    else:
        flash(request, f"Credential {name} updated.")
    return redirect("/credentials")


@router.post("/credentials/{name}/delete")
async def delete_credential(request: Request, name: PathName) -> Response:
    """Delete a credential that nothing uses."""
    await checked_form(request)
    try:
        await call(fleet_of(request).remove_credential, name)
    except SqlfleetError as exc:
        flash(request, exc.message, "error")
    else:
        flash(request, f"Credential {name} deleted.")
    return redirect("/credentials")
