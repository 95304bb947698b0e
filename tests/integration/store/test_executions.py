"""The JobStore's contract for executions, with an injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from alembic import command
from sqlalchemy import select

from sqlfleet.errors import InvalidValue
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import Target
from sqlfleet.secrets import Secret
from sqlfleet.store import ClaimedTarget, JobStore, Outcome
from sqlfleet.store import tables as t
from sqlfleet.store.database import _alembic_config
from tests.statements import recorded

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
SERVER = "postgresql://127.0.0.1:5432"


@pytest.fixture
def store(fleet: Fleet) -> JobStore:
    """A job with two steps, each on a group of one server."""
    fleet.add_credential("c", "u", Secret("s"))
    fleet.add_target_group("g")
    fleet.add_member("g", server=SERVER)
    fleet.add_job("j")
    for step in ("one", "two"):
        fleet.add_step("j", step, command="SELECT 1", target_group="g", credential="c")
    return fleet.store


def _start_first_step(store: JobStore, targets: int = 3) -> int:
    execution_id = store.create_execution("j", trigger="test", now=T0)
    step = store.claim_step_start("a", now=T0, lease=LEASE)
    assert step is not None and step.step_id == 1
    assert store.add_targets(step, "a", [Target(SERVER, f"db{i}") for i in range(targets)], now=T0)
    return execution_id


def _outcome(claimed: ClaimedTarget, state: Lifecycle, when: datetime, **extra: Any) -> Outcome:
    return claimed.ended(state, when, **extra)


def test_steps_start_in_order_and_the_job_ends_with_the_last(store: JobStore) -> None:
    execution_id = _start_first_step(store, targets=2)
    assert store.claim_step_start("a", now=T0, lease=LEASE) is None  # step two waits for one
    claimed = store.claim_targets("a", 10, now=T0, lease=LEASE)
    assert len(claimed) == 2 and {c.attempt_number for c in claimed} == {1}
    assert store.claim_targets("b", 10, now=T0, lease=LEASE) == []  # nobody claims twice
    finished = store.record_outcomes(
        "a", [_outcome(c, Lifecycle.SUCCEEDED, T0) for c in claimed], now=T0
    )
    assert len(finished) == 1
    step_two = store.claim_step_start("b", now=T0, lease=LEASE)
    assert step_two is not None and step_two.step_id == 2
    store.add_targets(step_two, "b", [], now=T0)  # no targets: the step ends at once
    execution = store.get_execution(execution_id)
    assert execution.lifecycle is Lifecycle.SUCCEEDED
    assert [s.lifecycle for s in store.list_step_executions(execution_id)] == [
        Lifecycle.SUCCEEDED
    ] * 2


def test_expired_lease_is_taken_over_as_a_new_attempt(store: JobStore) -> None:
    execution_id = _start_first_step(store, targets=1)
    [first] = store.claim_targets("dead", 10, now=T0, lease=LEASE)
    assert store.claim_targets("b", 10, now=T0 + LEASE - timedelta(seconds=1), lease=LEASE) == []
    store.extend_leases("dead", until=T0 + 2 * LEASE)  # a heartbeat keeps it
    assert store.claim_targets("b", 10, now=T0 + LEASE + timedelta(seconds=1), lease=LEASE) == []
    [second] = store.claim_targets("b", 10, now=T0 + 2 * LEASE + timedelta(seconds=1), lease=LEASE)
    assert second.id == first.id and second.attempt_number == 2
    # The dead agent's late outcome changes nothing; the new owner's counts.
    store.record_outcomes(
        "dead", [_outcome(first, Lifecycle.FAILED, T0 + 3 * LEASE, message="late")], now=T0
    )
    store.record_outcomes("b", [_outcome(second, Lifecycle.SUCCEEDED, T0 + 3 * LEASE)], now=T0)
    [target] = store.list_target_executions(execution_id)
    assert target.lifecycle is Lifecycle.SUCCEEDED and target.current_attempts == 2
    attempts = store.list_attempts(target.id)
    assert [a.agent_name for a in attempts] == ["dead", "b"]
    assert attempts[0].end_time is not None


def test_retry_waits_for_its_time(store: JobStore) -> None:
    _start_first_step(store, targets=1)
    [claimed] = store.claim_targets("a", 10, now=T0, lease=LEASE)
    retry_at = T0 + timedelta(seconds=30)
    store.record_outcomes(
        "a",
        [
            _outcome(
                claimed,
                Lifecycle.WAITING_FOR_RETRY,
                T0,
                message="boom",
                next_attempt_start_time=retry_at,
            )
        ],
        now=T0,
    )
    assert store.claim_targets("a", 10, now=retry_at - timedelta(seconds=1), lease=LEASE) == []
    [again] = store.claim_targets("a", 10, now=retry_at, lease=LEASE)
    assert again.attempt_number == 2 and again.first_start_time == T0


def test_cancel_ends_what_has_not_started(store: JobStore) -> None:
    execution_id = _start_first_step(store, targets=3)
    [running] = store.claim_targets("a", 1, now=T0, lease=LEASE)
    store.cancel_execution(execution_id, now=T0)
    assert store.get_execution(execution_id).lifecycle is Lifecycle.CANCELED
    assert store.claim_targets("a", 10, now=T0, lease=LEASE) == []
    assert store.canceled_running_targets("a") == [running.id]
    store.record_outcomes("a", [_outcome(running, Lifecycle.CANCELED, T0)], now=T0)
    states = sorted(t.lifecycle.value for t in store.list_target_executions(execution_id))
    assert states == ["Canceled"] * 3
    with pytest.raises(InvalidValue, match="already ended"):
        store.cancel_execution(execution_id, now=T0)


def _stored_counts(store: JobStore, execution_id: int) -> Any:
    with store.engine.connect() as conn:
        stored = conn.execute(
            select(t.job_execution.c.target_counts).where(t.job_execution.c.id == execution_id)
        ).scalar_one()
    return None if stored is None else json.loads(stored)


def _counted_targets(store: JobStore, execution_id: int) -> tuple[dict[str, int], bool]:
    """The execution's counts as listed, and whether listing it read its targets."""
    with recorded(store.engine, "SELECT") as seen:
        [execution] = store.list_executions(ids=[execution_id])
    return execution.target_counts, any("target_execution" in sql for sql, _ in seen)


def test_an_ended_execution_keeps_its_counts_and_lists_count_nothing(store: JobStore) -> None:
    execution_id = _start_first_step(store, targets=3)
    claimed = store.claim_targets("a", 10, now=T0, lease=LEASE)
    assert _stored_counts(store, execution_id) is None
    assert _counted_targets(store, execution_id) == ({"InProgress": 3}, True)
    store.record_outcomes(
        "a",
        [
            _outcome(c, Lifecycle.FAILED if i == 0 else Lifecycle.SUCCEEDED, T0)
            for i, c in enumerate(claimed)
        ],
        now=T0,
    )
    assert store.get_execution(execution_id).lifecycle is Lifecycle.FAILED
    assert _stored_counts(store, execution_id) == {"Failed": 1, "Succeeded": 2}
    assert _counted_targets(store, execution_id) == ({"Failed": 1, "Succeeded": 2}, False)


def test_a_canceled_execution_keeps_its_counts_once_its_last_target_ended(
    store: JobStore,
) -> None:
    execution_id = _start_first_step(store, targets=3)
    [running] = store.claim_targets("a", 1, now=T0, lease=LEASE)
    store.cancel_execution(execution_id, now=T0)
    # Ended, but a target still runs: its counts may change, so they are counted.
    assert _stored_counts(store, execution_id) is None
    assert _counted_targets(store, execution_id) == ({"Canceled": 2, "InProgress": 1}, True)
    store.record_outcomes("a", [_outcome(running, Lifecycle.CANCELED, T0)], now=T0)
    assert _stored_counts(store, execution_id) == {"Canceled": 3}
    assert _counted_targets(store, execution_id) == ({"Canceled": 3}, False)


def test_an_execution_ended_with_no_target_keeps_empty_counts(store: JobStore) -> None:
    execution_id = store.create_execution("j", trigger="test", now=T0)
    store.cancel_execution(execution_id, now=T0)
    assert _stored_counts(store, execution_id) == {}
    assert _counted_targets(store, execution_id) == ({}, False)


def test_purge_keeps_recent_and_active_history(store: JobStore) -> None:
    old = _start_first_step(store, targets=1)
    store.cancel_execution(old, now=T0)
    active = store.create_execution("j", trigger="test", now=T0)
    assert store.purge(before=T0) == 0
    assert store.purge(before=T0 + timedelta(days=1)) == 1
    assert [e.id for e in store.list_executions()] == [active]


def test_max_parallelism_caps_claims_per_server(store: JobStore, fleet: Fleet) -> None:
    fleet.update_step("j", "one", max_parallelism=2)
    execution_id = store.create_execution("j", trigger="test", now=T0)
    step = store.claim_step_start("a", now=T0, lease=LEASE)
    assert step is not None
    other = "postgresql://other:5432"
    store.add_targets(
        step, "a", [Target(SERVER, f"db{i}") for i in range(5)] + [Target(other, "x")], now=T0
    )
    first = store.claim_targets("a", 10, now=T0, lease=LEASE)
    assert sorted(c.target.server_url for c in first) == sorted([other, SERVER, SERVER])
    assert store.claim_targets("b", 10, now=T0, lease=LEASE) == []
    store.record_outcomes("a", [_outcome(first[0], Lifecycle.SUCCEEDED, T0)], now=T0)
    assert len(store.claim_targets("b", 10, now=T0, lease=LEASE)) == (
        1 if first[0].target.server_url == SERVER else 0
    )
    assert store.get_execution(execution_id).target_counts["Created"] >= 2


def test_executions_ended_before_the_upgrade_get_their_counts(store: JobStore) -> None:
    ended = _start_first_step(store, targets=3)
    claimed = store.claim_targets("a", 3, now=T0, lease=LEASE)
    outcomes = [Lifecycle.FAILED, Lifecycle.SUCCEEDED, Lifecycle.SUCCEEDED]
    store.record_outcomes(
        "a", [_outcome(c, state, T0) for c, state in zip(claimed, outcomes, strict=True)], now=T0
    )
    canceled = _start_first_step(store, targets=2)
    store.claim_targets("a", 1, now=T0, lease=LEASE)
    store.cancel_execution(canceled, now=T0)
    live = _start_first_step(store, targets=2)
    empty = store.create_execution("j", trigger="test", now=T0)
    store.cancel_execution(empty, now=T0)
    # The job database as revision 0009 left it, then upgraded.
    with store.engine.begin() as conn:
        conn.exec_driver_sql("ALTER TABLE job_execution DROP COLUMN target_counts")
        conn.exec_driver_sql("UPDATE alembic_version SET version_num = '0009'")
        command.upgrade(_alembic_config(conn), "head")
    assert _stored_counts(store, ended) == {"Failed": 1, "Succeeded": 2}
    assert _stored_counts(store, canceled) is None  # a target still runs
    assert _stored_counts(store, live) is None
    assert _stored_counts(store, empty) == {}
