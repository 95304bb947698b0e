"""A PostgreSQL job database announces job executions created, ended and stopped.

An agent that polls once a minute starts an execution created meanwhile within seconds, and
`start --wait` sees its execution end at once: only the announcement can make them that
quick. A SQLite job database announces nothing, and listening there returns at once.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from typing import Any

import psycopg
import pytest

from sqlfleet.agent import Agent, AgentSettings
from sqlfleet.cli import executions
from sqlfleet.clock import utcnow
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import JobExecution
from sqlfleet.secrets import Secret
from sqlfleet.store import StepStart
from sqlfleet.store.announcements import CHANNEL, ExecutionChange
from tests.integration.engine.conftest import PG, one_step_job
from tests.polling import wait_for_async

# Far beyond the time each test gives: what happens sooner was announced.
SLOW_POLL = 120.0
SOON = 20.0


def define_quick_job(job_db: str) -> None:
    """Initialize `job_db` with job `quick`: `SELECT 1` on one database."""
    Fleet.init(job_db)
    with Fleet.open(job_db) as fleet:
        fleet.add_credential("pg", "postgres", Secret("unused-under-trust-auth"))
        fleet.add_target_group("one")
        fleet.add_member("one", server=PG, database="postgres")
        one_step_job(fleet, "quick", "one", "SELECT 1")


@pytest.fixture
def pg_fleet_db(pg_job_db: str) -> Iterator[Fleet]:
    """A PostgreSQL job database with job `quick`."""
    define_quick_job(pg_job_db)
    with Fleet.open(pg_job_db) as fleet:
        yield fleet


async def _state(fleet: Fleet, execution_id: int, within: float) -> Lifecycle:
    def ended() -> Lifecycle | None:
        state = fleet.get_execution(execution_id).lifecycle
        return state if state.is_terminal else None

    state: Lifecycle = await wait_for_async(ended, within, f"execution {execution_id} to end")
    return state


async def an_agent_starts_an_announced_execution(
    fleet: Fleet,
    monkeypatch: pytest.MonkeyPatch,
    meanwhile: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """An agent that polls every two minutes runs an execution, then (after `meanwhile`)
    runs one created when its next poll is far away: within seconds, or the test fails."""
    # When the agent looked for steps to start, and whether it found one.
    looks: list[tuple[datetime, bool]] = []
    claim_step_start = fleet.store.claim_step_start

    def counted(*args: Any, **kwargs: Any) -> StepStart | None:
        when = utcnow()
        step = claim_step_start(*args, **kwargs)
        looks.append((when, step is not None))
        return step

    monkeypatch.setattr(fleet.store, "claim_step_start", counted)
    settings = AgentSettings(poll_interval=SLOW_POLL, schedule_interval=SLOW_POLL)
    agent = Agent(fleet, name="listener", settings=settings)
    running = asyncio.create_task(agent.run(install_signal_handlers=False))
    try:
        first = fleet.create_execution("quick")
        assert await _state(fleet, first.id, SOON) == Lifecycle.SUCCEEDED
        # Once the agent has looked again after the end (and found nothing), its next poll is
        # two minutes away.
        ended = fleet.get_execution(first.id).end_time
        assert ended is not None
        await wait_for_async(
            lambda: any(when >= ended and not found for when, found in looks),
            SOON,
            "the agent to look for work after the end",
        )
        if meanwhile is not None:
            await meanwhile()
        second = fleet.create_execution("quick")
        assert await _state(fleet, second.id, SOON) == Lifecycle.SUCCEEDED
    finally:
        agent.request_stop()
        await asyncio.wait_for(running, timeout=60)


async def test_an_agent_starts_an_announced_execution_before_its_next_poll(
    pg_fleet_db: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    await an_agent_starts_an_announced_execution(pg_fleet_db, monkeypatch)


async def test_start_wait_sees_its_execution_end_when_announced(
    pg_fleet_db: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    fleet = pg_fleet_db
    monkeypatch.setattr(executions, "FOLLOW_POLL_SECONDS", SLOW_POLL)
    polls: list[int] = []
    get_execution = fleet.get_execution

    def counted(execution_id: int) -> JobExecution:
        polls.append(execution_id)
        return get_execution(execution_id)

    monkeypatch.setattr(fleet, "get_execution", counted)
    execution = fleet.create_execution("quick")
    following = asyncio.create_task(executions._follow(fleet, execution.id, asyncio.Event()))
    try:
        # The first look, and the one made when the listener connected: from now on only an
        # announcement makes it look again within two minutes.
        await wait_for_async(lambda: len(polls) >= 2, SOON, "the follower to listen")
        # No agent runs it: stopping it is what ends it.
        await asyncio.to_thread(fleet.stop, execution.id)
        ended = await asyncio.wait_for(following, timeout=SOON)
    finally:
        following.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await following
    assert ended.lifecycle == Lifecycle.CANCELED


async def test_every_change_of_an_execution_is_announced(pg_fleet_db: Fleet) -> None:
    fleet = pg_fleet_db
    heard: list[ExecutionChange] = []
    listening = asyncio.create_task(fleet.listen_for_changes(heard.append))
    try:
        await wait_for_async(lambda: heard, SOON, "the listener to connect")
        assert heard == [ExecutionChange()]  # connected: anything may have changed
        execution = fleet.create_execution("quick")
        await asyncio.to_thread(fleet.stop, execution.id)
        canceled = ExecutionChange(execution.id, Lifecycle.CANCELED, stop_requested=True)
        await wait_for_async(lambda: canceled in heard, SOON, "the end to be announced")
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
    assert heard[1:] == [
        ExecutionChange(execution.id, Lifecycle.CREATED, stop_requested=False),
        ExecutionChange(execution.id, Lifecycle.CREATED, stop_requested=True),
        canceled,
    ]


async def test_announcements_anyone_may_send_do_not_stop_the_listener(
    pg_fleet_db: Fleet, pg_job_db: str
) -> None:
    """NOTIFY takes no privilege: whatever a payload says, the listener goes on."""
    fleet = pg_fleet_db
    heard: list[ExecutionChange] = []
    listening = asyncio.create_task(fleet.listen_for_changes(heard.append))
    try:
        await wait_for_async(lambda: heard, SOON, "the listener to connect")
        with psycopg.connect(pg_job_db, autocommit=True) as other:
            for payload in ("² Created 0", "9" * 5000 + " Created 0", "x", ""):
                other.execute("SELECT pg_notify(%s, %s)", (CHANNEL, payload))
        execution = fleet.create_execution("quick")
        created = ExecutionChange(execution.id, Lifecycle.CREATED, stop_requested=False)
        await wait_for_async(lambda: created in heard, SOON, "the execution to be announced")
        assert not listening.done()
    finally:
        listening.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await listening
    assert heard == [ExecutionChange(), created]


async def test_a_sqlite_job_database_announces_nothing(sqlite_job_db: str) -> None:
    Fleet.init(sqlite_job_db)
    with Fleet.open(sqlite_job_db) as fleet:
        heard: list[ExecutionChange] = []
        await asyncio.wait_for(fleet.listen_for_changes(heard.append), timeout=SOON)
    assert heard == []


@pytest.mark.parametrize(
    "payload",
    [
        "",
        "12",
        "12 Created",
        "x Created 0",
        "12 Created 2",
        "12 NoSuchState 0",
        "12 Created 0 1",
        "² Created 0",  # a digit to str.isdigit, not to int()
        "-1 Created 0",
        "9" * 5000 + " Created 0",  # beyond int()'s limit of digits
    ],
)
def test_an_unreadable_announcement_is_ignored(payload: str) -> None:
    assert ExecutionChange.parse(payload) is None


def test_an_announcement_is_read() -> None:
    assert ExecutionChange.parse("12 InProgress 1") == ExecutionChange(
        12, Lifecycle.IN_PROGRESS, stop_requested=True
    )
