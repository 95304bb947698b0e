"""Re-runs: which end states of an earlier execution's targets may be run again."""

from __future__ import annotations

from collections.abc import Iterable

from sqlfleet.errors import InvalidValue
from sqlfleet.lifecycle import RERUN_STATES, Lifecycle


def check_rerun_states(states: Iterable[Lifecycle | str]) -> list[Lifecycle]:
    """The states as Lifecycle values; InvalidValue for one that cannot be re-run."""
    allowed = {s.value: s for s in RERUN_STATES}
    checked = []
    for state in states:
        name = state.value if isinstance(state, Lifecycle) else state
        if name not in allowed:
            raise InvalidValue(
                f"cannot re-run targets that ended {name!r}: choose from {', '.join(allowed)}"
            )
        checked.append(allowed[name])
    if not checked:
        raise InvalidValue(f"name the states to re-run: {', '.join(allowed)}")
    return checked
