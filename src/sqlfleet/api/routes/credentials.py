"""REST routes for credentials: a secret can be set, never read back."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from sqlfleet import documents
from sqlfleet.api.deps import FleetDep
from sqlfleet.api.errors import ApiError
from sqlfleet.api.schemas import CredentialCreate, CredentialUpdate, PathName
from sqlfleet.secrets import Secret

router = APIRouter(prefix="/credentials", tags=["credentials"])


@router.get("")
def list_credentials(fleet: FleetDep) -> list[dict[str, Any]]:
    """Every credential, by name (never a secret)."""
    return [documents.credential(c) for c in fleet.list_credentials()]


@router.post("", status_code=201)
def create_credential(body: CredentialCreate, fleet: FleetDep) -> dict[str, Any]:
    """Store a credential; its secret is encrypted and never shown again."""
    secret = Secret(body.secret.get_secret_value())
    return documents.credential(fleet.add_credential(body.name, body.username, secret))


@router.get("/{name}")
def get_credential(name: PathName, fleet: FleetDep) -> dict[str, Any]:
    """One credential (never its secret)."""
    return documents.credential(fleet.get_credential(name))


@router.patch("/{name}")
def update_credential(name: PathName, body: CredentialUpdate, fleet: FleetDep) -> dict[str, Any]:
    """Change a credential's user name and/or secret."""
    if body.username is None and body.secret is None:
        raise ApiError(422, "InvalidValue", "nothing to change: give username and/or secret")
    secret = Secret(body.secret.get_secret_value()) if body.secret is not None else None
    return documents.credential(
        fleet.update_credential(name, username=body.username, secret=secret)
    )


@router.delete("/{name}", status_code=204)
def delete_credential(name: PathName, fleet: FleetDep) -> Response:
    """Delete a credential that no step or member uses."""
    fleet.remove_credential(name)
    return Response(status_code=204)
