"""A target's log groups attempts in a row that ended alike."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlfleet.api.pages.executions import group_attempts
from sqlfleet.lifecycle import Lifecycle
from sqlfleet.model import Attempt

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def attempt(number: int, message: str | None, state: Lifecycle = Lifecycle.FAILED) -> Attempt:
    start = T0 + timedelta(seconds=10 * number)
    return Attempt(
        target_execution_id=1,
        attempt_number=number,
        agent_name=f"agent-{number % 2}",
        start_time=start,
        end_time=start + timedelta(seconds=1),
        lifecycle=state,
        message=message,
        row_count=None,
        server_messages=None,
    )


def test_identical_consecutive_attempts_make_one_entry() -> None:
    attempts = [attempt(n, "connection refused") for n in range(1, 12)]
    attempts.append(attempt(12, "division by zero"))
    attempts.append(attempt(13, None, Lifecycle.SUCCEEDED))
    groups = group_attempts(attempts, T0)
    assert [g.label for g in groups] == ["Attempts 1\u201311", "Attempt 12", "Attempt 13"]
    assert groups[0].first.message == "connection refused"
    assert groups[0].took == 101.0  # from the first one's start to the eleventh's end


def test_alike_but_apart_is_not_grouped_nor_is_a_running_attempt() -> None:
    attempts = [attempt(1, "a"), attempt(2, "b"), attempt(3, "a")]
    assert [g.label for g in group_attempts(attempts, T0)] == [
        "Attempt 1",
        "Attempt 2",
        "Attempt 3",
    ]
    unfinished = [attempt(1, "a"), attempt(2, "a")]
    unfinished[1] = Attempt(
        target_execution_id=1,
        attempt_number=2,
        agent_name=None,
        start_time=T0,
        end_time=None,
        lifecycle=Lifecycle.FAILED,
        message="a",
        row_count=None,
        server_messages=None,
    )
    assert [g.label for g in group_attempts(unfinished, T0)] == ["Attempt 1", "Attempt 2"]
