"""The JobStore's contract for executions, with an injected clock, on SQLite and PostgreSQL."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from sqlfleet.errors import InvalidValue
from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import Target
from sqlfleet.secrets import Secret
from sqlfleet.store import ClaimedTarget, JobStore, Outcome

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
