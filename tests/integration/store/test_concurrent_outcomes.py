"""Agents that record the last outcomes of a step at the same moment finish it between them.

On a PostgreSQL job database each agent records its outcomes in a transaction of its own:
two agents writing a step's last two outcomes at once must not each see the other's target
still running and leave the step, and its execution, unfinished for ever.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Connection

from sqlfleet.fleet import Fleet
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import Target
from sqlfleet.secrets import Secret
from sqlfleet.store.executions import ExecutionStore

T0 = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
LEASE = timedelta(seconds=60)
SERVER = "postgresql://127.0.0.1:5432"


def test_two_agents_recording_a_steps_last_outcomes_at_once_finish_it(
    pg_job_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    Fleet.init(pg_job_db)
    with Fleet.open(pg_job_db) as fleet, Fleet.open(pg_job_db) as other:
        fleet.add_credential("c", "u", Secret("s"))
        fleet.add_target_group("g")
        fleet.add_member("g", server=SERVER)
        fleet.add_job("j")
        fleet.add_step("j", "one", command="SELECT 1", target_group="g", credential="c")
        a, b = fleet.store, other.store
        execution_id = a.create_execution("j", trigger="test", now=T0)
        step = a.claim_step_start("a", now=T0, lease=LEASE)
        assert step is not None
        assert a.add_targets(step, "a", [Target(SERVER, "db0"), Target(SERVER, "db1")], now=T0)
        (mine,) = a.claim_targets("a", 1, now=T0, lease=LEASE)
        (theirs,) = b.claim_targets("b", 1, now=T0, lease=LEASE)

        # Each agent looks at the step only once both have written their outcome (and neither
        # has committed it): the moment that left the step unfinished.
        both_written = threading.Barrier(2, timeout=30)
        finish_steps = ExecutionStore._finish_steps

        def after_both_wrote(
            self: ExecutionStore, conn: Connection, ids: Iterable[int], now: datetime
        ) -> Any:
            both_written.wait()
            return finish_steps(self, conn, ids, now)

        monkeypatch.setattr(ExecutionStore, "_finish_steps", after_both_wrote)
        with ThreadPoolExecutor(2) as pool:
            by_a = pool.submit(
                a.record_outcomes, "a", [mine.ended(Lifecycle.SUCCEEDED, T0)], now=T0
            )
            by_b = pool.submit(
                b.record_outcomes, "b", [theirs.ended(Lifecycle.SUCCEEDED, T0)], now=T0
            )
            ended = by_a.result(timeout=60) | by_b.result(timeout=60)
        assert ended == {step.step_execution_id}
        execution = fleet.get_execution(execution_id)
        assert execution.lifecycle is Lifecycle.SUCCEEDED
        assert execution.target_counts == {"Succeeded": 2}
