"""Lifecycle states of executions, the moves allowed between them, and the parent rollup.

The state names are the ones Elastic Jobs users know, spelled exactly as they are shown
everywhere (CLI, API, web pages, SQL views). The same enum serves job executions, step
executions and target executions; `ALLOWED_TRANSITIONS` is the union of the moves of all three,
and the store guards every move in SQL with `sources_of`.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from enum import StrEnum
from types import MappingProxyType


class Lifecycle(StrEnum):
    """The state of a job, step or target execution."""

    CREATED = "Created"
    IN_PROGRESS = "InProgress"
    WAITING_FOR_RETRY = "WaitingForRetry"
    SUCCEEDED = "Succeeded"
    SUCCEEDED_WITH_SKIPPED = "SucceededWithSkipped"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"
    CANCELED = "Canceled"
    SKIPPED = "Skipped"
    WAITING_FOR_CHILD_JOB_EXECUTIONS = "WaitingForChildJobExecutions"

    @property
    def is_terminal(self) -> bool:
        """Whether the execution is over: nothing moves it out of this state."""
        return self in TERMINAL


TERMINAL: frozenset[Lifecycle] = frozenset(
    {
        Lifecycle.SUCCEEDED,
        Lifecycle.SUCCEEDED_WITH_SKIPPED,
        Lifecycle.FAILED,
        Lifecycle.TIMED_OUT,
        Lifecycle.CANCELED,
        Lifecycle.SKIPPED,
    }
)

ACTIVE: frozenset[Lifecycle] = frozenset(Lifecycle) - TERMINAL

ALLOWED_TRANSITIONS: Mapping[Lifecycle, frozenset[Lifecycle]] = MappingProxyType(
    {
        Lifecycle.CREATED: frozenset(
            {
                Lifecycle.IN_PROGRESS,
                Lifecycle.SKIPPED,
                Lifecycle.CANCELED,
                # Step and job executions wait for their children.
                Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS,
            }
        ),
        Lifecycle.IN_PROGRESS: frozenset(
            {
                Lifecycle.WAITING_FOR_RETRY,
                Lifecycle.SUCCEEDED,
                Lifecycle.FAILED,
                Lifecycle.TIMED_OUT,
                Lifecycle.CANCELED,
                # Another agent takes over a target execution whose lease expired.
                Lifecycle.IN_PROGRESS,
                Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS,
            }
        ),
        Lifecycle.WAITING_FOR_RETRY: frozenset(
            {
                Lifecycle.IN_PROGRESS,
                Lifecycle.CANCELED,
                # The step timeout covers the waits between attempts too.
                Lifecycle.TIMED_OUT,
            }
        ),
        Lifecycle.WAITING_FOR_CHILD_JOB_EXECUTIONS: TERMINAL,
        **{state: frozenset[Lifecycle]() for state in TERMINAL},
    }
)

_SOURCES: Mapping[Lifecycle, frozenset[Lifecycle]] = MappingProxyType(
    {
        new: frozenset(old for old, targets in ALLOWED_TRANSITIONS.items() if new in targets)
        for new in Lifecycle
    }
)


def can_transition(old: Lifecycle, new: Lifecycle) -> bool:
    """Whether an execution in state `old` may move to state `new`."""
    return new in ALLOWED_TRANSITIONS[old]


def sources_of(new: Lifecycle) -> frozenset[Lifecycle]:
    """The states an execution may move to `new` from (for `UPDATE ... WHERE lifecycle IN`)."""
    return _SOURCES[new]


def rollup(children: Iterable[Lifecycle]) -> Lifecycle:
    """A parent's final state from its children's terminal states.

    Any Failed or TimedOut child makes the parent that state; when both appear, Failed wins,
    because a failure says more about the script than a timeout does and is what a user must
    look at first. Otherwise any Canceled child makes it Canceled; otherwise any Skipped or
    SucceededWithSkipped child makes it SucceededWithSkipped; otherwise (no children included)
    it is Succeeded. Raises ValueError if a child is not in a terminal state.
    """
    seen: set[Lifecycle] = set()
    for child in children:
        state = Lifecycle(child)
        if not state.is_terminal:
            raise ValueError(f"cannot roll up a child in state {state}: it is not finished")
        seen.add(state)
    for state in (Lifecycle.FAILED, Lifecycle.TIMED_OUT, Lifecycle.CANCELED):
        if state in seen:
            return state
    if seen & {Lifecycle.SKIPPED, Lifecycle.SUCCEEDED_WITH_SKIPPED}:
        return Lifecycle.SUCCEEDED_WITH_SKIPPED
    return Lifecycle.SUCCEEDED


# The states a re-run may pick targets by, and those it picks when told none.
DEFAULT_RERUN_STATES = (Lifecycle.FAILED, Lifecycle.TIMED_OUT, Lifecycle.CANCELED)
RERUN_STATES = (*DEFAULT_RERUN_STATES, Lifecycle.SKIPPED)
