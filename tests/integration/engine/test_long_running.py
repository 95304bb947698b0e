"""An agent that runs for weeks keeps only what it is running.

Each step's plan (its job version, the logins it connects with, its output writer) is
forgotten once no target used it for a while: the agent's memory does not grow with the
jobs and versions it ran, and a credential changed while it runs is read again.
"""

from __future__ import annotations

import asyncio
import uuid

import pytest

from sqlfleet.agent import Agent, AgentSettings
from sqlfleet.engine import dispatcher
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.secrets import Secret
from tests.integration.conftest import Fleet as DatabaseFactory
from tests.integration.conftest import SqlRunner
from tests.integration.engine.conftest import MYSQL
from tests.polling import wait_for_async


async def _ended(fleet: Fleet, execution_id: int) -> Lifecycle:
    def ended() -> Lifecycle | None:
        state = fleet.get_execution(execution_id).lifecycle
        return state if state.is_terminal else None

    state: Lifecycle = await wait_for_async(ended, 60, f"execution {execution_id} to end")
    return state


async def test_an_agent_forgets_idle_plans_and_reads_a_changed_password_again(
    fleet: Fleet,
    mysql_fleet: DatabaseFactory,
    mysql_sql: SqlRunner,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(dispatcher, "PLAN_IDLE_SECONDS", 0.0)
    (database,) = mysql_fleet(1)
    user = f"sqlfleet_rotate_{uuid.uuid4().hex[:8]}"
    mysql_sql(None, f"CREATE USER '{user}'@'%' IDENTIFIED BY 'first-Pw-1'")
    try:
        mysql_sql(None, f"GRANT ALL ON `{database}`.* TO '{user}'@'%'")
        fleet.add_credential("rotating", user, Secret("first-Pw-1"))
        fleet.add_target_group("one")
        fleet.add_member("one", server=MYSQL, database=database)
        step = {
            "command": "SELECT 1 AS n",
            "target_group": "one",
            "credential": "rotating",
            "retry_attempts": 0,
        }
        fleet.add_job("rotate", steps=[("main", step)])
        agent = Agent(fleet, name="long-runner", settings=AgentSettings(heartbeat_interval=0.5))
        running = asyncio.create_task(agent.run(install_signal_handlers=False))
        try:
            first = fleet.create_execution("rotate")
            assert await _ended(fleet, first.id) == Lifecycle.SUCCEEDED

            await wait_for_async(
                lambda: agent.dispatcher.held_plans == 0, 30, "the idle plan to be dropped"
            )

            # The password changes on the server and in sqlfleet while the agent runs.
            mysql_sql(None, f"ALTER USER '{user}'@'%' IDENTIFIED BY 'second-Pw-2'")
            fleet.update_credential("rotating", secret=Secret("second-Pw-2"))
            second = fleet.create_execution("rotate")
            state = await _ended(fleet, second.id)
            messages = [
                t.last_message for t in fleet.list_target_executions(second.id) if t.last_message
            ]
            assert state == Lifecycle.SUCCEEDED, messages
        finally:
            agent.request_stop()
            await asyncio.wait_for(running, timeout=60)
    finally:
        mysql_sql(None, f"DROP USER IF EXISTS '{user}'@'%'")
