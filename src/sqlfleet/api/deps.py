"""What routes and pages get from the app: the Fleet and the Launcher."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from sqlfleet.api.launcher import Launcher
from sqlfleet.fleet import Fleet


def get_fleet(request: Request) -> Fleet:
    """The app's Fleet (thread-safe: its calls run in the threadpool)."""
    fleet: Fleet = request.app.state.fleet
    return fleet


def get_launcher(request: Request) -> Launcher:
    """The app's way of starting executions."""
    launcher: Launcher = request.app.state.launcher
    return launcher


FleetDep = Annotated[Fleet, Depends(get_fleet)]
LauncherDep = Annotated[Launcher, Depends(get_launcher)]
