"""The rollout policy's rules: waves, failure budgets, and when a step halts or moves on."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from sqlfleet import limits
from sqlfleet.engine.rollout import Halt, OpenWave, decide, failure_budget, share_of, waves
from sqlfleet.errors import InvalidValue
from sqlfleet.model import RolloutProgress, StepSettings


def _settings(**policy: object) -> StepSettings:
    return StepSettings(command="SELECT 1", target_group="g", credential="c", **policy)  # type: ignore[arg-type]


def test_canary_then_waves_in_resolution_order() -> None:
    assert waves(_settings(canary=2, wave_size="3"), 9) == [0, 0, 1, 1, 1, 2, 2, 2, 3]
    assert waves(_settings(wave_size="50%"), 5) == [0, 0, 0, 1, 1]
    assert waves(_settings(canary=3), 5) == [0, 0, 0, 1, 1]
    assert waves(_settings(canary=10, wave_size="2"), 4) == [0, 0, 0, 0]
    assert waves(_settings(max_failures="3"), 3) == [None, None, None]
    assert waves(_settings(), 2) == [None, None]


@given(st.integers(0, 20), st.one_of(st.none(), st.integers(1, 30)), st.integers(0, 300))
def test_every_target_gets_one_wave_and_waves_never_go_back(
    canary: int, size: int | None, total: int
) -> None:
    assigned = waves(_settings(canary=canary or None, wave_size=str(size) if size else None), total)
    assert len(assigned) == total
    numbers = [w for w in assigned if w is not None]
    assert numbers == sorted(numbers)
    if size and numbers:
        first = 1 if canary else 0
        assert all(assigned.count(w) <= size for w in set(numbers) if w >= first)


def test_shares_and_budgets() -> None:
    assert share_of("3", 100) == 3
    assert share_of("10%", 55) == 6  # rounded up
    assert share_of("1%", 3) == 1  # never zero
    assert failure_budget(_settings(max_failures="5%"), 200) == 10
    assert failure_budget(_settings(), 200) is None


@pytest.mark.parametrize(
    ("value", "stored"), [("20", "20"), (" 25% ", "25%"), (7, "7"), ("100%", "100%")]
)
def test_a_share_is_n_or_a_percentage(value: object, stored: str) -> None:
    assert limits.STEP_SETTING["wave_size"].check(value) == stored


@pytest.mark.parametrize("value", ["0", "0%", "101%", "ten", "5%%", "-1", "", True, 2.5])
def test_a_bad_share_is_refused_with_its_name(value: object) -> None:
    with pytest.raises(InvalidValue, match="max_failures"):
        limits.STEP_SETTING["max_failures"].check(value)


def test_retry_on_is_all_or_transient() -> None:
    assert limits.STEP_SETTING["retry_on"].check("transient") == "transient"
    with pytest.raises(InvalidValue, match="retry_on must be 'all' or 'transient'"):
        limits.STEP_SETTING["retry_on"].check("some")


def _progress(settings: StepSettings, **fields: object) -> RolloutProgress:
    values: dict[str, object] = {
        "step_execution_id": 1,
        "settings": settings,
        "total": 10,
        "open_wave": 0,
        "unfinished_by_wave": {},
        "failed": 0,
        "canary_failed": 0,
        "not_started": 5,
    }
    values.update(fields)
    return RolloutProgress(**values)  # type: ignore[arg-type]


def test_a_failed_canary_halts_the_step() -> None:
    move = decide(_progress(_settings(canary=2), failed=1, canary_failed=1))
    assert isinstance(move, Halt)
    assert move.message.startswith("not started: 1 of the 2 canary")


def test_the_budget_halts_when_reached() -> None:
    settings = _settings(max_failures="3")
    assert decide(_progress(settings, failed=2, open_wave=None)) is None
    move = decide(_progress(settings, failed=3, open_wave=None))
    assert isinstance(move, Halt)
    assert "max_failures=3" in move.message


def test_the_next_wave_opens_when_the_open_ones_have_ended() -> None:
    settings = _settings(wave_size="2", wave_pause_seconds=5)
    assert decide(_progress(settings, unfinished_by_wave={0: 1, 1: 2, 2: 2})) is None
    assert decide(_progress(settings, unfinished_by_wave={1: 2, 2: 2})) == OpenWave(1, 5)
    assert decide(_progress(settings, open_wave=1, unfinished_by_wave={1: 2, 2: 2})) is None
    assert decide(_progress(settings, not_started=0, unfinished_by_wave={1: 1})) is None
