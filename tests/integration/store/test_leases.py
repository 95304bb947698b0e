"""The JobStore's lease contract, with an injected clock, on SQLite and PostgreSQL.

Nothing stays InProgress past its lease: an expired target is not busy, whoever looks for work
first takes it back, a stop ends it at once, and an agent that takes a dead agent's name
first takes back what the dead one held. Claims that never started are not attempts.
"""

from __future__ import annotations

import subprocess
from datetime import UTC, datetime, timedelta

import pytest

from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import Target
from sqlfleet.secrets import Secret
from sqlfleet.store import JobStore

T0 = datetime(2026, 11, 21, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
AFTER_LEASE = T0 + LEASE + timedelta(seconds=1)
SERVER = "postgresql://127.0.0.1:5432"
MAY_HAVE_COMPLETED = "stopped answering; the attempt may have completed"


@pytest.fixture
def store(fleet: Fleet) -> JobStore:
    """A job of one step on a group of one server."""
    fleet.add_credential("c", "u", Secret("s"))
    fleet.add_target_group("g")
    fleet.add_member("g", server=SERVER)
    fleet.add_job("j")
    fleet.add_step("j", "one", command="SELECT 1", target_group="g", credential="c")
    return fleet.store


def _start(store: JobStore, now: datetime, databases: list[str]) -> int:
    """A new execution of the job whose step has these target databases."""
    execution_id = store.create_execution("j", trigger="test", now=now)
    step = store.claim_step_start("resolver", now=now, lease=LEASE)
    assert step is not None and step.job_execution_id == execution_id
    assert store.add_targets(step, "resolver", [Target(SERVER, d) for d in databases], now=now)
    return execution_id


def _states(store: JobStore, execution_id: int) -> dict[str, str]:
    return {
        t.target_database_name: t.lifecycle.value
        for t in store.list_target_executions(execution_id)
    }


def _dead_pid() -> int:
    """The pid of a process that has ended."""
    process = subprocess.Popen(["true"])
    process.wait()
    return process.pid


def test_a_target_past_its_lease_is_not_busy(store: JobStore) -> None:
    _start(store, T0, ["db0", "db1"])
    claimed = store.claim_targets("dead", 10, now=T0, lease=LEASE)
    assert len(claimed) == 2
    store.extend_leases("dead", until=T0 + 2 * LEASE)  # db0 and db1: live until T0 + 2 leases
    live = _start(store, T0 + LEASE, ["db0"])
    assert _states(store, live) == {"db0": "Skipped"}
    expired = _start(store, T0 + 2 * LEASE + timedelta(seconds=1), ["db0", "db1"])
    assert _states(store, expired) == {"db0": "Created", "db1": "Created"}


def test_whoever_claims_first_takes_an_expired_target_over(store: JobStore) -> None:
    first = _start(store, T0, ["db0"])
    [lost] = store.claim_targets("dead", 10, now=T0, lease=LEASE)
    other = _start(store, T0, ["x"])
    # A claim limited to another execution (what `sqlfleet run` does) still takes it back.
    store.claim_targets("run", 10, now=AFTER_LEASE, lease=LEASE, job_execution_id=other)
    [target] = store.list_target_executions(first)
    assert target.lifecycle is Lifecycle.WAITING_FOR_RETRY and target.agent_name is None
    assert target.last_message is not None and MAY_HAVE_COMPLETED in target.last_message
    [again] = store.claim_targets("b", 10, now=AFTER_LEASE, lease=LEASE)
    assert again.id == lost.id and again.attempt_number == 2
    [attempt] = store.list_attempts(lost.id)
    assert attempt.agent_name == "dead" and attempt.attempt_number == 1
    assert attempt.message is not None and f"agent dead {MAY_HAVE_COMPLETED}" in attempt.message


def test_stop_ends_targets_of_a_dead_agent_at_once(store: JobStore) -> None:
    execution_id = _start(store, T0, ["db0", "db1", "db2"])
    store.claim_targets("dead", 2, now=T0, lease=LEASE)
    store.claim_targets("alive", 1, now=T0 + LEASE, lease=LEASE)
    store.cancel_execution(execution_id, now=AFTER_LEASE)
    assert store.get_execution(execution_id).lifecycle is Lifecycle.CANCELED
    states = _states(store, execution_id)
    assert sorted(states.values()) == ["Canceled", "Canceled", "InProgress"]
    for target in store.list_target_executions(execution_id):
        if target.lifecycle is Lifecycle.CANCELED:
            [attempt] = store.list_attempts(target.id)
            assert attempt.lifecycle is Lifecycle.CANCELED and attempt.message is not None
            assert MAY_HAVE_COMPLETED in attempt.message
    # The live lease is the agent's to cancel; if it dies too, the next claim ends it.
    assert store.canceled_running_targets("alive")
    store.claim_targets("b", 10, now=T0 + 2 * LEASE + timedelta(seconds=1), lease=LEASE)
    assert set(_states(store, execution_id).values()) == {"Canceled"}


def test_an_agent_under_a_dead_agents_name_takes_back_its_claims(store: JobStore) -> None:
    register = {"hostname": "here", "concurrency": 10, "stale_after": LEASE}
    store.register_agent("a", pid=_dead_pid(), now=T0, **register)  # type: ignore[arg-type]
    execution_id = _start(store, T0, ["db0", "db1"])
    claimed = store.claim_targets("a", 10, now=T0, lease=LEASE)
    # Restarted at once under the same name, on the same host: the old process is gone.
    store.register_agent(
        "a",
        pid=_dead_pid(),
        now=T0 + timedelta(seconds=1),
        **register,  # type: ignore[arg-type]
    )
    store.extend_leases("a", until=T0 + 10 * LEASE)  # the new "a" renews nothing of the old
    again = store.claim_targets("b", 10, now=T0 + timedelta(seconds=2), lease=LEASE)
    assert sorted(c.id for c in again) == sorted(c.id for c in claimed)
    assert {c.attempt_number for c in again} == {2}
    for target in store.list_target_executions(execution_id):
        [attempt] = store.list_attempts(target.id)
        assert attempt.message is not None and f"agent a {MAY_HAVE_COMPLETED}" in attempt.message


def test_a_claim_released_before_it_started_is_not_an_attempt(store: JobStore) -> None:
    execution_id = _start(store, T0, ["db0", "db1"])
    claimed = store.claim_targets("a", 10, now=T0, lease=LEASE)
    waiting, running = sorted(claimed, key=lambda c: c.target.database)
    store.release_targets("a", now=T0, message="agent a shut down", not_started=[waiting.id])
    targets = {t.target_database_name: t for t in store.list_target_executions(execution_id)}
    assert targets["db0"].current_attempts == 0 and targets["db0"].start_time is None
    assert store.list_attempts(waiting.id) == []
    assert targets["db1"].current_attempts == 1
    assert [a.lifecycle for a in store.list_attempts(running.id)] == [Lifecycle.CANCELED]
    # Claimed again, then canceled while waiting for a slot: still no attempt.
    again = {c.id: c for c in store.claim_targets("a", 10, now=T0, lease=LEASE)}
    assert again[waiting.id].attempt_number == 1
    store.record_outcomes(
        "a",
        [again[waiting.id].ended(Lifecycle.CANCELED, T0, "canceled", started=False)],
        now=T0,
    )
    [target] = [t for t in store.list_target_executions(execution_id) if t.id == waiting.id]
    assert target.lifecycle is Lifecycle.CANCELED and target.current_attempts == 0
    assert store.list_attempts(waiting.id) == []
