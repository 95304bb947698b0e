"""Lifecycle states: exact names, terminal states, allowed moves, and the parent rollup."""

from __future__ import annotations

import itertools
import random

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlfleet.lifecycle import (
    ACTIVE,
    ALLOWED_TRANSITIONS,
    TERMINAL,
    Lifecycle,
    can_transition,
    rollup,
    sources_of,
)

L = Lifecycle
terminal_states = st.sampled_from(sorted(TERMINAL))


@pytest.mark.parametrize(
    ("state", "name"),
    [
        (L.CREATED, "Created"),
        (L.IN_PROGRESS, "InProgress"),
        (L.WAITING_FOR_RETRY, "WaitingForRetry"),
        (L.SUCCEEDED, "Succeeded"),
        (L.SUCCEEDED_WITH_SKIPPED, "SucceededWithSkipped"),
        (L.FAILED, "Failed"),
        (L.TIMED_OUT, "TimedOut"),
        (L.CANCELED, "Canceled"),
        (L.SKIPPED, "Skipped"),
        (L.WAITING_FOR_CHILD_JOB_EXECUTIONS, "WaitingForChildJobExecutions"),
    ],
)
def test_state_names_are_the_elastic_jobs_names(state: Lifecycle, name: str) -> None:
    assert state == name
    assert str(state) == name
    assert f"{state}" == name
    assert Lifecycle(name) is state


def test_there_are_exactly_ten_states() -> None:
    assert len(Lifecycle) == 10


def test_terminal_states() -> None:
    assert {
        L.SUCCEEDED,
        L.SUCCEEDED_WITH_SKIPPED,
        L.FAILED,
        L.TIMED_OUT,
        L.CANCELED,
        L.SKIPPED,
    } == TERMINAL


def test_active_states_are_the_others() -> None:
    waiting = {L.WAITING_FOR_RETRY, L.WAITING_FOR_CHILD_JOB_EXECUTIONS}
    assert {L.CREATED, L.IN_PROGRESS, *waiting} == ACTIVE
    assert not ACTIVE & TERMINAL
    assert set(Lifecycle) == ACTIVE | TERMINAL


@pytest.mark.parametrize("state", list(Lifecycle))
def test_is_terminal_agrees_with_terminal(state: Lifecycle) -> None:
    assert state.is_terminal is (state in TERMINAL)


# -- rollup -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("children", "parent"),
    [
        ([], L.SUCCEEDED),
        ([L.SUCCEEDED], L.SUCCEEDED),
        ([L.SUCCEEDED, L.SUCCEEDED, L.SUCCEEDED], L.SUCCEEDED),
        ([L.FAILED], L.FAILED),
        ([L.TIMED_OUT], L.TIMED_OUT),
        ([L.CANCELED], L.CANCELED),
        ([L.SKIPPED], L.SUCCEEDED_WITH_SKIPPED),
        ([L.SUCCEEDED_WITH_SKIPPED], L.SUCCEEDED_WITH_SKIPPED),
        ([L.SUCCEEDED, L.SKIPPED], L.SUCCEEDED_WITH_SKIPPED),
        ([L.SUCCEEDED, L.SUCCEEDED_WITH_SKIPPED], L.SUCCEEDED_WITH_SKIPPED),
        ([L.SUCCEEDED, L.FAILED], L.FAILED),
        ([L.SUCCEEDED, L.TIMED_OUT], L.TIMED_OUT),
        ([L.FAILED, L.TIMED_OUT], L.FAILED),
        ([L.TIMED_OUT, L.FAILED], L.FAILED),
        ([L.TIMED_OUT, L.CANCELED], L.TIMED_OUT),
        ([L.FAILED, L.CANCELED], L.FAILED),
        ([L.CANCELED, L.SKIPPED], L.CANCELED),
        ([L.CANCELED, L.SUCCEEDED], L.CANCELED),
        ([L.SKIPPED, L.SKIPPED], L.SUCCEEDED_WITH_SKIPPED),
        ([L.SKIPPED, L.TIMED_OUT, L.CANCELED, L.SUCCEEDED], L.TIMED_OUT),
    ],
)
def test_rollup(children: list[Lifecycle], parent: Lifecycle) -> None:
    assert rollup(children) is parent


def test_rollup_accepts_any_iterable_once() -> None:
    assert rollup(state for state in [L.SUCCEEDED, L.SKIPPED]) is L.SUCCEEDED_WITH_SKIPPED
    assert rollup(iter([L.FAILED])) is L.FAILED


def test_rollup_accepts_state_names() -> None:
    assert rollup(["Succeeded", "Failed"]) is L.FAILED  # type: ignore[list-item]


@pytest.mark.parametrize("active", sorted(ACTIVE))
def test_rollup_refuses_a_child_that_is_not_finished(active: Lifecycle) -> None:
    with pytest.raises(ValueError, match=f"in state {active}: it is not finished"):
        rollup([L.SUCCEEDED, active])


def test_rollup_refuses_a_name_that_is_no_state() -> None:
    with pytest.raises(ValueError):
        rollup(["Done"])  # type: ignore[list-item]


@given(st.lists(terminal_states))
def test_rollup_is_terminal_and_never_skipped(children: list[Lifecycle]) -> None:
    parent = rollup(children)
    assert parent.is_terminal
    assert parent is not L.SKIPPED


@given(st.lists(terminal_states), st.randoms())
def test_rollup_ignores_order(children: list[Lifecycle], rng: random.Random) -> None:
    shuffled = list(children)
    rng.shuffle(shuffled)
    assert rollup(shuffled) is rollup(children)


@given(st.lists(terminal_states), st.lists(terminal_states))
def test_rollup_of_parts_equals_rollup_of_whole(
    first: list[Lifecycle], second: list[Lifecycle]
) -> None:
    # A job execution rolled up from its steps equals one rolled up from all their targets.
    assert rollup([rollup(first), rollup(second)]) is rollup(first + second)


@given(st.lists(terminal_states), st.sampled_from([L.FAILED, L.TIMED_OUT]))
def test_one_failure_makes_the_parent_fail(children: list[Lifecycle], bad: Lifecycle) -> None:
    assert rollup([*children, bad]) in {L.FAILED, L.TIMED_OUT}


@given(st.lists(terminal_states))
def test_duplicates_do_not_matter(children: list[Lifecycle]) -> None:
    assert rollup(children + children) is rollup(set(children))


# -- transitions --------------------------------------------------------------------------

ALLOWED = {
    (L.CREATED, L.IN_PROGRESS),
    (L.CREATED, L.SKIPPED),
    (L.CREATED, L.CANCELED),
    (L.CREATED, L.WAITING_FOR_CHILD_JOB_EXECUTIONS),
    (L.IN_PROGRESS, L.WAITING_FOR_RETRY),
    (L.IN_PROGRESS, L.SUCCEEDED),
    (L.IN_PROGRESS, L.FAILED),
    (L.IN_PROGRESS, L.TIMED_OUT),
    (L.IN_PROGRESS, L.CANCELED),
    (L.IN_PROGRESS, L.IN_PROGRESS),
    (L.IN_PROGRESS, L.WAITING_FOR_CHILD_JOB_EXECUTIONS),
    (L.WAITING_FOR_RETRY, L.IN_PROGRESS),
    (L.WAITING_FOR_RETRY, L.CANCELED),
    (L.WAITING_FOR_RETRY, L.TIMED_OUT),
    *((L.WAITING_FOR_CHILD_JOB_EXECUTIONS, state) for state in TERMINAL),
}


@pytest.mark.parametrize(("old", "new"), list(itertools.product(Lifecycle, repeat=2)))
def test_can_transition_matches_the_table(old: Lifecycle, new: Lifecycle) -> None:
    assert can_transition(old, new) is ((old, new) in ALLOWED)


def test_allowed_transitions_has_every_state() -> None:
    assert set(ALLOWED_TRANSITIONS) == set(Lifecycle)


@pytest.mark.parametrize("state", sorted(TERMINAL))
def test_nothing_leaves_a_terminal_state(state: Lifecycle) -> None:
    assert ALLOWED_TRANSITIONS[state] == frozenset()


def test_nothing_goes_back_to_created() -> None:
    assert sources_of(L.CREATED) == frozenset()


def test_lease_takeover_keeps_in_progress() -> None:
    assert can_transition(L.IN_PROGRESS, L.IN_PROGRESS)


def test_a_target_cannot_fail_while_waiting_for_retry() -> None:
    # Failed is only reached from the last attempt, which is InProgress.
    assert not can_transition(L.WAITING_FOR_RETRY, L.FAILED)
    assert not can_transition(L.WAITING_FOR_RETRY, L.SUCCEEDED)


def test_sources_for_the_store_guards() -> None:
    assert sources_of(L.IN_PROGRESS) == {L.CREATED, L.IN_PROGRESS, L.WAITING_FOR_RETRY}
    assert sources_of(L.CANCELED) == {
        L.CREATED,
        L.IN_PROGRESS,
        L.WAITING_FOR_RETRY,
        L.WAITING_FOR_CHILD_JOB_EXECUTIONS,
    }
    assert sources_of(L.SKIPPED) == {L.CREATED, L.WAITING_FOR_CHILD_JOB_EXECUTIONS}
    assert sources_of(L.SUCCEEDED_WITH_SKIPPED) == {L.WAITING_FOR_CHILD_JOB_EXECUTIONS}
    assert sources_of(L.WAITING_FOR_RETRY) == {L.IN_PROGRESS}
    assert sources_of(L.TIMED_OUT) == {
        L.IN_PROGRESS,
        L.WAITING_FOR_RETRY,
        L.WAITING_FOR_CHILD_JOB_EXECUTIONS,
    }


@pytest.mark.parametrize("new", list(Lifecycle))
def test_sources_of_is_the_inverse_of_the_table(new: Lifecycle) -> None:
    assert sources_of(new) == {old for old in Lifecycle if can_transition(old, new)}


@pytest.mark.parametrize("new", list(Lifecycle))
def test_sources_of_never_holds_a_terminal_state(new: Lifecycle) -> None:
    assert not sources_of(new) & TERMINAL


@pytest.mark.parametrize("state", list(Lifecycle))
def test_every_state_can_end(state: Lifecycle) -> None:
    reachable = {state}
    frontier = [state]
    while frontier:
        for following in ALLOWED_TRANSITIONS[frontier.pop()]:
            if following not in reachable:
                reachable.add(following)
                frontier.append(following)
    assert reachable & TERMINAL


def test_every_state_is_reachable_from_created() -> None:
    reachable = {L.CREATED}
    frontier = [L.CREATED]
    while frontier:
        for following in ALLOWED_TRANSITIONS[frontier.pop()]:
            if following not in reachable:
                reachable.add(following)
                frontier.append(following)
    assert reachable == set(Lifecycle)


def test_the_table_cannot_be_changed() -> None:
    with pytest.raises(TypeError):
        ALLOWED_TRANSITIONS[L.FAILED] = frozenset({L.CREATED})  # type: ignore[index]
