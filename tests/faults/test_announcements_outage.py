"""An agent hears announcements again once its PostgreSQL job database has restarted.

The restart drops the connection it listens on; it connects again, and an execution created
afterwards starts within seconds although the agent's next poll is minutes away.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sqlfleet.fleet import Fleet
from tests.faults.conftest import PrivateServer
from tests.integration.engine.test_announcements import (
    an_agent_starts_an_announced_execution,
    define_quick_job,
)


async def test_an_agent_listens_again_after_its_job_database_restarted(
    private_pg: PrivateServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    job_db = private_pg.create_database(f"jobs_{uuid.uuid4().hex[:6]}")
    define_quick_job(job_db)

    async def restart() -> None:
        await asyncio.to_thread(private_pg.restart)

    with Fleet.open(job_db) as fleet:
        await an_agent_starts_an_announced_execution(fleet, monkeypatch, meanwhile=restart)
